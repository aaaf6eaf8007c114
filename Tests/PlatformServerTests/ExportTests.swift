import Crypto
import Foundation
import GRPCCore
import Logging
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Synchronization
import Testing

@testable import PlatformServer

/// Tenant export end to end on every store: jobs, the worker and its leases, the archive read
/// back by Python's zipfile/csv/json, resumable downloads, expiry and the retention purge.
@Suite("Export and retention")
struct ExportTests {
    /// Texts a spreadsheet would run as formulas, and how the CSV carries them.
    static let formulas = [
        #"=HYPERLINK("https://evil.example","Click")"#: #"'=HYPERLINK("https://evil.example","Click")"#,
        "@SUM(A1:A9)": "'@SUM(A1:A9)",
        "-2+3": "'-2+3",
        "+1 call me": "'+1 call me",
    ]
    static let tricky = ["plain", "comma, inside", "quote \"inside\"", "two\nlines", "Café ✓ naïve", "tab\there", "", "-42", "+19185550111"]
        + formulas.keys.sorted()

    /// Messages with awkward bodies (through the real inbound path, which also makes customers),
    /// one call, and an appointment and invoice written straight to the store.
    static func seed(_ platform: TestPlatform, tenant: String = "acme", number: String = "+19185550100") async throws {
        try await platform.createTenant(tenant, tier: .pro)
        _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
            $0.parent = "tenants/\(tenant)"; $0.phoneConfigID = "main"
            $0.phoneConfig = .with { $0.phoneNumber = number }
        }, metadata: platform.metadata(platform.ownerToken))
        let inbound = InboundService.Client(wrapping: platform.client)
        for (index, body) in tricky.enumerated() {
            _ = try await inbound.handleInboundMessage(.with {
                $0.messageSid = "SM" + String(format: "%032x", index + (tenant == "acme" ? 0 : 1000))
                $0.from = "+1555000\(String(format: "%04d", index % 3))"
                $0.to = number
                $0.body = body
            }, metadata: platform.metadata(platform.bridgeToken))
        }
        _ = try await inbound.handleInboundCall(.with {
            $0.callSid = "CA" + String(format: "%032x", tenant == "acme" ? 1 : 2)
            $0.from = "+15550000001"
            $0.to = number
        }, metadata: platform.metadata(platform.bridgeToken))
        try await platform.database.withTenant(tenant) { tx in
            let customer = try await tx.select("customer_id", from: "customers", limit: 1).first!.string("customer_id")
            let now = Date()
            try await tx.insert(into: "appointments", [
                ("appointment_id", "apt1"), ("customer_id", customer), ("service_name", "Full detail, SUV"),
                ("start_time", now.addingTimeInterval(86_400)), ("duration_seconds", 7200), ("status", "scheduled"),
                ("confirmation_skipped", true), ("create_time", now), ("update_time", now),
            ])
            try await tx.update("phone_calls", set: [("caller_said", #"["Do you detail boats?","Thanks, \"bye\""]"#)], where: "1 = 1")
            try await tx.insert(into: "invoices", [
                ("invoice_id", "inv1"), ("customer_id", customer), ("appointment_id", "apt1"), ("invoice_number", "INV-0001"),
                ("lines", #"[{"label":"Full detail","quantity":1,"unit_price_cents":19900,"amount_cents":19900}]"#),
                ("currency_code", "USD"), ("subtotal_cents", 19900), ("total_cents", 19900), ("status", "draft"),
                ("create_time", now), ("update_time", now),
            ])
        }
    }

    /// Moves acme's retention window to end at `end`, as time passing would.
    static func moveWindowEnd(to end: Date, _ platform: TestPlatform) async throws {
        _ = try await platform.database.withTenant("acme") { tx in
            try await tx.update("tenant_billing", set: [("retention_end_time", end)], where: "1 = 1")
        }
    }

    static func start(_ platform: TestPlatform, _ tenant: String = "acme", token: String? = nil, requestID: String = "") async throws -> ExportJob {
        try await ExportService.Client(wrapping: platform.client).startExport(.with {
            $0.parent = "tenants/\(tenant)"
            $0.requestID = requestID
        }, metadata: platform.metadata(token ?? platform.ownerToken))
    }

    static func get(_ platform: TestPlatform, _ name: String) async throws -> ExportJob {
        try await ExportService.Client(wrapping: platform.client).getExport(.with { $0.name = name }, metadata: platform.metadata(platform.ownerToken))
    }

    static func download(_ platform: TestPlatform, _ name: String, offset: Int64 = 0, token: String? = nil) async throws -> (data: Data, chunks: [ExportChunk]) {
        try await ExportService.Client(wrapping: platform.client).downloadExport(.with {
            $0.name = name
            $0.offset = offset
        }, metadata: platform.metadata(token ?? platform.ownerToken)) { response in
            var chunks: [ExportChunk] = []
            for try await chunk in response.messages { chunks.append(chunk) }
            return (chunks.reduce(into: Data()) { $0.append($1.data) }, chunks)
        }
    }

    struct ArchiveContents: Decodable {
        struct File: Decodable {
            let sha256: String
            let size: Int
            let rows: [[String: JSONValue]]
        }
        let names: [String]
        let manifest: JSONValue
        let files: [String: File]
    }

    static func read(_ archive: Data) async throws -> ArchiveContents {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).zip")
        try archive.write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let result = try await PythonOracle.run(script: "read_export.py", arguments: [path.path])
        try #require(result.status == 0, "read_export.py: \(result.output)")
        return try JSONDecoder().decode(ArchiveContents.self, from: Data(result.output.utf8))
    }

    @Test("the archive holds a CSV and a JSON Lines file per entity that parse back to the stored rows", .enabled(if: PythonOracle.python != nil), arguments: TestBackend.available)
    func archiveRoundTrip(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await Self.seed(platform, tenant: "bravo", number: "+19185550200")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: platform.metadata(platform.ownerToken))
            let catalogItems = try await platform.database.withTenant("acme") { try await PackItemRecords.all($0) }
            let started = try await Self.start(platform, token: admin, requestID: "exp-1")
            #expect(started.state == .pending)
            #expect(started.entityCounts.isEmpty, "no count before there is one")
            #expect(try await Self.start(platform, token: admin, requestID: "exp-1").name == started.name, "a retry returns the first job")
            // Small pages, so every entity is read a page at a time, the catalog by its two keys.
            #expect(try await platform.exportWorker(pageSize: 4).runOnce())
            let job = try await Self.get(platform, started.name)
            #expect(job.state == .succeeded)
            #expect(job.progressPercent == 100)
            #expect(job.creator.hasPrefix("tenants/acme/apiKeys/"))
            #expect(abs(job.expireTime.date.timeIntervalSince(job.endTime.date) - 7 * 86_400) < 1)

            let (data, chunks) = try await Self.download(platform, job.name, token: admin)
            #expect(Int64(data.count) == job.sizeBytes)
            #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == job.sha256)
            #expect(chunks.allSatisfy { $0.totalSize == job.sizeBytes && $0.sha256 == job.sha256 })

            let contents = try await Self.read(data)
            #expect(contents.names == ["appointments.csv", "appointments.jsonl", "calls.csv", "calls.jsonl", "catalog.csv", "catalog.jsonl",
                                       "customers.csv", "customers.jsonl", "invoices.csv", "invoices.jsonl", "manifest.json", "messages.csv", "messages.jsonl"])
            let manifest = contents.manifest
            #expect(manifest["schema_version"] == .number(5))
            #expect(manifest["tenant"] == .string("tenants/acme"))
            let counts = Dictionary(uniqueKeysWithValues: job.entityCounts.map { ($0.entity, $0.count) })
            #expect(counts == [
                .customers: 3, .appointments: 1, .invoices: 1, .messages: Int64(Self.tricky.count), .calls: 1, .catalog: Int64(catalogItems.count),
            ])
            let files = try #require(manifest["files"]?.array)
            #expect(files.count == 12, "a CSV and a JSON Lines file for each of the six entities")
            for file in files {
                let path = file["path"]!.string!
                #expect(file["sha256"]?.string == contents.files[path]?.sha256, "\(path)'s checksum")
                #expect(file["rows"]?.number == Double(contents.files[path]?.rows.count ?? -1), "\(path)'s row count")
            }

            // Both files of an entity say the same, and that is what the store holds.
            let stored = try await CommunicationLogService.Client(wrapping: platform.client).listMessages(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(admin)).messages
            let csv = contents.files["messages.csv"]!.rows
            let jsonl = contents.files["messages.jsonl"]!.rows
            #expect(Set(csv.map { $0["body"]!.string! }) == Set(Self.tricky.map { Self.formulas[$0] ?? $0 }), "formulas start with a quote")
            #expect(Set(stored.map(\.body)) == Set(Self.tricky))
            for row in jsonl {
                let twin = try #require(csv.first { $0["message_id"] == row["message_id"] })
                for (column, value) in row {
                    #expect(twin[column]?.string == Self.formulas[value.csvText] ?? value.csvText, "messages.\(column)")
                }
            }
            #expect(Set(jsonl.map { $0["message_sid"]!.string! }) == Set(stored.map(\.messageSid)))
            #expect(!jsonl.contains { $0["to_number"]?.string == "+19185550200" }, "nothing of bravo's")
            let invoice = try #require(contents.files["invoices.jsonl"]?.rows.first)
            #expect(invoice["lines"]?.array?.first?["unit_price_cents"] == .number(19900), "JSON columns stay JSON")
            #expect(invoice["total_cents"] == .number(19900))
            #expect(contents.files["appointments.csv"]?.rows.first?["service_name"] == .string("Full detail, SUV"))
            #expect(contents.files["appointments.csv"]?.rows.first?["confirmation_skipped"] == .string("true"), "true or false on either store")
            #expect(contents.files["appointments.jsonl"]?.rows.first?["confirmation_skipped"] == .bool(true))
            let call = try #require(contents.files["calls.jsonl"]?.rows.first)
            #expect(call["caller_said"] == .array([.string("Do you detail boats?"), .string(#"Thanks, "bye""#)]))
            #expect(jsonl.contains { $0["auto_reply"]?.string?.isEmpty == false }, "a first text keeps the acknowledgement it was answered with")
            // The catalog: each item's content as the JSON it is, with its pack.
            let catalog = try #require(contents.files["catalog.jsonl"]?.rows)
            #expect(catalog.count == catalogItems.count)
            let full = try #require(catalog.first { $0["kind"] == .string("service") && $0["item_key"] == .string("Full Detail") })
            #expect(full["content"]?["price_cents"] != nil && full["pack"] == .string("industryPacks/auto_detailing"), "\(full)")
        }
    }

    @Test("a worker claims one job at a time, the oldest; the next worker the next; a tenant builds one at a time", arguments: TestBackend.available)
    func claimsOneJob(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await Self.seed(platform, tenant: "bravo", number: "+19185550200")
            let first = try await Self.start(platform)
            let again = await failure { try await Self.start(platform, requestID: "again") }
            #expect(again?.code == .failedPrecondition)
            #expect(again?.reason == "export_in_progress")
            #expect(again?.metadata["resource"] == first.name, "it names the export to follow")
            let second = try await Self.start(platform, "bravo", requestID: "second")
            func claim(_ worker: String) async throws -> String? {
                try await platform.database.transaction(.platform) { tx in
                    try await ExportJobRecords.claim(worker: worker, now: Date(), lease: 60, tx)?.name
                }
            }
            #expect(try await claim("w1") == first.name)
            #expect(try await Self.get(platform, second.name).state == .pending, "one claim, one job")
            #expect(try await claim("w2") == second.name)
            #expect(try await claim("w3") == nil)
        }
    }

    @Test("a worker's start clears scratch a crashed attempt left, and archive files of the version that kept them on disk", arguments: TestBackend.available)
    func leftoversCleared(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await Self.seed(platform, tenant: "bravo", number: "+19185550200")
            let running = try await Self.start(platform)
            let crashed = try await Self.start(platform, "bravo", requestID: "crashed")
            let (runningID, crashedID) = (String(running.name.split(separator: "/").last!), String(crashed.name.split(separator: "/").last!))
            _ = try await platform.database.transaction(.platform) { tx in
                try await ExportJobRecords.claim(worker: "alive", now: Date(), lease: 600, tx)
            }
            let directory = platform.exportsDirectory
            let live = directory.appendingPathComponent(".work-\(runningID)-alive")
            let stale = directory.appendingPathComponent(".work-\(crashedID)-4c1f-dead-worker")
            let legacy = directory.appendingPathComponent("acme/\(crashedID).zip")
            let outside = FileManager.default.temporaryDirectory.appendingPathComponent("not-an-archive-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: outside) }
            for folder in [live, stale, legacy.deletingLastPathComponent()] {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            }
            try Data("zip".utf8).write(to: legacy)
            try Data("keep".utf8).write(to: outside)
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE export_jobs SET archive_path = \(legacy.path) WHERE export_id = \(crashedID)")
                try await tx.execute("UPDATE export_jobs SET archive_path = \(outside.path) WHERE export_id = \(runningID)")
            }
            // Built by a replica whose directory has the same name on another disk.
            let elsewhere = directory.appendingPathComponent("acme/elsewhere.zip").path
            try await platform.database.withTenant("acme") { tx in
                try await tx.insert(into: "export_jobs", [
                    ("export_id", "elsewhere"), ("state", "succeeded"), ("entities", "messages"), ("creator", "test"),
                    ("create_time", Date()), ("archive_path", elsewhere),
                ])
            }

            try await platform.exportWorker().clearLeftovers()
            let exists = { (url: URL) in FileManager.default.fileExists(atPath: url.path) }
            #expect(exists(live), "a live attempt's scratch stays")
            #expect(!exists(stale))
            #expect(!exists(legacy))
            #expect(exists(outside), "nothing outside the exports directory is touched")
            let paths = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT archive_path FROM export_jobs WHERE archive_path IS NOT NULL").map { try $0.string("archive_path") }
            }
            #expect(Set(paths) == [outside.path, elsewhere], "another replica's archive is left for its own worker")
        }
    }

    @Test("every column the store keeps for an exported entity is in its files", arguments: TestBackend.available)
    func exportsEveryColumn(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            for table in ExportTable.all {
                let stored = try await platform.database.transaction(.platform) { tx in
                    switch backend {
                    case .sqlite:
                        try await tx.query("SELECT name FROM pragma_table_info(\(table.table))").map { try $0.string("name") }
                    case .postgres:
                        try await tx.query("""
                            SELECT column_name AS name FROM information_schema.columns
                            WHERE table_schema = current_schema() AND table_name = \(table.table)
                            """).map { try $0.string("name") }
                    }
                }
                // The tenant is the archive's own; the revision is the store's bookkeeping.
                let kept = Set(stored).subtracting(["tenant_id", "revision"])
                #expect(kept == Set(table.columns.map(\.name)), "\(table.file)")
            }
        }
    }

    @Test("an archive is one snapshot: what is written while it is built is not in it", arguments: TestBackend.available)
    func archiveIsOneSnapshot(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            let started = try await Self.start(platform)
            let exportID = String(try #require(started.name.split(separator: "/").last))
            let job = try #require(try await platform.database.withTenant("acme") { try await ExportJobRecords.find(exportID: exportID, $0) })
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }

            // After the first page: a new customer with an appointment, each sorting after every
            // row already there (pages resume by id), and the one invoice gone.
            let wrote = Mutex(false)
            let archive = try await ExportArchiveBuilder(database: platform.database, pageSize: 1).build(job, in: work) { _ in
                guard wrote.withLock({ wrote in defer { wrote = true }; return !wrote }) else { return }
                try await platform.database.withTenant("acme") { tx in
                    let now = Date()
                    try await tx.insert(into: "customers", [("customer_id", "zzzz-late"), ("display_name", "Late"), ("create_time", now), ("update_time", now)])
                    try await tx.insert(into: "appointments", [
                        ("appointment_id", "zzzz-late"), ("customer_id", "zzzz-late"), ("service_name", "Wash"), ("start_time", now),
                        ("duration_seconds", 3600), ("status", "scheduled"), ("create_time", now), ("update_time", now),
                    ])
                    try await tx.delete(from: "invoices")
                }
            }
            #expect(wrote.withLock { $0 })
            #expect(archive.counts == [.customers: 3, .appointments: 1, .invoices: 1, .messages: Int64(Self.tricky.count), .calls: 1, .catalog: 0])
            let stored = try await platform.database.withTenant("acme") { tx in
                (try await tx.select("customer_id", from: "customers").count, try await tx.select("invoice_id", from: "invoices").count)
            }
            #expect(stored == (4, 0), "the writes went through")
        }
    }

    /// The attempts whose archive chunks acme has in the store.
    static func storedAttempts(_ platform: TestPlatform) async throws -> Set<Int64> {
        try await platform.database.transaction(.platform) { tx in
            Set(try await tx.query("SELECT DISTINCT attempt FROM export_archive_chunks WHERE tenant_id = 'acme'").map { try $0.int("attempt") })
        }
    }

    @Test("long blocking work keeps its lease: the heartbeat beats while it runs, and a lost lease ends the wait once it is done")
    func heartbeat() async throws {
        let beats = Mutex(0)
        let result = try await withHeartbeat(every: .milliseconds(20), { beats.withLock { $0 += 1 } }) {
            try await Task.sleep(for: .milliseconds(300))
            return "deflated"
        }
        #expect(result == "deflated")
        #expect(beats.withLock { $0 } >= 3, "a lease of 60 ms would have been renewed all along")
        let settled = beats.withLock { $0 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(beats.withLock { $0 } == settled, "no beat after the work is done")

        struct LeaseLost: Error {}
        let finished = Mutex(false)
        await #expect(throws: LeaseLost.self) {
            try await withHeartbeat(every: .milliseconds(20), { throw LeaseLost() }) {
                try? await Task.sleep(for: .milliseconds(200))
                finished.withLock { $0 = true }
            }
        }
        #expect(finished.withLock { $0 }, "the work that cannot be stopped finished before the error")
    }

    @Test("a failed attempt hands the job back for another, later; after five the job fails", arguments: TestBackend.available)
    func failedAttempts(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            func moveMessages(_ from: String, _ to: String) async throws {
                try await platform.database.transaction(.platform) { try await $0.execute("ALTER TABLE \(raw: from) RENAME TO \(raw: to)") }
            }
            let worker = platform.exportWorker()
            let retried = try await Self.start(platform)
            try await moveMessages("text_messages", "text_messages_away")
            #expect(try await worker.runOnce())
            let handedBack = try await Self.get(platform, retried.name)
            #expect(handedBack.state == .running, "a store that failed for a moment fails no export")
            #expect(handedBack.error.isEmpty)
            try await moveMessages("text_messages_away", "text_messages")
            #expect(try await worker.runOnce() == false, "not at once: the next attempt waits")
            #expect(try await worker.runOnce(now: Date().addingTimeInterval(ExportWorker.retryBackoff + 1)))
            #expect(try await Self.get(platform, retried.name).state == .succeeded)

            let doomed = try await Self.start(platform)
            try await moveMessages("text_messages", "text_messages_away")
            var later = Date()
            for _ in 1...ExportWorker.maxAttempts {
                #expect(try await worker.runOnce(now: later))
                later += ExportWorker.retryBackoff * Double(ExportWorker.maxAttempts) + 1
            }
            #expect(try await Self.get(platform, doomed.name).state == .running)
            #expect(try await worker.runOnce(now: later))
            let failed = try await Self.get(platform, doomed.name)
            #expect(failed.state == .failed)
            #expect(failed.error.contains("5 attempts"), "\(failed.error)")
            try await moveMessages("text_messages_away", "text_messages")
        }
    }

    @Test("an archive expires no later than the tenant's retention window, when its data is purged", arguments: TestBackend.available)
    func expiryWithinRetention(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await platform.setStatus("acme", .cancelled)
            let windowEnd = Date().addingTimeInterval(3 * 86_400)
            try await Self.moveWindowEnd(to: windowEnd, platform)
            let started = try await Self.start(platform)
            #expect(try await platform.exportWorker().runOnce())
            let job = try await Self.get(platform, started.name)
            #expect(job.state == .succeeded)
            #expect(abs(job.expireTime.date.timeIntervalSince(windowEnd)) < 1, "not the 7 days an active tenant's archive has")

            // Past its expiry, before any worker marks it, it lists as it reads: expired.
            _ = try await platform.database.withTenant("acme") { tx in
                try await tx.update("export_jobs", set: [("expire_time", Date().addingTimeInterval(-1))], where: "1 = 1")
            }
            func listed(_ state: ExportJobState) async throws -> [String] {
                try await ExportService.Client(wrapping: platform.client).listExports(
                    .with { $0.parent = "tenants/acme"; $0.state = state }, metadata: platform.metadata(platform.ownerToken)).exports.map(\.name)
            }
            #expect(try await listed(.expired) == [job.name])
            #expect(try await listed(.succeeded).isEmpty)
        }
    }

    @Test("an export asked for late in the window is built and can be fetched for a day: the purge waits for it", arguments: TestBackend.available)
    func lateExportOutlivesWindow(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await platform.setStatus("acme", .cancelled)
            let windowEnd = Date().addingTimeInterval(600)
            try await Self.moveWindowEnd(to: windowEnd, platform)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
            let started = try await Self.start(platform)
            let afterWindow = windowEnd.addingTimeInterval(60)
            #expect(try await purger.runOnce(now: afterWindow).isEmpty, "not while the export waits to be built")

            #expect(try await platform.exportWorker().runOnce())
            let job = try await Self.get(platform, started.name)
            #expect(job.state == .succeeded)
            #expect(job.expireTime.date.timeIntervalSinceNow > 86_000, "a day to fetch it, past the window's end")
            #expect(try await purger.runOnce(now: afterWindow).isEmpty, "not while it can be fetched")
            #expect(try await purger.runOnce(now: job.expireTime.date.addingTimeInterval(1)) == ["acme"])
        }
    }

    @Test("an archive built after the window's end can be fetched until its expire time: the purge waits for it", arguments: TestBackend.available)
    func archiveBuiltAfterWindow(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await platform.setStatus("acme", .cancelled)
            let started = try await Self.start(platform)
            // The window ended three hours before a worker got to the export.
            let windowEnd = Date().addingTimeInterval(-3 * 3600)
            try await Self.moveWindowEnd(to: windowEnd, platform)
            #expect(try await platform.exportWorker().runOnce())
            let job = try await Self.get(platform, started.name)
            #expect(job.state == .succeeded)
            let expiry = job.expireTime.date
            #expect(expiry.timeIntervalSince(windowEnd) > 26 * 3600, "a day from when it was built, not from the window's end")

            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
            #expect(try await purger.runOnce(now: windowEnd.addingTimeInterval(25 * 3600)).isEmpty, "a day past the window, but not past the archive's expiry")
            #expect(try await Self.download(platform, job.name).data.count == Int(job.sizeBytes))
            #expect(try await purger.runOnce(now: expiry.addingTimeInterval(1)) == ["acme"])
        }
    }

    @Test("a tenant purged while suspended, under the earlier rule, keeps the record of it when staff take its suspension over", arguments: TestBackend.available)
    func purgedUnderTheEarlierRule(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            _ = try await platform.setStatus("acme", .suspended)
            let purged = Date().addingTimeInterval(-86_400)
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE tenant_billing SET data_purge_time = \(purged), retention_end_time = \(purged) WHERE tenant_id = 'acme'")
            }
            _ = try await platform.setStatus("acme", .suspended, reason: "staff take it over")
            let refused = await failure { try await Self.start(platform) }
            #expect(refused?.reason == "retention_ended")
            #expect(refused?.message.contains("data was deleted") == true, "\(String(describing: refused))")
            // Back in business, the purge is history.
            _ = try await platform.setStatus("acme", .active)
            _ = try await Self.start(platform)
        }
    }

    @Test("a suspended tenant, for want of payment or by staff, keeps its data however long it stays so, and exports for an archive's whole lifetime; cancelled, it exports until its window ends, then an export is refused, saying whether its data is due or deleted", arguments: TestBackend.available)
    func exportWhileSuspended(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
            func exportWhileKept(_ why: String) async throws {
                let billing = try await platform.billing.getTenantBilling(
                    .with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
                #expect(billing.status == .suspended, "\(why)")
                #expect(!billing.hasRetentionEndTime, "\(why): a suspension starts no window, non-payment never deletes data")
                #expect(try await purger.runOnce(now: Date().addingTimeInterval(1000 * 86_400)).isEmpty, "\(why): its data is kept, however long it stays suspended")
                let started = try await Self.start(platform)
                #expect(try await platform.exportWorker().runOnce())
                let job = try await Self.get(platform, started.name)
                #expect(job.state == .succeeded, "\(why)")
                #expect(job.expireTime.date.timeIntervalSinceNow > 6 * 86_400, "\(why): the archive's whole lifetime: no purge is coming")
            }
            try await StripeBillingTests.lapse("acme", reason: "grace period over", on: platform)
            try await exportWhileKept("suspended for want of payment")
            // Staff take the suspension over, while Stripe still bills the tenant, say: still no window.
            let held = try await platform.setStatus("acme", .suspended, reason: "abuse review")
            #expect(held.suspendedByStaff)
            try await exportWhileKept("held suspended by staff")
            // A window left on its row from before suspensions lost theirs (migration 36 clears
            // those) deletes nothing either, and refuses no export: only a cancelled tenant's data goes.
            try await Self.moveWindowEnd(to: Date().addingTimeInterval(-60), platform)
            #expect(try await purger.runOnce().isEmpty, "its data is kept")
            let stale = try await Self.start(platform)
            #expect(try await platform.exportWorker().runOnce())
            #expect(try await Self.get(platform, stale.name).expireTime.date.timeIntervalSinceNow > 6 * 86_400, "no purge is coming")

            // Cancelled: its window starts from the cancellation, and it exports until the window ends.
            let cancelled = try await platform.setStatus("acme", .cancelled)
            #expect(abs(cancelled.retentionEndTime.date.timeIntervalSince(cancelled.statusChangeTime.date) - BillingSettings().retentionWindow) < 1,
                    "the window counts from the cancellation, not from the suspension before it")
            let last = try await Self.start(platform)
            #expect(try await platform.exportWorker().runOnce())
            let job = try await Self.get(platform, last.name)
            #expect(job.state == .succeeded)

            // Its window ends: its data is due, and the purge waits only for its archives.
            try await Self.moveWindowEnd(to: Date().addingTimeInterval(-60), platform)
            let due = await failure { try await Self.start(platform) }
            #expect(due?.code == .failedPrecondition)
            #expect(due?.reason == "retention_ended")
            #expect(due?.message.contains("its data is due to be deleted") == true, "\(String(describing: due))")
            #expect(try await purger.runOnce().isEmpty, "not while its archives can be fetched")
            #expect(try await purger.runOnce(now: job.expireTime.date.addingTimeInterval(1)) == ["acme"], "the last archive built expires last")
            let deleted = await failure { try await Self.start(platform) }
            #expect(deleted?.reason == "retention_ended")
            #expect(deleted?.message.contains("data was deleted at") == true, "\(String(describing: deleted))")
        }
    }

    @Test("a worker killed mid-export leaves the job to the next worker, which finishes it once", arguments: TestBackend.available)
    func killedWorker(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let now = Date()
            try await platform.database.withTenant("acme") { tx in
                for index in 0..<200 {
                    try await tx.insert(into: "text_messages", [
                        ("message_id", String(format: "m%05d", index)), ("message_sid", "SM" + String(format: "%032x", index)),
                        ("direction", "inbound"), ("from_number", "+15550001111"), ("to_number", "+19185550100"),
                        ("body", "message \(index)"), ("status", "received"), ("create_time", now), ("update_time", now),
                    ])
                }
            }
            let started = try await Self.start(platform)
            let doomed = platform.exportWorker("doomed", pageSize: 1, lease: 30)
            let run = Task { try await doomed.runOnce() }
            // Killed once it has written some pages.
            try await poll("the export to make progress", within: .seconds(60)) { try await Self.get(platform, started.name).progressPercent >= 10 }
            run.cancel()
            _ = await run.result
            let stranded = try await Self.get(platform, started.name)
            #expect(stranded.state == .running)
            #expect(stranded.progressPercent < 100)

            // Another worker leaves a live lease alone, and takes over once it has run out.
            let next = platform.exportWorker("next", pageSize: 50)
            #expect(try await next.runOnce() == false)
            #expect(try await next.runOnce(now: Date().addingTimeInterval(31)))
            let finished = try await Self.get(platform, started.name)
            #expect(finished.state == .succeeded)
            #expect(finished.entityCounts.first { $0.entity == .messages }?.count == 200)
            let attempts = try await platform.database.withTenant("acme") { try await $0.select("attempts", from: "export_jobs").first!.int("attempts") }
            #expect(attempts == 2)
            #expect(try await next.runOnce(now: Date().addingTimeInterval(120)) == false, "nothing is built twice")
            #expect(try await Self.storedAttempts(platform) == [2], "one archive, the winner's; nothing of the killed attempt")
            let scratch = try FileManager.default.contentsOfDirectory(atPath: platform.exportsDirectory.path)
            #expect(scratch.isEmpty, "no work left behind: \(scratch)")
            let (data, _) = try await Self.download(platform, started.name)
            #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == finished.sha256)
        }
    }

    @Test("an archive of several chunks downloads whole, and from an offset in any of them", arguments: TestBackend.available)
    func multiChunkArchive(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let now = Date()
            // Random text deflates poorly, so the archive spans several 1 MiB chunks.
            let bodies = (0..<1_200).map { _ in Data((0..<900).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() }
            try await platform.database.withTenant("acme") { tx in
                for (index, body) in bodies.enumerated() {
                    try await tx.insert(into: "text_messages", [
                        ("message_id", String(format: "m%05d", index)), ("message_sid", "SM" + String(format: "%032x", index)),
                        ("direction", "inbound"), ("from_number", "+15550001111"), ("to_number", "+19185550100"),
                        ("body", body), ("status", "received"), ("create_time", now), ("update_time", now),
                    ])
                }
            }
            let started = try await Self.start(platform)
            try await platform.exportWorker().runOnce()
            let job = try await Self.get(platform, started.name)
            let chunk = Int64(1 << 20)
            #expect(job.sizeBytes > 2 * chunk)
            let (whole, chunks) = try await Self.download(platform, job.name)
            #expect(chunks.map(\.offset) == stride(from: 0, to: job.sizeBytes, by: Int(chunk)).map { $0 })
            #expect(SHA256.hash(data: whole).map { String(format: "%02x", $0) }.joined() == job.sha256)
            for offset in [chunk - 1, chunk, chunk + 5, 2 * chunk + 17, job.sizeBytes - 1] {
                let (rest, _) = try await Self.download(platform, job.name, offset: offset)
                #expect(rest == whole.dropFirst(Int(offset)), "from \(offset)")
            }
        }
    }

    @Test("downloads resume from an offset; bad offsets, unfinished and expired exports are refused", arguments: TestBackend.available)
    func downloadsAndExpiry(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            let started = try await Self.start(platform)
            let early = await failure { try await Self.download(platform, started.name) }
            #expect(early?.reason == "export_not_ready")
            try await platform.exportWorker().runOnce()
            let job = try await Self.get(platform, started.name)
            // Served from the store, not from the disk of the replica that built it.
            try FileManager.default.removeItem(at: platform.exportsDirectory)
            let (whole, chunks) = try await Self.download(platform, job.name)
            #expect(Int64(whole.count) == job.sizeBytes)
            #expect(chunks.allSatisfy { $0.data.count <= 1 << 20 })

            // A broken download keeps what arrived and asks for the rest.
            let kept = whole.prefix(whole.count / 3)
            let (rest, restChunks) = try await Self.download(platform, job.name, offset: Int64(kept.count))
            #expect(restChunks.first?.offset == Int64(kept.count))
            #expect(SHA256.hash(data: kept + rest).map { String(format: "%02x", $0) }.joined() == job.sha256)
            let (nothing, _) = try await Self.download(platform, job.name, offset: job.sizeBytes)
            #expect(nothing.isEmpty)
            let pastTheEnd = await failure { try await Self.download(platform, job.name, offset: job.sizeBytes + 1) }
            #expect(pastTheEnd?.code == .outOfRange)
            #expect(pastTheEnd?.reason == "offset_past_end")
            #expect(pastTheEnd?.metadata == ["size_bytes": "\(job.sizeBytes)"])
            let negative = await failure { try await Self.download(platform, job.name, offset: -1) }
            #expect(negative?.code == .invalidArgument)
            #expect(negative?.fields == ["offset"])

            // Another tenant's export does not exist for acme's admin.
            try await platform.createTenant("bravo")
            let bravoAdmin = try await platform.token(role: .tenantAdmin, tenant: "bravo")
            let foreign = await failure {
                try await ExportService.Client(wrapping: platform.client).getExport(
                    .with { $0.name = job.name.replacingOccurrences(of: "tenants/acme", with: "tenants/bravo") },
                    metadata: platform.metadata(bravoAdmin))
            }
            #expect(foreign?.code == .notFound)
            #expect(await failure { try await Self.download(platform, job.name, token: bravoAdmin) }?.code == .notFound)

            // Seven days on, the archive is gone.
            try await platform.exportWorker().runOnce(now: Date().addingTimeInterval(7 * 86_400 + 60))
            #expect(try await Self.get(platform, job.name).state == .expired)
            let expired = await failure { try await Self.download(platform, job.name) }
            #expect(expired?.code == .failedPrecondition)
            #expect(expired?.reason == "export_expired")
            #expect(try await Self.storedAttempts(platform).isEmpty, "the archive is deleted from the store")
            let listed = try await ExportService.Client(wrapping: platform.client).listExports(
                .with { $0.parent = "tenants/acme"; $0.state = .expired }, metadata: platform.metadata(platform.ownerToken))
            #expect(listed.exports.map(\.name) == [job.name])
        }
    }

    @Test("a week before its window ends, a cancelled tenant is told what goes and how to keep it, once a window; a suspended one has no window, and is never told", arguments: TestBackend.available)
    func retentionWarning(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = platform.tenants(platform.ownerToken)
            // acme, bravo and cairo are cancelled; dover is suspended by staff, essex for want of payment.
            for (id, email, phone) in [
                ("acme", "owner@acme.example", ""), ("bravo", "", "+19185550177"), ("cairo", "", ""),
                ("dover", "owner@dover.example", ""), ("essex", "owner@essex.example", "+19185550178"),
            ] {
                try await platform.createTenant(id, displayName: "\(id.capitalized) Detailing")
                _ = try await tenants.updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/\(id)"; $0.contact = .with { $0.email = email; $0.phone = phone } }
                    $0.updateMask = .init(protoPaths: ["contact.email", "contact.phone"])
                })
                switch id {
                case "dover": try await platform.setStatus(id, .suspended, reason: "abuse review")
                case "essex": try await StripeBillingTests.lapse(id, reason: "grace period over", on: platform)
                default: try await platform.setStatus(id, .cancelled)
                }
            }
            func warnings(_ tenant: String) async throws -> [(channel: String, recipient: String, subject: String, body: String)] {
                try await platform.database.withTenant(tenant) { tx in
                    try await tx.select(from: "outbox_messages", where: "purpose = \(RetentionWarning.purpose)").map {
                        (try $0.string("channel"), try $0.string("recipient"), try $0.string("subject"), try $0.string("body"))
                    }
                }
            }
            func billing(_ tenant: String) async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(tenant)/billing" }, metadata: platform.metadata(platform.ownerToken))
            }
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
            let windowEnd = try await billing("acme").retentionEndTime.date
            for suspended in ["dover", "essex"] {
                #expect(try await !billing(suspended).hasRetentionEndTime, "\(suspended): a suspension has no window")
            }

            #expect(try await purger.runOnce(now: windowEnd.addingTimeInterval(-8 * 86_400)).isEmpty)
            #expect(try await warnings("acme").isEmpty, "not yet: more than a week to go")
            #expect(try await purger.runOnce(now: windowEnd.addingTimeInterval(-6 * 86_400)).isEmpty)
            let day = windowEnd.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day())
            let mailed = try await warnings("acme")
            #expect(mailed.count == 1)
            #expect(mailed.first?.channel == "email" && mailed.first?.recipient == "owner@acme.example")
            #expect(mailed.first?.subject == "Acme Detailing: your data will be deleted on \(day)")
            #expect(mailed.first?.body.contains("Acme Detailing's ServicePro account was cancelled.") == true)
            #expect(mailed.first?.body.contains("spctl export start tenants/acme --wait") == true)
            #expect(mailed.first?.body.contains("message and call logs and services will be deleted for good, and its phone settings with them") == true,
                    "phone settings are deleted too, but are not in the export it is told to make")
            #expect(mailed.first?.body.contains("To keep a copy of its data, export it before then") == true)
            #expect(mailed.first?.body.contains("ask us to reactivate it before \(day)") == true, "a cancelled tenant keeps it by coming back")
            #expect(mailed.first?.body.contains("settle what is due") == false, "paying keeps no cancelled tenant's data")
            let texted = try await warnings("bravo")
            #expect(texted.map(\.channel) == ["sms"] && texted.first?.recipient == "+19185550177", "no address: a text")
            #expect(texted.first?.body.contains("Bravo Detailing's ServicePro account was cancelled; its data will be deleted on ") == true)
            #expect(texted.first?.body.contains("ask us to reactivate it") == true)
            #expect(try await warnings("cairo").isEmpty, "nowhere to send it")
            for suspended in ["dover", "essex"] {
                #expect(try await warnings(suspended).isEmpty, "\(suspended): suspended, its data is not going anywhere")
            }

            #expect(try await purger.warnOfPurges(now: windowEnd.addingTimeInterval(-5 * 86_400)).isEmpty, "a tenant told is not looked at again")
            #expect(try await warnings("acme").count == 1, "once a window")

            // Brought back, nothing is coming; cancelled again, a new window brings a new warning.
            try await platform.setStatus("acme", .active)
            try await platform.setStatus("acme", .cancelled)
            let nextEnd = try await billing("acme").retentionEndTime.date
            #expect(nextEnd > windowEnd)
            #expect(try await purger.warnOfPurges(now: nextEnd.addingTimeInterval(-6 * 86_400)) == ["acme"])
            #expect(try await warnings("acme").count == 2)
            let purged = try await purger.runOnce(now: nextEnd.addingTimeInterval(60))
            #expect(purged.contains("acme"))
            #expect(!purged.contains("dover") && !purged.contains("essex"), "a suspended tenant's data is never purged")
            #expect(try await purger.runOnce(now: nextEnd.addingTimeInterval(1000 * 86_400)).isEmpty, "however long it stays suspended")
            for suspended in ["dover", "essex"] {
                #expect(try await warnings(suspended).isEmpty, "\(suspended): never warned of a purge")
                #expect(try await billing(suspended).status == .suspended)
            }
        }
    }

    @Test("suspended and cancelled tenants can export while other calls are refused; a suspended tenant's data is never purged, a cancelled one's only after the window its cancellation starts", arguments: TestBackend.available)
    func retention(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.seed(platform)
            try await Self.seed(platform, tenant: "bravo", number: "+19185550200")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            func rows(_ tenant: String) async throws -> Int64 {
                try await platform.database.transaction(.platform) { tx in
                    var total: Int64 = 0
                    for table in RetentionPurgeJob.purgedTables {
                        total += try await tx.first("SELECT COUNT(*) AS n FROM \(raw: table) WHERE tenant_id = \(tenant)")!.int("n")
                    }
                    return total
                }
            }
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
            let suspended = try await platform.setStatus("acme", .suspended)
            #expect(!suspended.hasRetentionEndTime, "a suspension starts no window")
            let rename = UpdateTenantRequest.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Tulsa" }
                $0.updateMask = .init(protoPaths: ["city"])
            }
            #expect(await failure { try await platform.tenants(admin).updateTenant(rename) }?.reason == "tenant_suspended")
            let suspendedExport = try await Self.start(platform, token: admin)
            try await platform.exportWorker().runOnce()
            #expect(try await Self.get(platform, suspendedExport.name).state == .succeeded)
            let kept = try await rows("acme")
            #expect(try await purger.runOnce(now: Date().addingTimeInterval(1000 * 86_400)).isEmpty, "suspended: never purged, however long past 90 days")
            #expect(try await rows("acme") == kept)
            let cancelled = try await platform.setStatus("acme", .cancelled)
            #expect(abs(cancelled.retentionEndTime.date.timeIntervalSince(cancelled.statusChangeTime.date) - 90 * 86_400) < 1,
                    "the window counts from the cancellation")
            #expect(await failure { try await platform.tenants(admin).updateTenant(rename) }?.reason == "tenant_cancelled")
            let cancelledExport = try await Self.start(platform, token: admin)
            try await platform.exportWorker().runOnce()
            #expect(try await Self.get(platform, cancelledExport.name).state == .succeeded)
            _ = try await Self.download(platform, cancelledExport.name, token: admin)

            let before = try await rows("acme")
            #expect(try await purger.runOnce().isEmpty, "not before the window ends")
            #expect(try await purger.runOnce(now: Date().addingTimeInterval(89 * 86_400)).isEmpty)
            #expect(try await rows("acme") == before)

            let purged = try await purger.runOnce(now: Date().addingTimeInterval(91 * 86_400))
            #expect(purged == ["acme"], "bravo is active: never purged")
            #expect(try await rows("acme") == 0)
            #expect(try await rows("bravo") > 0)
            #expect(try await purger.runOnce(now: Date().addingTimeInterval(1000 * 86_400)).isEmpty)
            let event = try await platform.database.transaction(.platform) { tx in
                try await tx.first("SELECT details, real_actor FROM audit_events WHERE tenant_id = 'acme' AND method = 'PurgeTenantData'")
            }
            #expect(try event?.string("real_actor") == "jobs/retention")
            #expect(try event?.string("details").contains("\"text_messages\":\"\(Self.tricky.count)\"") == true)
            #expect(try await Self.storedAttempts(platform).isEmpty, "the purge deletes the archives too")
            // The tenant, its billing record and its audit trail remain.
            #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken)).status == .cancelled)

            // Reactivated, it builds up data again; cancelled again, its next window ends in a purge too.
            try await platform.setStatus("acme", .active)
            try await platform.database.withTenant("acme") { tx in
                try await tx.insert(into: "customers", [("customer_id", "back"), ("display_name", "Back Again"), ("create_time", Date()), ("update_time", Date())])
            }
            try await platform.setStatus("acme", .cancelled)
            #expect(try await purger.runOnce(now: Date().addingTimeInterval(89 * 86_400)).isEmpty)
            #expect(try await rows("acme") == 1)
            #expect(try await purger.runOnce(now: Date().addingTimeInterval(91 * 86_400)) == ["acme"])
            #expect(try await rows("acme") == 0)

            // Once the window has ended, an export would hold nothing: it is refused, and nothing starts.
            try await Self.moveWindowEnd(to: Date().addingTimeInterval(-60), platform)
            let late = await failure { try await Self.start(platform) }
            #expect(late?.code == .failedPrecondition)
            #expect(late?.reason == "retention_ended")
            #expect(try await rows("acme") == 0)
        }
    }
}

/// Any JSON value, to compare what Python parsed.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Swift.Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { return value } else { return nil } }
    var number: Double? { if case .number(let value) = self { return value } else { return nil } }
    var array: [JSONValue]? { if case .array(let value) = self { return value } else { return nil } }

    /// How the same value reads in the CSV file: numbers as integers, null as empty.
    var csvText: String {
        switch self {
        case .string(let value): return value
        case .number(let value): return String(Int64(value))
        case .bool(let value): return value ? "true" : "false"
        case .null: return ""
        case .array, .object: return ""
        }
    }
}
