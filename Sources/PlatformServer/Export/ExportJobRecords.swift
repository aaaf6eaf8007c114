import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// An export job as stored.
struct ExportJobRecord: Sendable {
    var tenantID: String
    var exportID: String
    var state: ExportJobState
    var entities: [ExportEntity]
    var progressPercent: Int
    var counts: [ExportEntity: Int64]
    var sizeBytes: Int64
    var sha256: String
    var creator: String
    var error: String
    var attempts: Int
    var createTime: Date
    var startTime: Date?
    var endTime: Date?
    var expireTime: Date?

    var name: String { ExportJobRecords.name(tenantID: tenantID, exportID: exportID) }

    /// A succeeded job past its expiry reads as expired even before the worker deletes its archive.
    func message(now: Date = Date()) -> ExportJob {
        ExportJob.with {
            $0.name = name
            $0.state = state == .succeeded && (expireTime.map { $0 <= now } ?? false) ? .expired : state
            $0.entities = entities
            $0.progressPercent = Int32(progressPercent)
            if !counts.isEmpty {
                $0.entityCounts = entities.map { entity in .with { $0.entity = entity; $0.count = counts[entity] ?? 0 } }
            }
            $0.sizeBytes = sizeBytes
            $0.sha256 = sha256
            $0.creator = creator
            $0.createTime = Google_Protobuf_Timestamp(date: createTime)
            if let startTime { $0.startTime = Google_Protobuf_Timestamp(date: startTime) }
            if let endTime { $0.endTime = Google_Protobuf_Timestamp(date: endTime) }
            if let expireTime { $0.expireTime = Google_Protobuf_Timestamp(date: expireTime) }
            $0.error = error
        }
    }
}

/// Export jobs in the store: what handlers read and write in a tenant's scope, and what the
/// worker claims, renews and finishes platform-wide under its lease.
enum ExportJobRecords {
    static func name(tenantID: String, exportID: String) -> String { "tenants/\(tenantID)/exports/\(exportID)" }

    static func insert(_ record: ExportJobRecord, _ tx: TenantTransaction) async throws {
        try await tx.insert(into: "export_jobs", [
            ("export_id", record.exportID),
            ("state", record.state.storedName),
            ("entities", record.entities.map(\.storedName).joined(separator: ",")),
            ("creator", record.creator),
            ("create_time", record.createTime),
        ])
    }

    static func find(exportID: String, _ tx: TenantTransaction) async throws -> ExportJobRecord? {
        try await tx.select(from: "export_jobs", where: "export_id = \(exportID)").first.map(record(from:))
    }

    /// Takes the oldest job no live worker holds: a pending one, or a running one whose worker
    /// stopped renewing. The lease is checked again on the row the UPDATE takes, so two workers
    /// never get the same job; on PostgreSQL the second skips a job the first has locked and
    /// takes the next.
    static func claim(worker: String, now: Date, lease: TimeInterval, _ tx: any SQLTransaction) async throws -> ExportJobRecord? {
        let available: SQLStatement = "(state = 'pending' OR (state = 'running' AND lease_expire_time < \(now)))"
        let rows = try await tx.query("""
            WITH picked AS MATERIALIZED (
                SELECT tenant_id, export_id FROM export_jobs WHERE \(available) ORDER BY create_time LIMIT 1\(raw: tx.dialect.skipLocked()))
            UPDATE export_jobs SET state = 'running', lease_owner = \(worker), lease_expire_time = \(now.addingTimeInterval(lease)),
                attempts = attempts + 1, start_time = COALESCE(start_time, \(now)), progress_percent = 0
            WHERE \(available) AND (tenant_id, export_id) IN (SELECT tenant_id, export_id FROM picked)
            RETURNING *
            """)
        return try rows.first.map(record(from:))
    }

    /// Records progress and extends the lease; false when the lease was lost to another worker.
    static func renew(_ job: ExportJobRecord, worker: String, progress: Int, now: Date, lease: TimeInterval, _ tx: any SQLTransaction) async throws -> Bool {
        try await tx.query("""
            UPDATE export_jobs SET progress_percent = \(progress), lease_expire_time = \(now.addingTimeInterval(lease))
            WHERE tenant_id = \(job.tenantID) AND export_id = \(job.exportID) AND lease_owner = \(worker) AND state = 'running'
            RETURNING 1 AS renewed
            """).count == 1
    }

    /// The least time a finished archive can be downloaded in, if its lifetime allows.
    static let downloadGrace: TimeInterval = 86_400

    /// Marks the job succeeded with the archive its attempt stored, and deletes what earlier
    /// attempts left; false when the lease was lost meanwhile.
    ///
    /// The archive expires after `lifetime`, or sooner when the tenant's retention window ends
    /// first in a purge, which deletes its data and this archive with it; but never within
    /// `downloadGrace`, so an export asked for late in the window, or built after its end, can
    /// still be fetched: the purge waits for an archive until its expire time. A tenant whose data
    /// no purge awaits (`RetentionPurgeJob.windowEndsInPurge`) keeps the archive its whole lifetime.
    static func succeed(_ job: ExportJobRecord, worker: String, archive: ExportArchive, now: Date, lifetime: TimeInterval, _ tx: any SQLTransaction) async throws -> Bool {
        let purgeTime = try await tx.first("""
            SELECT b.retention_end_time FROM tenant_billing b WHERE b.tenant_id = \(job.tenantID) AND \(RetentionPurgeJob.windowEndsInPurge("b"))
            """)?.optionalDate("retention_end_time")
        let expireTime = min(now.addingTimeInterval(lifetime), max(purgeTime ?? .distantFuture, now.addingTimeInterval(downloadGrace)))
        let counts = Dictionary(uniqueKeysWithValues: archive.counts.map { ($0.key.storedName, $0.value) })
        let countsJSON = String(decoding: try JSONEncoder.sorted.encode(counts), as: UTF8.self)
        let done = try await tx.changes("""
            UPDATE export_jobs SET state = 'succeeded', progress_percent = 100, entity_counts = \(countsJSON),
                size_bytes = \(archive.sizeBytes), sha256 = \(archive.sha256),
                end_time = \(now), expire_time = \(expireTime), lease_owner = NULL, lease_expire_time = NULL
            WHERE tenant_id = \(job.tenantID) AND export_id = \(job.exportID) AND lease_owner = \(worker) AND state = 'running'
            """) == 1
        if done { try await ExportArchiveChunks.delete(of: job, keeping: job.attempts, tx) }
        return done
    }

    /// Hands the job back for another attempt, which a claim (this worker's or another's) takes
    /// once `retryTime` has passed: the job stays running with a lease no one holds that runs
    /// out then. Its chunks are deleted; nothing happens when the lease was lost meanwhile.
    static func release(_ job: ExportJobRecord, worker: String, retryTime: Date, _ tx: any SQLTransaction) async throws {
        let released = try await tx.changes("""
            UPDATE export_jobs SET progress_percent = 0, lease_owner = NULL, lease_expire_time = \(retryTime)
            WHERE tenant_id = \(job.tenantID) AND export_id = \(job.exportID) AND lease_owner = \(worker) AND state = 'running'
            """) == 1
        if released { try await ExportArchiveChunks.delete(of: job, tx) }
    }

    /// Marks the job failed, its chunks deleted; nothing when the lease was lost meanwhile.
    static func fail(_ job: ExportJobRecord, worker: String, error: String, now: Date, _ tx: any SQLTransaction) async throws {
        let failed = try await tx.changes("""
            UPDATE export_jobs SET state = 'failed', error = \(error), end_time = \(now), lease_owner = NULL, lease_expire_time = NULL
            WHERE tenant_id = \(job.tenantID) AND export_id = \(job.exportID) AND lease_owner = \(worker)
            """) == 1
        if failed { try await ExportArchiveChunks.delete(of: job, tx) }
    }

    /// Succeeded jobs whose archive's time is up: their chunks deleted, marked expired.
    static func expire(now: Date, _ tx: any SQLTransaction) async throws {
        let due: SQLStatement = "state = 'succeeded' AND expire_time <= \(now)"
        try await tx.execute("""
            DELETE FROM export_archive_chunks WHERE (tenant_id, export_id) IN (SELECT tenant_id, export_id FROM export_jobs WHERE \(due))
            """)
        try await tx.execute("UPDATE export_jobs SET state = 'expired' WHERE \(due)")
    }

    static func record(from row: SQLRow) throws -> ExportJobRecord {
        let counts = try JSONDecoder().decode([String: Int64].self, from: Data(try row.string("entity_counts").utf8))
        return ExportJobRecord(
            tenantID: try row.string("tenant_id"),
            exportID: try row.string("export_id"),
            state: ExportJobState(storedName: try row.string("state")),
            entities: try row.string("entities").split(separator: ",").map { ExportEntity(storedName: String($0)) },
            progressPercent: Int(try row.int("progress_percent")),
            counts: counts.reduce(into: [:]) { known, count in
                // A later version's entity, unknown here, is left out rather than read as one.
                let entity = ExportEntity(storedName: count.key)
                if entity != .unspecified { known[entity] = count.value }
            },
            sizeBytes: try row.int("size_bytes"),
            sha256: try row.string("sha256"),
            creator: try row.string("creator"),
            error: try row.string("error"),
            attempts: Int(try row.int("attempts")),
            createTime: try row.date("create_time"),
            startTime: try row.optionalDate("start_time"),
            endTime: try row.optionalDate("end_time"),
            expireTime: try row.optionalDate("expire_time"))
    }
}

extension ExportJobState: StoredEnum {}
extension ExportEntity: StoredEnum {}

extension JSONEncoder {
    /// Keys sorted, so what is written is the same every time.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}
