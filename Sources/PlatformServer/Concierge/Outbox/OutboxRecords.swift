import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// An email or text to queue, as the change that wants it sent describes it:
/// ```swift
/// try await database.withTenant(tenantID) { tx in
///     // ... the change itself ...
///     try await OutboxRecords.enqueue(.email(
///         to: owner.email, subject: "Welcome to ServicePro", body: text,
///         purpose: "welcome", dedupeKey: "welcome/\(tenantID)"), tx)   // once per tenant, however often the change runs
/// }
/// ```
struct OutboxDraft: Sendable {
    var channel: OutboxChannel
    /// An email address or an E.164 number.
    var recipient: String
    /// What the message is, e.g. "onboarding"; shown in listings.
    var purpose: String
    /// Email only.
    var subject: String
    var body: String
    /// Texts only: the tenant's number or Messaging Service SID, or "" for the platform's sender.
    var sender = ""
    /// At most one message per tenant and key is ever queued: a retried request that enqueues
    /// again gets the first message back. Nil for no deduplication.
    var dedupeKey: String?

    static func email(to recipient: String, subject: String, body: String, purpose: String, dedupeKey: String? = nil) -> OutboxDraft {
        OutboxDraft(channel: .email, recipient: recipient, purpose: purpose, subject: subject, body: body, dedupeKey: dedupeKey)
    }

    /// `sender` is who the text comes from: a tenant's number or Messaging Service SID, or ""
    /// for the platform's own (onboarding, say).
    static func sms(to recipient: String, from sender: String = "", body: String, purpose: String, dedupeKey: String? = nil) -> OutboxDraft {
        OutboxDraft(channel: .sms, recipient: recipient, purpose: purpose, subject: "", body: body, sender: sender, dedupeKey: dedupeKey)
    }
}

/// An outbox message as stored.
struct OutboxRecord: Sendable {
    var tenantID: String
    var messageID: String
    var channel: OutboxChannel
    var recipient: String
    var purpose: String
    var subject: String
    /// Erased once the message is delivered or failed: it may carry a login link.
    var body: String
    var sender: String
    var state: OutboxMessageState
    /// Attempts started, counting the one a worker holds the lease for.
    var attempts: Int
    var nextAttemptTime: Date?
    var lastError: String
    var providerMessageID: String
    /// What the message is queued under, once per tenant; nil when it is not deduplicated.
    var dedupeKey: String?
    var createTime: Date
    var updateTime: Date
    var deliverTime: Date?

    var name: String { OutboxRecords.name(tenantID: tenantID, messageID: messageID) }

    var message: OutboxMessage {
        OutboxMessage.with {
            $0.name = name
            $0.channel = channel
            $0.recipient = recipient
            $0.purpose = purpose
            $0.subject = subject
            $0.sender = sender
            $0.state = state
            $0.attempts = Int32(clamping: attempts)
            $0.lastError = lastError
            if let nextAttemptTime, state == .pending {
                $0.nextAttemptTime = Google_Protobuf_Timestamp(date: nextAttemptTime)
            }
            $0.providerMessageID = providerMessageID
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            $0.updateTime = Google_Protobuf_Timestamp(date: updateTime)
            if let deliverTime { $0.deliverTime = Google_Protobuf_Timestamp(date: deliverTime) }
        }
    }
}

/// How a delivery attempt ended, as the lease holder records it.
enum OutboxOutcome: Sendable, Equatable {
    /// The provider accepted the message; its id for it (empty when it named none).
    case delivered(providerMessageID: String)
    /// Worth another attempt at `at`.
    case retry(error: String, at: Date)
    /// The provider refused the platform's own credentials: the message waits for an operator to
    /// mend them, tried again at `at`, and the attempt does not count against its limit.
    case awaitOperator(error: String, at: Date)
    /// Not to be sent before `until`, for a reason of the message's own (an automation text
    /// waiting for the business's morning); the attempt does not count against its limit.
    case deferred(reason: String, until: Date)
    /// Never worth another attempt.
    case failed(error: String)
    /// Not sent, as it no longer holds (an automation text whose booking was cancelled): failed,
    /// in the course of business rather than for a fault.
    case withdrawn(reason: String)
}

/// The outbox in the store: queued inside the transaction of the change that wants a message
/// sent, so the message exists exactly when the change does; claimed, finished and listed
/// platform-wide by the worker and the handler.
enum OutboxRecords {
    static let table = "outbox_messages"
    /// Provider answers can be long; what is kept is enough to say why.
    static let maxErrorLength = 1_000
    /// Twilio refuses longer bodies (ten segments' worth).
    static let maxTextLength = 1_600

    static let migration = Migration(
        version: 8,
        name: "outbox",
        statements: [
            // `dedupe_key` is NULL when the caller asked for no deduplication, which the unique
            // index ignores. `next_attempt_time` is when a pending message is due; the lease says
            // which worker is sending it until when.
            """
            CREATE TABLE outbox_messages (
                tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                message_id TEXT NOT NULL,
                channel TEXT NOT NULL,
                recipient TEXT NOT NULL,
                purpose TEXT NOT NULL DEFAULT '',
                subject TEXT NOT NULL DEFAULT '',
                body TEXT NOT NULL DEFAULT '',
                dedupe_key TEXT,
                state TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                next_attempt_time BIGINT,
                last_error TEXT NOT NULL DEFAULT '',
                provider_message_id TEXT NOT NULL DEFAULT '',
                lease_owner TEXT,
                lease_expire_time BIGINT,
                create_time BIGINT NOT NULL,
                update_time BIGINT NOT NULL,
                deliver_time BIGINT,
                PRIMARY KEY (tenant_id, message_id)
            )
            """,
            "CREATE UNIQUE INDEX outbox_messages_by_dedupe_key ON outbox_messages (tenant_id, dedupe_key)",
            "CREATE INDEX outbox_messages_by_time ON outbox_messages (tenant_id, create_time DESC, message_id)",
            // `tenants/-` lists every tenant's messages by time.
            "CREATE INDEX outbox_messages_by_platform_time ON outbox_messages (create_time DESC, message_id)",
            // What the worker looks for: pending and due, or sending with a lapsed lease.
            "CREATE INDEX outbox_messages_by_due ON outbox_messages (state, next_attempt_time)",
        ],
        tenantOwnedTables: ["outbox_messages"]
    )

    /// Texts from a tenant's own number (what an IVR caller asked to be sent).
    static let senderMigration = Migration(
        version: 11,
        name: "outbox_sender",
        statements: ["ALTER TABLE outbox_messages ADD COLUMN sender TEXT NOT NULL DEFAULT ''"],
        tenantOwnedTables: [])

    static func name(tenantID: String, messageID: String) -> String { "tenants/\(tenantID)/outboxMessages/\(messageID)" }

    /// Queues `draft` in the caller's transaction: it is sent only if that transaction commits,
    /// and it is gone with it if it rolls back. With a `dedupeKey` already used by this tenant,
    /// nothing new is queued and the first message is returned.
    ///
    /// Throws INVALID_ARGUMENT naming `channel`, `recipient`, `subject` or `body` when the draft
    /// could never be delivered.
    @discardableResult
    static func enqueue(_ draft: OutboxDraft, _ tx: TenantTransaction, now: Date = Date()) async throws -> OutboxMessage {
        let recipient = draft.recipient.trimmingCharacters(in: .whitespacesAndNewlines)
        let subject = draft.subject.trimmingCharacters(in: .whitespacesAndNewlines)
        switch draft.channel {
        case .email:
            guard Self.isEmailAddress(recipient) else {
                throw ServiceError.invalidArgument(field: "recipient", "must be an email address for an email")
            }
            guard !subject.isEmpty else { throw ServiceError.invalidArgument(field: "subject", "is required for an email") }
        case .sms:
            guard PhoneNumber.isE164(recipient) else {
                throw ServiceError.invalidArgument(field: "recipient", "must be an E.164 number for a text")
            }
            guard draft.body.count <= maxTextLength else {
                throw ServiceError.invalidArgument(field: "body", "must be at most \(maxTextLength) characters for a text")
            }
        default:
            throw ServiceError.invalidArgument(field: "channel", "must be email or sms")
        }
        guard !draft.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ServiceError.invalidArgument(field: "body", "is required")
        }
        let dedupeKey = draft.dedupeKey.flatMap { $0.isEmpty ? nil : $0 }
        let messageID = Tokens.id(bytes: 10)
        // A concurrent transaction queueing the same key makes this one wait for it, then skip.
        let inserted = try await tx.base.query("""
            INSERT INTO outbox_messages (
                tenant_id, message_id, channel, recipient, purpose, subject, body, sender, dedupe_key,
                state, attempts, next_attempt_time, create_time, update_time)
            VALUES (
                \(tx.tenantID), \(messageID), \(draft.channel.storedName), \(recipient), \(draft.purpose), \(subject), \(draft.body),
                \(draft.sender), \(dedupeKey), \(OutboxMessageState.pending.storedName), 0, \(now), \(now), \(now))
            ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
            RETURNING *
            """)
        if let row = inserted.first { return try record(from: row).message }
        guard let dedupeKey,
              let first = try await tx.select(from: table, where: "dedupe_key = \(dedupeKey)").first
        else { throw ServiceError.internal("outbox message \(messageID) was neither inserted nor a duplicate") }
        return try record(from: first).message
    }

    static func find(messageID: String, _ tx: TenantTransaction) async throws -> OutboxRecord? {
        try await tx.select(from: table, where: "message_id = \(messageID)").first.map(record(from:))
    }

    /// The tenant's message queued with `dedupeKey`, if any.
    static func find(dedupeKey: String, _ tx: TenantTransaction) async throws -> OutboxRecord? {
        try await tx.select(from: table, where: "dedupe_key = \(dedupeKey)").first.map(record(from:))
    }

    /// Leases up to `limit` messages no live worker holds: pending ones that are due, and ones a
    /// worker stopped sending without recording how it ended (its lease ran out). Each claim
    /// counts as an attempt. The condition is checked again on every row the UPDATE takes, so of
    /// two workers racing for a message only one gets it; on PostgreSQL the second skips rows the
    /// first has locked instead of waiting for them.
    static func claim(worker: String, now: Date, lease: TimeInterval, limit: Int, _ tx: any SQLTransaction) async throws -> [OutboxRecord] {
        let available: SQLStatement = """
            ((state = 'pending' AND next_attempt_time <= \(now)) OR (state = 'sending' AND lease_expire_time < \(now)))
            """
        let rows = try await tx.query("""
            WITH picked AS MATERIALIZED (
                SELECT tenant_id, message_id FROM outbox_messages WHERE \(available)
                ORDER BY next_attempt_time, create_time LIMIT \(limit)\(raw: tx.dialect.skipLocked()))
            UPDATE outbox_messages SET state = 'sending', lease_owner = \(worker), lease_expire_time = \(now.addingTimeInterval(lease)),
                attempts = attempts + 1, update_time = \(now)
            WHERE \(available) AND (tenant_id, message_id) IN (SELECT tenant_id, message_id FROM picked)
            RETURNING *
            """)
        return try rows.map(record(from:)).sorted { ($0.nextAttemptTime ?? $0.createTime) < ($1.nextAttemptTime ?? $1.createTime) }
    }

    /// Records how the attempt `message` was claimed for ended. Only that claim's holder can: false
    /// when the lease was lost meanwhile (it ran out and another worker took the message), and the
    /// other worker's outcome stands.
    static func finish(_ message: OutboxRecord, worker: String, outcome: OutboxOutcome, now: Date, _ tx: any SQLTransaction) async throws -> Bool {
        let assignments: SQLStatement
        switch outcome {
        case .delivered(let providerMessageID):
            // The body goes: it may carry a login link, and it is never shown. Who it went to and
            // from are what was sent, which an automation text works out again as it goes; a
            // customer's answer is matched to the text by them.
            assignments = """
                state = 'delivered', provider_message_id = \(providerMessageID), deliver_time = \(now),
                next_attempt_time = NULL, body = '', recipient = \(message.recipient), sender = \(message.sender)
                """
        case .retry(let error, let next):
            assignments = "state = 'pending', last_error = \(error.truncated(to: maxErrorLength)), next_attempt_time = \(next)"
        case .awaitOperator(let error, let next), .deferred(let error, let next):
            assignments = "state = 'pending', last_error = \(error.truncated(to: maxErrorLength)), next_attempt_time = \(next), attempts = attempts - 1"
        case .failed(let error):
            assignments = "state = 'failed', last_error = \(error.truncated(to: maxErrorLength)), next_attempt_time = NULL, body = ''"
        case .withdrawn(let reason):
            assignments = "state = 'failed', last_error = \("not sent: \(reason)".truncated(to: maxErrorLength)), next_attempt_time = NULL, body = ''"
        }
        return try await tx.query("""
            UPDATE outbox_messages SET \(assignments), lease_owner = NULL, lease_expire_time = NULL, update_time = \(now)
            WHERE tenant_id = \(message.tenantID) AND message_id = \(message.messageID)
              AND state = 'sending' AND lease_owner = \(worker) AND attempts = \(message.attempts)
            RETURNING 1 AS finished
            """).count == 1
    }

    static func record(from row: SQLRow) throws -> OutboxRecord {
        OutboxRecord(
            tenantID: try row.string("tenant_id"),
            messageID: try row.string("message_id"),
            channel: OutboxChannel(storedName: try row.string("channel")),
            recipient: try row.string("recipient"),
            purpose: try row.string("purpose"),
            subject: try row.string("subject"),
            body: try row.string("body"),
            sender: try row.string("sender"),
            state: OutboxMessageState(storedName: try row.string("state")),
            attempts: Int(try row.int("attempts")),
            nextAttemptTime: try row.optionalDate("next_attempt_time"),
            lastError: try row.string("last_error"),
            providerMessageID: try row.string("provider_message_id"),
            dedupeKey: try row.optionalString("dedupe_key"),
            createTime: try row.date("create_time"),
            updateTime: try row.date("update_time"),
            deliverTime: try row.optionalDate("deliver_time"))
    }

    /// Enough to catch a name, a phone number or an empty field given for an address; whether the
    /// mailbox exists is the provider's to say.
    static func isEmailAddress(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !value.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," })
    }
}

extension OutboxChannel: StoredEnum {}
extension OutboxMessageState: StoredEnum {}
