import Foundation
import NIOPosix
import ServiceProAPI
import ZIPFoundation

/// A finished archive: where it is, what it holds, and its checksum.
struct ExportArchive: Sendable {
    var path: String
    var sizeBytes: Int64
    var sha256: String
    var counts: [ExportEntity: Int64]
}

/// Builds one export's ZIP: per entity a CSV and a JSON Lines file, streamed from the store a
/// page at a time into files in a work directory, then deflated into the archive beside
/// `manifest.json`. Memory holds one page and one write buffer, however large the tenant.
struct ExportArchiveBuilder: Sendable {
    let database: any Database
    let pageSize: Int

    struct FileEntry: Encodable, Sendable {
        var path: String
        var entity: String
        var rows: Int64
        var sizeBytes: Int64
        var sha256: String

        enum CodingKeys: String, CodingKey {
            case path, entity, rows
            case sizeBytes = "size_bytes"
            case sha256
        }
    }

    struct Manifest: Encodable {
        var schemaVersion: Int
        var tenant: String
        var export: String
        var generatedAt: String
        var entityCounts: [String: Int64]
        var files: [FileEntry]

        enum CodingKeys: String, CodingKey {
            case schemaVersion = "schema_version"
            case tenant, export
            case generatedAt = "generated_at"
            case entityCounts = "entity_counts"
            case files
        }
    }

    /// `progress` is called after every page with 0–99, and every `heartbeat` while a file is
    /// deflated; it throws to stop the build (a lost lease).
    /// Every file is read from one snapshot of the tenant's data, so an invoice never names a
    /// customer the archive lacks, however long the export runs beside new writes.
    func build(
        _ job: ExportJobRecord, in workDirectory: URL, now: Date = Date(), heartbeat: Duration = .seconds(20),
        progress: @escaping @Sendable (Int) async throws -> Void
    ) async throws -> ExportArchive {
        let tables = job.entities.compactMap(ExportTable.of)
        let (files, counts) = try await database.snapshot(.tenant(job.tenantID)) { tx in
            try await write(tables, from: TenantTransaction(tenantID: job.tenantID, base: tx), into: workDirectory, progress: progress)
        }
        let manifest = Manifest(
            schemaVersion: ExportTable.schemaVersion,
            tenant: "tenants/\(job.tenantID)",
            export: job.name,
            generatedAt: Self.rfc3339(now),
            entityCounts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.storedName, $0.value) }),
            files: files)
        let encoder = JSONEncoder.sorted
        encoder.outputFormatting.insert(.prettyPrinted)
        try encoder.encode(manifest).write(to: workDirectory.appendingPathComponent("manifest.json"))

        let archiveURL = workDirectory.appendingPathComponent("archive.zip")
        let entries = files.map(\.path) + ["manifest.json"]
        for (index, file) in entries.enumerated() {
            // Deflating a large file takes seconds of blocking work: on a thread of NIO's pool,
            // not one of the few that run every RPC's handler, and with the lease renewed
            // meanwhile, or a file that outlasts it would be taken over by another worker.
            let percent = 90 + index * 9 / entries.count
            try await withHeartbeat(every: heartbeat, { try await progress(percent) }) {
                try await NIOThreadPool.singleton.runIfActive {
                    let archive = try Archive(url: archiveURL, accessMode: index == 0 ? .create : .update)
                    try archive.addEntry(
                        with: file, fileURL: workDirectory.appendingPathComponent(file),
                        compressionMethod: .deflate, bufferSize: 1 << 20)
                    try? FileManager.default.removeItem(at: workDirectory.appendingPathComponent(file))
                }
            }
            try await progress(90 + (index + 1) * 9 / entries.count)
        }
        let size = (try FileManager.default.attributesOfItem(atPath: archiveURL.path)[.size] as? NSNumber)?.int64Value ?? 0
        // Hashing reads the whole archive: off the shared threads as well, the lease renewed.
        let sha256 = try await withHeartbeat(every: heartbeat, { try await progress(99) }) {
            try await NIOThreadPool.singleton.runIfActive { try FileDigest.sha256(path: archiveURL.path) }
        }
        return ExportArchive(path: archiveURL.path, sizeBytes: size, sha256: sha256, counts: counts)
    }

    /// Each table's CSV and JSON Lines files, a page at a time, with the files' entries and the
    /// rows each table held.
    private func write(
        _ tables: [ExportTable], from tx: TenantTransaction, into workDirectory: URL,
        progress: @Sendable (Int) async throws -> Void
    ) async throws -> ([FileEntry], [ExportEntity: Int64]) {
        var allRows: Int64 = 0
        for table in tables {
            allRows += try await tx.select("COUNT(*) AS n", from: table.table).first?.int("n") ?? 0
        }
        var done: Int64 = 0
        var files: [FileEntry] = []
        var counts: [ExportEntity: Int64] = [:]
        for table in tables {
            let encoder = ExportRowEncoder(table: table)
            let csv = try HashingFileWriter(path: workDirectory.appendingPathComponent("\(table.file).csv").path)
            let jsonl = try HashingFileWriter(path: workDirectory.appendingPathComponent("\(table.file).jsonl").path)
            try csv.write(encoder.csvHeader)
            var rows: Int64 = 0
            var csvBytes: [UInt8] = []
            var jsonBytes: [UInt8] = []
            // The next page is read while this one is encoded: the store works on its own
            // thread meanwhile, so the two overlap on a second core. A read still running when
            // this stops is awaited, so none outlives the snapshot.
            var next: Task<[SQLRow], any Error>? = fetch(table, after: nil, tx)
            do {
                while let pending = next {
                    let page = try await pending.value
                    next = page.count == pageSize ? fetch(table, after: try table.keyColumns.map { try page.last!.string($0) }, tx) : nil
                    csvBytes.removeAll(keepingCapacity: true)
                    jsonBytes.removeAll(keepingCapacity: true)
                    for row in page {
                        let cells = encoder.cells(of: row)
                        encoder.csv(cells, into: &csvBytes)
                        encoder.json(cells, into: &jsonBytes)
                    }
                    try csv.write(csvBytes)
                    try jsonl.write(jsonBytes)
                    rows += Int64(page.count)
                    done += Int64(page.count)
                    try await progress(Int(done * 90 / max(allRows, 1)))
                }
            } catch {
                next?.cancel()
                _ = await next?.result
                throw error
            }
            counts[table.entity] = rows
            for (writer, suffix) in [(csv, "csv"), (jsonl, "jsonl")] {
                let sha = try writer.finish()
                files.append(FileEntry(path: "\(table.file).\(suffix)", entity: table.entity.storedName, rows: rows, sizeBytes: writer.size, sha256: sha))
            }
        }
        return (files, counts)
    }

    /// One page of `table` after the row whose key columns hold `key`.
    private func fetch(_ table: ExportTable, after key: [String]?, _ tx: TenantTransaction) -> Task<[SQLRow], any Error> {
        let columns = table.keyColumns.joined(separator: ", ")
        return Task { [pageSize] in
            try await tx.select(
                table.columnList, from: table.table,
                where: key.map { (key: [String]) -> SQLStatement in "(\(raw: columns)) > (\(SQLStatement.list(key)))" }, orderBy: columns, limit: pageSize)
        }
    }

    static func rfc3339(_ date: Date) -> String {
        var bytes: [UInt8] = []
        RFC3339.append(microseconds: Int64((date.timeIntervalSince1970 * 1_000_000).rounded()), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
