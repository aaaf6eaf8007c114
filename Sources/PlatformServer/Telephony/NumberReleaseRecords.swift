import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// A number release as stored.
struct NumberReleaseRecord: Sendable {
    var tenantID: String
    var numberSID: String
    var phoneNumber: String
    var reason: NumberReleaseReason
    var state: NumberReleaseState
    /// Attempts started, counting the one a worker holds the lease for.
    var attempts: Int
    var lastError: String
    var releaseAfterTime: Date?
    var releaseTime: Date?
    var createTime: Date
    var updateTime: Date

    var release: NumberRelease {
        NumberRelease.with {
            $0.name = NumberReleaseRecords.collection.name(tenantID: tenantID, id: numberSID.lowercased())
            $0.phoneNumber = phoneNumber
            $0.numberSid = numberSID
            $0.reason = reason
            $0.state = state
            $0.attempts = Int32(clamping: attempts)
            $0.lastError = lastError
            if let releaseAfterTime { $0.releaseAfterTime = Google_Protobuf_Timestamp(date: releaseAfterTime) }
            if let releaseTime { $0.releaseTime = Google_Protobuf_Timestamp(date: releaseTime) }
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            $0.updateTime = Google_Protobuf_Timestamp(date: updateTime)
        }
    }
}

/// The numbers the platform bought for tenants, and their way back to Twilio. A phone config
/// keeps the sid of a number the platform bought for it (`phone_configs.number_sid`); whatever
/// gives the number up queues its release in the same transaction, so a number is released
/// exactly when the change that gave it up commits, and never while a config holds it.
///
/// Releases are the platform's, not the tenant's: they outlive the tenant's purge, and a number
/// one tenant gave up can be kept by another tenant's config.
enum NumberReleaseRecords {
    static let table = "number_releases"
    /// How long a deleted or moved config's number waits before it is released: a config deleted
    /// by mistake, or a number moved to another tenant, is made again with its number meanwhile.
    static let grace: TimeInterval = 7 * 86_400
    /// Twilio's answers can be long; what is kept is enough to say why.
    static let maxErrorLength = 1_000

    static let collection = ResourceCollection(segment: "numberReleases", table: table, idColumn: "number_sid", noun: "number_release")

    static let migration = Migration(
        version: 31,
        name: "number_releases",
        statements: [
            // NULL for a number the platform did not buy (brought by the tenant, or an existing
            // number of the account): nothing releases it.
            "ALTER TABLE phone_configs ADD COLUMN number_sid TEXT",
            // Not tenant-owned: a release outlives the tenant's purge, and a config of any tenant
            // can keep a number another gave up. The lease says which worker is releasing it.
            """
            CREATE TABLE number_releases (
                number_sid TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL,
                phone_number TEXT NOT NULL,
                reason TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                last_error TEXT NOT NULL DEFAULT '',
                release_after_time BIGINT,
                lease_owner TEXT,
                lease_expire_time BIGINT,
                create_time BIGINT NOT NULL,
                update_time BIGINT NOT NULL,
                release_time BIGINT
            )
            """,
            "CREATE INDEX number_releases_by_number ON number_releases (phone_number, state)",
            "CREATE INDEX number_releases_by_due ON number_releases (state, release_after_time)",
            "CREATE INDEX number_releases_by_time ON number_releases (tenant_id, create_time DESC, number_sid)",
            "CREATE INDEX number_releases_by_platform_time ON number_releases (create_time DESC, number_sid)",
        ],
        tenantOwnedTables: [])

    /// Queues the release of the number with `numberSID`, due `after`. Queueing one already
    /// queued changes nothing.
    static func enqueue(
        numberSID: String, phoneNumber: String, reason: NumberReleaseReason, after: Date, _ tx: TenantTransaction, now: Date = Date()
    ) async throws {
        try await tx.base.execute("""
            INSERT INTO number_releases (
                number_sid, tenant_id, phone_number, reason, state, release_after_time, create_time, update_time)
            VALUES (
                \(numberSID), \(tx.tenantID), \(phoneNumber), \(reason.storedName), \(NumberReleaseState.pending.storedName),
                \(after), \(now), \(now))
            ON CONFLICT (number_sid) DO NOTHING
            """)
    }

    /// Withdraws the pending release of `phoneNumber`, for a config of any tenant that is taking
    /// the number, and returns the number's sid for that config to keep; nil when no release of
    /// it is pending. Once Twilio has been asked (RELEASING, or a live lease), the number may be
    /// gone already: FAILED_PRECONDITION `number_being_released` on `field`, the request's name
    /// for the number.
    static func withdraw(phoneNumber: String, field: String, _ tx: any SQLTransaction, now: Date = Date()) async throws -> String? {
        guard !phoneNumber.isEmpty,
              let pending = try await tx.first("""
                SELECT number_sid, state, lease_owner, lease_expire_time FROM number_releases
                WHERE phone_number = \(phoneNumber) AND state IN ('pending', 'releasing')\(raw: tx.dialect.forUpdate)
                """)
        else { return nil }
        let sid = try pending.string("number_sid")
        let leased = try pending.optionalString("lease_owner") != nil && (try pending.optionalDate("lease_expire_time")).map { $0 >= now } == true
        if try pending.string("state") == NumberReleaseState.releasing.storedName || leased {
            throw ServiceError.failedPrecondition(
                reason: "number_being_released",
                message: "\(phoneNumber) is being given back to Twilio right now; wait a minute, then buy a new number or use another",
                metadata: ["field": field])
        }
        try await tx.execute("DELETE FROM number_releases WHERE number_sid = \(sid)")
        return sid
    }

    /// Leases up to `limit` releases no live worker holds: pending ones that are due, and ones
    /// whose worker's lease ran out, releasing among them (Twilio's answer tells whether the
    /// number went). Each claim counts as an attempt. On PostgreSQL a second worker skips the rows
    /// the first has locked.
    static func claim(worker: String, now: Date, lease: TimeInterval, limit: Int, _ tx: any SQLTransaction) async throws -> [NumberReleaseRecord] {
        let available: SQLStatement = """
            ((state = 'pending' AND release_after_time <= \(now) AND (lease_owner IS NULL OR lease_expire_time < \(now)))
             OR (state = 'releasing' AND lease_expire_time < \(now)))
            """
        let rows = try await tx.query("""
            WITH picked AS MATERIALIZED (
                SELECT number_sid FROM number_releases WHERE \(available)
                ORDER BY release_after_time LIMIT \(limit)\(raw: tx.dialect.skipLocked()))
            UPDATE number_releases SET lease_owner = \(worker), lease_expire_time = \(now.addingTimeInterval(lease)),
                attempts = attempts + 1, update_time = \(now)
            WHERE \(available) AND number_sid IN (SELECT number_sid FROM picked)
            RETURNING *
            """)
        return try rows.map(record(from:))
    }

    /// Marks a claimed release RELEASING, with its lease extended to `until`, as Twilio is about
    /// to be asked: from here on no config may keep the number, whatever becomes of the worker.
    /// False when it is no longer this worker's (its lease ran out, and another worker or a
    /// phone config took the release).
    static func renew(_ release: NumberReleaseRecord, worker: String, until: Date, now: Date, _ tx: any SQLTransaction) async throws -> Bool {
        try await tx.query("""
            UPDATE number_releases SET state = 'releasing', lease_expire_time = \(until), update_time = \(now)
            WHERE number_sid = \(release.numberSID) AND state IN ('pending', 'releasing') AND lease_owner = \(worker)
              AND attempts = \(release.attempts) AND lease_expire_time >= \(now)
            RETURNING 1 AS renewed
            """).count == 1
    }

    /// How a release attempt ended.
    enum Outcome: Sendable {
        /// Twilio has the number back, or no longer had it.
        case released
        /// Twilio refused or could not be reached: tried again at `at`.
        case retry(error: String, at: Date)
    }

    /// Records how the claimed attempt ended. False when the lease was lost meanwhile.
    static func finish(_ release: NumberReleaseRecord, worker: String, outcome: Outcome, now: Date, _ tx: any SQLTransaction) async throws -> Bool {
        let assignments: SQLStatement
        switch outcome {
        case .released:
            assignments = """
                state = \(NumberReleaseState.released.storedName), last_error = '', release_after_time = NULL, release_time = \(now)
                """
        case .retry(let error, let next):
            assignments = "state = 'pending', last_error = \(error.truncated(to: maxErrorLength)), release_after_time = \(next)"
        }
        return try await tx.query("""
            UPDATE number_releases SET \(assignments), lease_owner = NULL, lease_expire_time = NULL, update_time = \(now)
            WHERE number_sid = \(release.numberSID) AND state = 'releasing' AND lease_owner = \(worker) AND attempts = \(release.attempts)
            RETURNING 1 AS finished
            """).count == 1
    }

    static func find(numberSID: String, _ tx: TenantTransaction) async throws -> NumberReleaseRecord? {
        try await tx.select(from: table, where: "lower(number_sid) = \(numberSID.lowercased())").first.map(record(from:))
    }

    static func record(from row: SQLRow) throws -> NumberReleaseRecord {
        NumberReleaseRecord(
            tenantID: try row.string("tenant_id"),
            numberSID: try row.string("number_sid"),
            phoneNumber: try row.string("phone_number"),
            reason: NumberReleaseReason(storedName: try row.string("reason")),
            state: NumberReleaseState(storedName: try row.string("state")),
            attempts: Int(try row.int("attempts")),
            lastError: try row.string("last_error"),
            releaseAfterTime: try row.optionalDate("release_after_time"),
            releaseTime: try row.optionalDate("release_time"),
            createTime: try row.date("create_time"),
            updateTime: try row.date("update_time"))
    }
}

extension NumberReleaseReason: StoredEnum {}
extension NumberReleaseState: StoredEnum {}
