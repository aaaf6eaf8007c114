// export-bench: how long a tenant export takes, and how much memory it needs, for a tenant with
// a million messages.
//
//   export-bench seed --home DIR [--messages N]   fills a store (SQLite in DIR, or --database-url)
//   export-bench run  --home DIR                  exports it, in a fresh process, and reports
//
// `run` measures two things over the same rows in one process: the baseline, reading every row
// through the store a page at a time and doing nothing with it, and the export, the worker
// building the whole archive (CSV, JSON Lines, deflate, checksums). It prints both times, their
// ratio, and the process's peak RSS. Build it in release mode:
//   swift build -c release --product export-bench

import ArgumentParser
import Foundation
import Logging
import PlatformServer
import RPCRuntime

@main
struct ExportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-bench",
        abstract: "Export of a tenant with many messages: time and peak RSS.",
        subcommands: [Seed.self, Run.self])

    static let tenant = "bigshop"

    struct StoreOptions: ParsableArguments {
        @Option(help: "The platform's home: the SQLite store and the export archives.")
        var home: String

        @Option(name: .customLong("database-url"), help: "Use this PostgreSQL database instead of SQLite.")
        var databaseURL: String?

        func start() async throws -> PlatformServer {
            var logger = Logger(label: "export-bench")
            logger.logLevel = .error
            return try await PlatformServer.start(
                PlatformConfiguration(
                    home: home, port: 0, databaseURL: databaseURL, spctlConfigPath: nil,
                    exports: ExportSettings(pollInterval: .seconds(3600))),
                logger: logger)
        }
    }

    struct Seed: AsyncParsableCommand {
        @OptionGroup var store: StoreOptions

        @Option(help: "Messages to give the tenant.")
        var messages = 1_000_000

        func run() async throws {
            let server = try await store.start()
            let database = server.database
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            try await database.transaction(.platform) { tx in
                try await tx.execute("""
                    INSERT INTO tenants (tenant_id, display_name, plan_tier, status, create_time, update_time)
                    VALUES (\(ExportBench.tenant), 'Big Shop', 'pro', 'active', \(now), \(now))
                    """)
                try await tx.execute("""
                    INSERT INTO tenant_billing (tenant_id, status_change_time, update_time) VALUES (\(ExportBench.tenant), \(now), \(now))
                    """)
            }
            let batch = 500
            let clock = ContinuousClock()
            let began = clock.now
            var written = 0
            while written < messages {
                // One transaction per 100 batches: big enough to be fast, small enough to commit often.
                let start = written
                let end = min(messages, start + 100 * batch)
                try await database.transaction(.tenant(ExportBench.tenant)) { tx in
                    for first in stride(from: start, to: end, by: batch) {
                        var values: [SQLStatement] = []
                        for index in first..<min(first + batch, end) {
                            let body = "Hi! Is Friday at \(index % 12 + 1)pm still open for a full detail, \"interior + exterior\"? Thanks"
                            values.append("""
                                (\(ExportBench.tenant), \(String(format: "m%09d", index)), \("SM" + String(format: "%032x", index)), 'inbound',
                                 \("+1555\(String(format: "%07d", index % 5000))"), '+19185550100', \(body), 'received', \(now + Int64(index)), \(now + Int64(index)))
                                """)
                        }
                        try await tx.execute("""
                            INSERT INTO text_messages (tenant_id, message_id, message_sid, direction, from_number, to_number, body, status, create_time, update_time)
                            VALUES \(SQLStatement.joined(values, separator: ", "))
                            """)
                    }
                }
                written = end
                FileHandle.standardError.write(Data("\rseeded \(written)/\(messages)".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            print("seeded \(messages) messages in \(clock.now - began)")
            try await database.close()
        }
    }

    struct Run: AsyncParsableCommand {
        @OptionGroup var store: StoreOptions

        @Option(help: "Rows per page, as the worker reads them.")
        var pageSize = 2_000

        func run() async throws {
            let server = try await store.start()
            let database = server.database
            let clock = ContinuousClock()

            // Baseline: every row through the store, a page at a time from one snapshot (as the
            // export reads), and nothing else.
            let baselineStart = clock.now
            let rows = try await database.snapshot(.tenant(ExportBench.tenant)) { [pageSize] tx in
                var read = 0
                var last = ""
                while true {
                    let page = try await tx.query("""
                        SELECT message_id, message_sid, direction, from_number, to_number, body, media_urls, status, error_code,
                               phone_config_id, customer_id, create_time, update_time
                        FROM text_messages WHERE tenant_id = \(ExportBench.tenant) AND message_id > \(last)
                        ORDER BY message_id LIMIT \(pageSize)
                        """)
                    read += page.count
                    guard page.count == pageSize, let id = try page.last?.string("message_id") else { return read }
                    last = id
                }
            }
            let baseline = clock.now - baselineStart

            // The export, as the worker builds it.
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            try await database.transaction(.tenant(ExportBench.tenant)) { tx in
                try await tx.execute("DELETE FROM export_jobs WHERE tenant_id = \(ExportBench.tenant)")
                try await tx.execute("""
                    INSERT INTO export_jobs (tenant_id, export_id, state, entities, creator, create_time)
                    VALUES (\(ExportBench.tenant), 'bench', 'pending', 'customers,appointments,invoices,messages,calls', 'export-bench', \(now))
                    """)
            }
            var logger = Logger(label: "export-bench")
            logger.logLevel = .error
            let worker = ExportWorker(
                database: database, settings: ExportSettings(pageSize: pageSize),
                directory: URL(fileURLWithPath: store.home).appendingPathComponent("exports"), logger: logger)
            let exportStart = clock.now
            guard try await worker.runOnce() else { throw ValidationError("no export job to run") }
            let export = clock.now - exportStart
            let job = try await database.transaction(.tenant(ExportBench.tenant)) { tx in
                try await tx.first("SELECT state, size_bytes, entity_counts FROM export_jobs WHERE tenant_id = \(ExportBench.tenant)")!
            }
            guard try job.string("state") == "succeeded" else { throw ValidationError("the export did not succeed") }

            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let seconds = { (duration: Duration) in Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
            print("store:          \(store.databaseURL == nil ? "sqlite" : "postgres")")
            print("rows:           \(rows) messages (\(try job.string("entity_counts")))")
            print(String(format: "baseline read:  %.2f s", seconds(baseline)))
            print(String(format: "export:         %.2f s  (%.1f× the baseline read)", seconds(export), seconds(export) / seconds(baseline)))
            print(String(format: "archive:        %.1f MiB", Double(try job.int("size_bytes")) / 1_048_576))
            print(String(format: "peak RSS:       %.1f MiB", Double(usage.ru_maxrss) / 1024))
            try await database.close()
        }
    }
}
