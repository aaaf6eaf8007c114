import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// The message log and call log of a tenant. Rows are keyed by Twilio's MessageSid / CallSid
/// (unique across the platform), which makes every inbound webhook idempotent.
enum CommunicationRecords {
    // MARK: Text messages

    /// `forUpdate` keeps the row as read until the transaction ends: a change made from what was
    /// read then cannot overwrite one another transaction made meanwhile.
    static func message(sid: String, forUpdate: Bool = false, _ tx: TenantTransaction) async throws -> TextMessage? {
        try await tx.select(from: "text_messages", where: "message_sid = \(sid)", forUpdate: forUpdate).first.map(textMessage(from:))
    }

    /// An inbound text to store: the message, its new id, and the number it came in on.
    struct NewText: Sendable {
        let message: TextMessage
        let id: String
        let phoneConfigID: String?
    }

    /// Stores inbound texts of one tenant, each linked to the customer with its sender's number,
    /// in one statement with no transaction around it: every inbound text comes through here, and
    /// under load the inbound handler's batcher gathers them. One result per text, in order: the
    /// stored message, or nil where its MessageSid was already stored (Twilio's retry) or is
    /// stored for another text of `texts`. A sender with no customer yet leaves the link empty
    /// for the caller to make.
    static func insertIfNew(_ texts: [NewText], tenantID: String, _ database: any Database, now: Date = Date()) async throws -> [TextMessage?] {
        guard !texts.isEmpty else { return [] }
        let columns = """
            tenant_id, message_id, message_sid, direction, from_number, to_number, body, media_urls, status, error_code, \
            phone_config_id, create_time, update_time
            """
        let rows = texts.map { text -> SQLStatement in
            let message = text.message
            let values: [any SQLValueConvertible] = [
                tenantID, text.id, message.messageSid, message.direction.storedName, message.from, message.to, message.body,
                message.mediaUrls.joined(separator: "\n"), message.status.storedName, Int64(message.errorCode), text.phoneConfigID,
                message.hasCreateTime ? message.createTime.date : now, now,
            ]
            return "(\(SQLStatement.list(values)))"
        }
        // One join for the senders' customers, planned once however many texts there are.
        // (SQLite needs the WHERE to tell the upsert's ON CONFLICT from the join's ON.)
        let stored = try await database.execute(.tenant(tenantID), """
            WITH texts (\(raw: columns)) AS (VALUES \(SQLStatement.joined(rows, separator: ", ")))
            INSERT INTO text_messages (\(raw: columns), customer_id)
            SELECT texts.*, customers.customer_id FROM texts
            LEFT JOIN customers ON customers.tenant_id = texts.tenant_id AND customers.phone = texts.from_number
            WHERE true
            ON CONFLICT DO NOTHING RETURNING *
            """) { rows in
            try Dictionary(uniqueKeysWithValues: rows.map { (try $0.string("message_id"), try textMessage(from: $0)) })
        }
        return texts.map { stored[$0.id] }
    }

    /// A text a tenant's line sent through the outbox (an auto-reply, a text the IVR promised, the
    /// AI receptionist's note to the business), logged once the provider took it, under the
    /// provider's sid, which its delivery reports name. It is linked to the line it was sent from
    /// and to the recipient's customer, as inbound texts are.
    static func logOutbound(
        to recipient: String, from sender: String, body: String, sid: String, _ tx: TenantTransaction, now: Date = Date()
    ) async throws {
        try await tx.base.execute("""
            INSERT INTO text_messages (
                tenant_id, message_id, message_sid, direction, from_number, to_number, body, status,
                phone_config_id, customer_id, create_time, update_time)
            SELECT \(tx.tenantID), \(Tokens.id(bytes: 10)), \(sid), \(CommunicationDirection.outbound.storedName), \(sender),
                \(recipient), \(body), \(TextMessageStatus.queued.storedName),
                (SELECT phone_config_id FROM phone_configs WHERE tenant_id = \(tx.tenantID)
                    AND (phone_number = \(sender) OR messaging_service_sid = \(sender)) LIMIT 1),
                (SELECT customer_id FROM customers WHERE tenant_id = \(tx.tenantID) AND phone = \(recipient) LIMIT 1),
                \(now), \(now)
            WHERE true
            ON CONFLICT DO NOTHING
            """)
    }

    /// Links a stored message to its sender's customer.
    static func linkCustomer(_ customerID: String, toMessage sid: String, _ tx: TenantTransaction) async throws {
        try await tx.update("text_messages", set: [("customer_id", customerID)], where: "message_sid = \(sid)")
    }

    /// The acknowledgement a text was answered with (`TextMessage.auto_reply`), kept also so that
    /// a replay of a text whose answer never reached Twilio can still send it.
    static let autoReplyMigration = Migration(
        version: 21,
        name: "text_messages_auto_reply",
        statements: ["ALTER TABLE text_messages ADD COLUMN auto_reply TEXT"],
        tenantOwnedTables: [])

    static func recordAutoReply(_ body: String, toMessage sid: String, _ tx: TenantTransaction) async throws {
        try await tx.update("text_messages", set: [("auto_reply", body)], where: "message_sid = \(sid)")
    }

    /// Records `body` as the answer to text `sid` unless it has one; whether it was recorded.
    static func claimAutoReply(_ body: String, toMessage sid: String, _ tx: TenantTransaction) async throws -> Bool {
        try await tx.update(
            "text_messages", set: [("auto_reply", body)],
            where: "message_sid = \(sid) AND (auto_reply IS NULL OR auto_reply = '')") == 1
    }

    /// The acknowledgement text `sid` was answered with; nil when it got none.
    static func autoReply(ofMessage sid: String, _ tx: TenantTransaction) async throws -> String? {
        try await tx.select("auto_reply", from: "text_messages", where: "message_sid = \(sid)").first?.optionalString("auto_reply")
    }

    /// Twilio does not promise its callbacks' order: a status that is not further along than the
    /// stored one (a late "sent" after "delivered") changes nothing, even when the two arrive
    /// together (the row is locked as it is compared). The message as it then is.
    static func updateMessageStatus(sid: String, status: TextMessageStatus, errorCode: Int32, _ tx: TenantTransaction) async throws -> TextMessage? {
        guard let current = try await message(sid: sid, forUpdate: true, tx) else { return nil }
        guard status.progress > current.status.progress else { return current }
        try await tx.update("text_messages", set: [
            ("status", status.storedName), ("error_code", Int64(errorCode)), ("update_time", Date()),
        ], where: "message_sid = \(sid)")
        return try await message(sid: sid, tx)
    }

    static func textMessage(from row: SQLRow) throws -> TextMessage {
        let tenant = try row.string("tenant_id")
        return try TextMessage.with {
            $0.name = "tenants/\(tenant)/messages/\(try row.string("message_id"))"
            $0.messageSid = try row.string("message_sid")
            $0.direction = CommunicationDirection(storedName: try row.string("direction"))
            $0.from = try row.string("from_number")
            $0.to = try row.string("to_number")
            $0.body = try row.string("body")
            $0.mediaUrls = try row.string("media_urls").split(separator: "\n").map(String.init)
            $0.status = TextMessageStatus(storedName: try row.string("status"))
            $0.errorCode = Int32(try row.int("error_code"))
            if let config = try row.optionalString("phone_config_id") { $0.phoneConfig = "tenants/\(tenant)/phoneConfigs/\(config)" }
            if let customer = try row.optionalString("customer_id") { $0.customer = "tenants/\(tenant)/customers/\(customer)" }
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
            $0.autoReply = try row.optionalString("auto_reply") ?? ""
        }
    }

    // MARK: Calls

    /// `forUpdate` as for ``message(sid:forUpdate:_:)``.
    static func call(sid: String, forUpdate: Bool = false, _ tx: TenantTransaction) async throws -> PhoneCall? {
        try await tx.select(from: "phone_calls", where: "call_sid = \(sid)", forUpdate: forUpdate).first.map(phoneCall(from:))
    }

    /// Nothing when the CallSid is stored already: two webhooks of one call at once (a retry
    /// beside the first) both succeed, and the call is stored once.
    static func insert(_ call: PhoneCall, id: String, phoneConfigID: String?, customerID: String?, _ tx: TenantTransaction, now: Date = Date()) async throws {
        _ = try await tx.insertIfAbsent(into: "phone_calls", [
            ("call_id", id),
            ("call_sid", call.callSid),
            ("direction", call.direction.storedName),
            ("from_number", call.from),
            ("to_number", call.to),
            ("caller_name", call.callerName),
            ("status", call.status.storedName),
            ("ivr_mode", call.ivrMode.storedName),
            ("connected_to", call.connectedTo),
            ("phone_config_id", phoneConfigID),
            ("customer_id", customerID),
            ("start_time", now),
            ("update_time", now),
        ])
    }

    /// Records the key pressed at the menu of `step` (how many keys the call had taken when the
    /// menu was offered), once: a request Twilio sends again finds its step taken. Without a step,
    /// as from a menu offered before steps were carried, every key is recorded. The count of keys
    /// the call has then taken, the next menu's step; nil for a call not logged here.
    static func appendSelection(_ selection: String, callSid: String, step: Int?, _ tx: TenantTransaction) async throws -> Int? {
        // Locked as read: a retry in flight beside the first request waits, then finds the step taken.
        guard let call = try await call(sid: callSid, forUpdate: true, tx) else { return nil }
        // The call has taken this step's key already: Twilio sent the request again.
        if let step, step < call.ivrSelections.count { return call.ivrSelections.count }
        let selections = call.ivrSelections + [selection]
        try await tx.update("phone_calls", set: [("ivr_selections", selections.joined(separator: ",")), ("update_time", Date())], where: "call_sid = \(callSid)")
        return selections.count
    }

    /// Who answered the call: the number or SIP address it was put through to.
    static func setConnectedTo(_ person: String, callSid: String, _ tx: TenantTransaction) async throws {
        try await tx.update("phone_calls", set: [("connected_to", person), ("update_time", Date())], where: "call_sid = \(callSid)")
    }

    /// The status only moves forward (a late "ringing" after "completed" is ignored); the
    /// duration and recording are taken whenever they come. The call as it then is.
    static func updateCall(_ request: RecordCallStatusRequest, _ tx: TenantTransaction) async throws -> PhoneCall? {
        guard let current = try await call(sid: request.callSid, forUpdate: true, tx) else { return nil }
        var assignments: [(String, any SQLValueConvertible)] = [("update_time", Date())]
        if request.status.progress > current.status.progress {
            assignments.append(("status", request.status.storedName))
            if request.status.hasEnded {
                assignments.append(("end_time", request.hasEventTime ? request.eventTime.date : Date()))
            }
        }
        if request.hasDuration { assignments.append(("duration_seconds", request.duration.seconds)) }
        if !request.recordingURL.isEmpty { assignments.append(("recording_url", request.recordingURL)) }
        if request.hasRecordingDuration { assignments.append(("recording_seconds", request.recordingDuration.seconds)) }
        try await tx.update("phone_calls", set: assignments, where: "call_sid = \(request.callSid)")
        return try await call(sid: request.callSid, tx)
    }

    /// What callers tell the AI receptionist, kept on their call as a JSON array of strings.
    static let callerSaidMigration = Migration(
        version: 16,
        name: "phone_calls_caller_said",
        statements: ["ALTER TABLE phone_calls ADD COLUMN caller_said TEXT NOT NULL DEFAULT '[]'"],
        tenantOwnedTables: [])

    /// What became of words the caller said.
    enum CallerSaidOutcome {
        /// Added to their call.
        case added
        /// Their call has them last already: a retry of the turn that said them.
        case alreadyTaken
        /// Not taken: the call is not stored in this tenant's log.
        case noCall
    }

    /// Adds what the caller said to their call, once.
    static func appendCallerSaid(_ said: String, callSid: String, _ tx: TenantTransaction) async throws -> CallerSaidOutcome {
        // Locked as read, as a key pressed is (``appendSelection(_:callSid:step:_:)``).
        guard let call = try await call(sid: callSid, forUpdate: true, tx) else { return .noCall }
        guard call.callerSaid.last != said else { return .alreadyTaken }
        let all = String(decoding: try JSONEncoder().encode(call.callerSaid + [said]), as: UTF8.self)
        try await tx.update("phone_calls", set: [("caller_said", all), ("update_time", Date())], where: "call_sid = \(callSid)")
        return .added
    }

    static func phoneCall(from row: SQLRow) throws -> PhoneCall {
        let tenant = try row.string("tenant_id")
        return try PhoneCall.with {
            $0.name = "tenants/\(tenant)/calls/\(try row.string("call_id"))"
            $0.callSid = try row.string("call_sid")
            $0.direction = CommunicationDirection(storedName: try row.string("direction"))
            $0.from = try row.string("from_number")
            $0.to = try row.string("to_number")
            $0.callerName = try row.string("caller_name")
            $0.status = PhoneCallStatus(storedName: try row.string("status"))
            $0.ivrMode = IvrMode(storedName: try row.string("ivr_mode"))
            $0.ivrSelections = try row.string("ivr_selections").split(separator: ",").map(String.init)
            $0.callerSaid = try JSONDecoder().decode([String].self, from: Data(try row.string("caller_said").utf8))
            $0.connectedTo = try row.string("connected_to")
            $0.recordingURL = try row.string("recording_url")
            let recording = try row.int("recording_seconds")
            if recording > 0 { $0.recordingDuration = Google_Protobuf_Duration(seconds: recording) }
            let duration = try row.int("duration_seconds")
            if duration > 0 { $0.duration = Google_Protobuf_Duration(seconds: duration) }
            if let config = try row.optionalString("phone_config_id") { $0.phoneConfig = "tenants/\(tenant)/phoneConfigs/\(config)" }
            if let customer = try row.optionalString("customer_id") { $0.customer = "tenants/\(tenant)/customers/\(customer)" }
            $0.startTime = Google_Protobuf_Timestamp(date: try row.date("start_time"))
            if let end = try row.optionalDate("end_time") { $0.endTime = Google_Protobuf_Timestamp(date: end) }
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
        }
    }
}

extension CommunicationDirection: StoredEnum {}
extension TextMessageStatus: StoredEnum {
    /// How far along a message is; one of the same rank never replaces another.
    var progress: Int {
        switch self {
        case .unspecified, .UNRECOGNIZED: 0
        case .accepted, .scheduled, .receiving: 1
        case .queued, .received: 2
        case .sending: 3
        case .sent: 4
        case .delivered, .partiallyDelivered, .undelivered, .failed, .canceled: 5
        case .read: 6
        }
    }
}

extension PhoneCallStatus: StoredEnum {
    /// How far along a call is; the endings share the last rank, so the first one stands.
    var progress: Int {
        switch self {
        case .unspecified, .UNRECOGNIZED: 0
        case .queued: 1
        case .ringing: 2
        case .inProgress: 3
        case .completed, .busy, .noAnswer, .failed, .canceled: 4
        }
    }

    /// Completed, busy, unanswered, failed or cancelled: the call is over.
    var hasEnded: Bool { progress == PhoneCallStatus.completed.progress }
}
