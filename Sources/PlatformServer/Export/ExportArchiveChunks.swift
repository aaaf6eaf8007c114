import Foundation

/// Export archives live in the store, in 1 MiB chunks, so any replica can serve a download
/// whichever one built it, and an archive goes with its job: expired, failed, purged or its
/// tenant deleted, in the same transaction. Chunks are kept per attempt: a worker that lost its
/// lease can never mix its chunks into the winner's archive, which is the job's last attempt.
enum ExportArchiveChunks {
    static let size = 1 << 20

    /// Succeeded jobs' archives were files on the replica that built them; those are not carried
    /// over, so their exports read as expired and can be started again. Each replica's export
    /// worker deletes the files `export_jobs.archive_path` names when it starts
    /// (`ExportWorker.clearLeftovers`); the column stays while replicas of the earlier version
    /// may still write it during a rolling upgrade.
    static let migration = Migration(
        version: 15,
        name: "export_archives_in_store",
        statements: [
            """
            CREATE TABLE export_archive_chunks (
                tenant_id TEXT NOT NULL,
                export_id TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                chunk_index BIGINT NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (tenant_id, export_id, attempt, chunk_index),
                FOREIGN KEY (tenant_id, export_id) REFERENCES export_jobs (tenant_id, export_id) ON DELETE CASCADE
            )
            """,
            "UPDATE export_jobs SET state = 'expired' WHERE state = 'succeeded'",
        ],
        tenantOwnedTables: ["export_archive_chunks"],
        // The chunks are ZIP, deflated already: PostgreSQL need not try compressing them again.
        postgresStatements: ["ALTER TABLE export_archive_chunks ALTER COLUMN data SET STORAGE EXTERNAL"])

    struct LeaseLost: Error {}

    /// Copies the archive at `path` into the store for `job`'s attempt, a chunk per transaction,
    /// each with the worker's lease renewed beside it: a worker that lost the lease stops at
    /// its next chunk.
    static func store(
        fileAt path: String, for job: ExportJobRecord, worker: String, lease: TimeInterval, _ database: any Database
    ) async throws {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var index: Int64 = 0
        while let data = try handle.read(upToCount: size), !data.isEmpty {
            try Task.checkCancellation()
            let chunk = index
            try await database.transaction(.platform) { tx in
                guard try await ExportJobRecords.renew(job, worker: worker, progress: 99, now: Date(), lease: lease, tx) else { throw LeaseLost() }
                try await TenantTransaction(tenantID: job.tenantID, base: tx).insert(into: "export_archive_chunks", [
                    ("export_id", job.exportID), ("attempt", Int64(job.attempts)), ("chunk_index", chunk), ("data", data),
                ])
            }
            index += 1
        }
    }

    /// The archive's bytes from chunk `index`, or nil when it is not (or no longer) stored.
    static func chunk(_ index: Int64, of job: ExportJobRecord, _ database: any Database) async throws -> Data? {
        try await database.read(.tenant(job.tenantID)) { tx in
            try await TenantTransaction(tenantID: job.tenantID, base: tx).select(
                "data", from: "export_archive_chunks",
                where: "export_id = \(job.exportID) AND attempt = \(Int64(job.attempts)) AND chunk_index = \(index)"
            ).first?.data("data")
        }
    }

    /// Deletes the job's chunks, or those of every attempt but `keeping`.
    static func delete(of job: ExportJobRecord, keeping attempt: Int? = nil, _ tx: any SQLTransaction) async throws {
        var condition: SQLStatement = "export_id = \(job.exportID)"
        if let attempt { condition = condition + " AND attempt <> \(Int64(attempt))" }
        try await TenantTransaction(tenantID: job.tenantID, base: tx).delete(from: "export_archive_chunks", where: condition)
    }
}
