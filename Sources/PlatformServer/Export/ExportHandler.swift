import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.export.v1.ExportService: start an export, follow it, download its archive.
public struct ExportHandler: ExportServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func startExport(_ request: StartExportRequest, context: RequestContext) async throws -> ExportJob {
        let tenantID = try context.requireTenant()
        var entities: [ExportEntity] = []
        for (index, entity) in request.entities.enumerated() {
            guard ExportTable.of(entity) != nil else {
                throw ServiceError.invalidArgument(field: "entities[\(index)]", "must be a defined entity")
            }
            if !entities.contains(entity) { entities.append(entity) }
        }
        if entities.isEmpty { entities = ExportTable.all.map(\.entity) }
        let chosen = entities
        let record = ExportJobRecord(
            tenantID: tenantID, exportID: Tokens.id(bytes: 10), state: .pending, entities: chosen,
            progressPercent: 0, counts: [:], sizeBytes: 0, sha256: "", creator: context.principal.realActor,
            error: "", attempts: 0, createTime: Date())
        return try await database.withTenant(tenantID) { tx in
            try await IdempotencyRecords.once(tx, method: "StartExport", for: request) {
                try await Self.requireDataKept(tx, now: record.createTime)
                try await Self.requireNoneInProgress(tx)
                try await ExportJobRecords.insert(record, tx)
                try await AuditLog.record(tx, context: context, resource: record.name, details: [
                    "entities": chosen.map(\.storedName).joined(separator: ","),
                ])
                guard let stored = try await ExportJobRecords.find(exportID: record.exportID, tx) else {
                    throw ServiceError.internal("export \(record.name) was not found in the transaction that inserted it")
                }
                return stored.message()
            }
        }
    }

    /// One export of a tenant is built at a time: a second start (a double click, a script run
    /// twice) would build the same archive again, and hold a worker another tenant waits for.
    private static func requireNoneInProgress(_ tx: TenantTransaction) async throws {
        try await tx.serialize("export/start")
        guard let building = try await tx.select("export_id", from: "export_jobs", where: "state IN ('pending', 'running')", limit: 1).first else {
            return
        }
        let name = ExportJobRecords.name(tenantID: tx.tenantID, exportID: try building.string("export_id"))
        throw ServiceError.failedPrecondition(
            reason: "export_in_progress",
            message: "\(name) is still being built; follow it with GetExport (spctl export status), and start another once it is done",
            metadata: ["resource": name])
    }

    /// A tenant exports for as long as it keeps its data: a suspended one always, a cancelled one
    /// until its retention window ends. Refused once its data is deleted, or due to be: an archive
    /// then would be empty or partial, and a new export would put the purge off again.
    ///
    /// Asked twice. First as the row stands, so a start during a purge (which holds the row
    /// until it has deleted everything) is refused at once rather than after it. Then with the
    /// billing row shared until this start commits, which orders it with the purge: a purge that
    /// marked the row first has committed when this reads it, and this sees its
    /// `data_purge_time`; one that comes later waits for this start, then finds its export
    /// (`RetentionPurgeJob` locks the row before it looks). SQLite runs one writer at a time.
    private static func requireDataKept(_ tx: TenantTransaction, now: Date) async throws {
        try await requireDataKept(tx, now: now, locking: false)
        try await requireDataKept(tx, now: now, locking: true)
    }

    private static func requireDataKept(_ tx: TenantTransaction, now: Date, locking: Bool) async throws {
        guard let billing = try await tx.base.first("""
            SELECT b.retention_end_time, b.data_purge_time, CASE WHEN \(RetentionPurgeJob.dataDue("b", at: now)) THEN 1 ELSE 0 END AS due
            FROM tenant_billing b WHERE b.tenant_id = \(tx.tenantID)\(raw: locking ? tx.base.dialect.forShare : "")
            """)
        else { return }
        if let purged = try billing.optionalDate("data_purge_time") {
            throw ServiceError.failedPrecondition(
                reason: "retention_ended",
                message: "tenants/\(tx.tenantID)'s data was deleted at \(purged.formatted(.iso8601)), after its retention window ended; there is nothing left to export",
                metadata: ["tenant": tx.tenantID])
        }
        guard try billing.int("due") == 1, let end = try billing.optionalDate("retention_end_time") else { return }
        throw ServiceError.failedPrecondition(
            reason: "retention_ended",
            message: "tenants/\(tx.tenantID)'s retention window ended at \(end.formatted(.iso8601)), and its data is due to be deleted; it can no longer be exported",
            metadata: ["tenant": tx.tenantID])
    }

    public func getExport(_ request: GetExportRequest, context: RequestContext) async throws -> ExportJob {
        try await job(named: request.name, context: context).message()
    }

    public func listExports(_ request: ListExportsRequest, context: RequestContext) async throws -> ListExportsResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        let now = Date()
        var conditions: [SQLStatement] = []
        // A succeeded job past its expiry reads as expired before the worker marks it so, and
        // the filter finds it as it reads.
        switch request.state {
        case .unspecified: break
        case .succeeded: conditions.append("state = 'succeeded' AND (expire_time IS NULL OR expire_time > \(now))")
        case .expired: conditions.append("(state = 'expired' OR (state = 'succeeded' AND expire_time <= \(now)))")
        default: conditions.append("state = \(request.state.storedName)")
        }
        let filters = conditions
        let jobs = try await database.transaction(.tenant(tenantID)) { tx in
            try await ListOrder(column: "create_time", direction: .newestFirst, idColumn: "export_id")
                .page(of: "export_jobs", where: filters, paging, tx) { try ExportJobRecords.record(from: $0).message(now: now) }
        }
        return ListExportsResponse.with {
            $0.exports = jobs.items
            $0.nextPageToken = jobs.nextPageToken
        }
    }

    /// Streams the archive from `offset` in the store's 1 MiB chunks, each carrying the total size
    /// and the archive's SHA-256 so a client can show progress and check what it saved.
    public func downloadExport(_ request: DownloadExportRequest, context: RequestContext, responses: RPCWriter<ExportChunk>) async throws {
        let job = try await job(named: request.name, context: context)
        switch job.message().state {
        case .succeeded: break
        case .expired:
            throw ServiceError.failedPrecondition(
                reason: "export_expired", message: "\(job.name) expired at its expire_time and its archive is deleted; start a new export")
        case .failed:
            throw ServiceError.failedPrecondition(reason: "export_failed", message: "\(job.name) failed: \(job.error)")
        default:
            throw ServiceError.failedPrecondition(
                reason: "export_not_ready", message: "\(job.name) is \(job.state.storedName) (\(job.progressPercent)%); wait until it succeeds")
        }
        guard request.offset <= job.sizeBytes else {
            throw ServiceError(
                code: .outOfRange, reason: "offset_past_end",
                message: "offset \(request.offset) is past the end of the archive's \(job.sizeBytes) bytes; resume from the bytes saved",
                metadata: ["size_bytes": "\(job.sizeBytes)"])
        }
        try await database.withTenant(job.tenantID) { tx in
            try await AuditLog.record(tx, context: context, resource: job.name, details: ["offset": "\(request.offset)"])
        }
        let size = Int64(ExportArchiveChunks.size)
        var offset = request.offset
        while offset < job.sizeBytes {
            guard let stored = try await ExportArchiveChunks.chunk(offset / size, of: job, database) else {
                // Expired (or its tenant purged) while this download ran.
                throw ServiceError.failedPrecondition(reason: "export_expired", message: "\(job.name)'s archive is gone; start a new export")
            }
            let data = stored.dropFirst(Int(offset % size))
            try await responses.write(ExportChunk.with {
                $0.data = data
                $0.offset = offset
                $0.totalSize = job.sizeBytes
                $0.sha256 = job.sha256
            })
            offset += Int64(data.count)
        }
    }

    private func job(named name: String, context: RequestContext) async throws -> ExportJobRecord {
        let tenantID = try context.requireTenant()
        guard let exportID = ResourceName.id(of: name, after: "exports"),
              let job = try await database.withTenant(tenantID, { try await ExportJobRecords.find(exportID: exportID, $0) })
        else { throw ServiceError.notFound(name) }
        return job
    }
}

extension ListExportsRequest: PagedListRequest {}
