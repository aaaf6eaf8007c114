import Foundation
import Logging
@testable import PlatformServer
import PlatformTestSupport
import Testing

/// The same expectations of the store interface, on every backend.
@Suite("Store conformance")
struct StoreConformanceTests {
    /// The migrations the platform's store records as applied, in no order.
    static func appliedVersions(_ platform: TestPlatform) async throws -> [Int] {
        try await platform.database.transaction(.platform) { tx in
            try await tx.query("SELECT version FROM schema_migrations").map { Int(try $0.int("version")) }
        }
    }

    @Test("a failed transaction leaves nothing behind", arguments: TestBackend.available)
    func rollback(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            struct Injected: Error {}
            await #expect(throws: Injected.self) {
                try await platform.database.withTenant("ghost") { tx in
                    try await tx.insert(into: "tenants", [
                        ("display_name", "Ghost"), ("plan_tier", "starter"), ("status", "active"),
                        ("create_time", Date()), ("update_time", Date()),
                    ])
                    throw Injected()
                }
            }
            let rows = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT tenant_id FROM tenants WHERE tenant_id = \("ghost")")
            }
            #expect(rows.isEmpty)
        }
    }

    @Test("every table with a tenant_id is deleted with its tenant and purged after its retention window, or kept on purpose", arguments: TestBackend.available)
    func everyTenantTableHasAnEnd(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tables = try await platform.database.transaction(.platform) { tx in
                switch backend {
                case .sqlite:
                    try await tx.query("""
                        SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) c
                        WHERE m.type = 'table' AND c.name = 'tenant_id'
                        """).map { try $0.string("name") }
                case .postgres:
                    try await tx.query("""
                        SELECT table_name AS name FROM information_schema.columns
                        WHERE column_name = 'tenant_id' AND table_schema = current_schema()
                        """).map { try $0.string("name") }
                }
            }
            // The audit trail outlives its tenant; Stripe's event ledger is the platform's, naming
            // a tenant when it knows one; archive chunks go with their export jobs (a cascade); a
            // number's release is how the platform gets its bought numbers back after the tenant.
            let keptOnPurpose: Set = ["audit_events", "stripe_events", "export_archive_chunks", "number_releases"]
            #expect(!tables.isEmpty)
            for table in tables where !keptOnPurpose.contains(table) {
                #expect(TenantRecords.deletedTables.contains(table), "\(table) is left behind when its tenant is deleted")
                #expect(RetentionPurgeJob.purgedTables.contains(table) || ["tenants", "tenant_billing"].contains(table),
                        "\(table) is kept past its tenant's retention window")
            }
        }
    }

    @Test("the tenant-scoped handle only reaches its own tenant", arguments: TestBackend.available)
    func tenantHandleIsolation(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("alpha")
            try await platform.createTenant("bravo")
            let alphaSees = try await platform.database.withTenant("alpha") { tx in
                try await tx.select("tenant_id", from: "tenants").map { try $0.string("tenant_id") }
            }
            #expect(alphaSees == ["alpha"])
            let changed = try await platform.database.withTenant("alpha") { tx in
                try await tx.update("tenants", set: [("city", "Nowhere")], where: "tenant_id = \("bravo")")
            }
            #expect(changed == 0)
            let bravo = try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/bravo" })
            #expect(bravo.city == "")
        }
    }

    @Test("times are stored as microseconds, and one past Int64's range saturates instead of trapping")
    func timesAsMicroseconds() {
        #expect(Date(timeIntervalSince1970: 1.5).sqlValue == .integer(1_500_000))
        #expect(Date(timeIntervalSince1970: -1.5).sqlValue == .integer(-1_500_000))
        #expect(Date(timeIntervalSince1970: 1e13).sqlValue == .integer(.max))
        #expect(Date(timeIntervalSince1970: -1e13).sqlValue == .integer(.min))
    }

    @Test("export timestamps are RFC 3339, and stored times past its four-digit years are written as the nearest it has")
    func rfc3339() {
        func written(_ microseconds: Int64) -> String {
            var out: [UInt8] = []
            RFC3339.append(microseconds: microseconds, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(written(1_795_745_246_725_385) == "2026-11-27T02:07:26.725385Z")
        #expect(written(-1) == "1969-12-31T23:59:59.999999Z")
        #expect(written(.max) == "9999-12-31T23:59:59.999999Z")
        #expect(written(.min) == "0001-01-01T00:00:00.000000Z")
        #expect(written(-100_000_000_000_000_000) == "0001-01-01T00:00:00.000000Z")
    }

    @Test("PostgreSQL placeholders are numbered in order, never inside a string literal, and other text is kept")
    func placeholdersAreNumbered() {
        #expect(PostgresTransaction.numberPlaceholders("SELECT ? WHERE a = ? AND b = '?' AND c = ?") == "SELECT $1 WHERE a = $2 AND b = '?' AND c = $3")
        #expect(PostgresTransaction.numberPlaceholders("UPDATE t SET name = 'Café ☕️ ?', n = ?") == "UPDATE t SET name = 'Café ☕️ ?', n = $1")
        // A quote or question mark followed by a combining mark is still one, as PostgreSQL reads it.
        #expect(PostgresTransaction.numberPlaceholders("SELECT '\u{301}?' , ?\u{FE0F}") == "SELECT '\u{301}?' , $1\u{FE0F}")
        #expect(PostgresTransaction.numberPlaceholders(Array(repeating: "?", count: 11).joined(separator: ",")).hasSuffix("$10,$11"))
    }

    @Test("migrations apply once and re-running them is a no-op", arguments: TestBackend.available)
    func migrationsAreIdempotent(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let versions = try await Self.appliedVersions(platform)
            #expect(versions.sorted() == Migrator.migrations.map(\.version))
            #expect(versions.count == Migrator.migrations.count)
        }
    }

    @Test("a store migrated by a newer build is refused, and left as it was", arguments: TestBackend.available)
    func newerStoreRefused(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let latest = try #require(Migrator.migrations.map(\.version).max())
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("INSERT INTO schema_migrations (version, name, applied_time) VALUES (\(latest + 1), 'from_the_future', 0)")
            }
            let refusal = await #expect(throws: Migrator.NewerStore.self) { try await Migrator.migrate(platform.database, logger: Logger(label: "test")) }
            #expect(refusal?.version == latest + 1 && refusal?.latestKnown == latest)
            #expect(refusal?.description.contains("run that version or a later one") == true)
            #expect(try await Self.appliedVersions(platform).count == Migrator.migrations.count + 1)
        }
    }

    @Test("a migration that waits too long for a table another session reads gives up, applies nothing and says why; it applies once the reader is done",
          .enabled(if: TestBackend.postgresURL != nil, "needs SERVICEPRO_TEST_DATABASE_URL"))
    func migrationLockTimeout() async throws {
        try await TestPlatform.with(.postgres) { platform in
            let latest = try #require(Migrator.migrations.map(\.version).max())
            let migrations = Migrator.migrations + [Migration(
                version: latest + 1, name: "test_lock_timeout", statements: ["ALTER TABLE tenants ADD COLUMN test_lock_timeout TEXT"],
                tenantOwnedTables: [])]
            // A long reader of tenants, as an older replica's export is, until the test is done.
            let (holding, held) = AsyncStream<Void>.makeStream()
            let (releasing, release) = AsyncStream<Void>.makeStream()
            let reader = Task {
                try await platform.database.transaction(.platform) { tx in
                    _ = try await tx.query("SELECT tenant_id FROM tenants LIMIT 1")
                    held.yield()
                    for await _ in releasing { break }
                }
            }
            for await _ in holding { break }
            let logger = Logger(label: "test.migrations")
            let refused = await #expect(throws: Migrator.LockNotAvailable.self) {
                try await Migrator.migrate(platform.database, logger: logger, migrations: migrations, lockTimeout: .milliseconds(500))
            }
            release.yield()
            try await reader.value
            #expect(refused?.migration.version == latest + 1)
            #expect(refused?.description.contains("start again once it is done") == true)
            #expect(try await Self.appliedVersions(platform).count == Migrator.migrations.count, "nothing applied")
            try await Migrator.migrate(platform.database, logger: logger, migrations: migrations)
            #expect(try await Self.appliedVersions(platform).contains(latest + 1))
        }
    }

    @Test("a refusal of what a statement holds is told from a failure to run it", arguments: TestBackend.available)
    func statementRefusals(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let taken: SQLStatement = """
                INSERT INTO tenants (tenant_id, display_name, plan_tier, status, create_time, update_time)
                VALUES ('root', 'Again', 'starter', 'active', 0, 0)
                """
            let refusal = await #expect(throws: (any Error).self) { try await platform.database.execute(.platform, taken) { _ in } }
            #expect(refusal.map(StatementRefusal.mayBeOneRowsFault) == true)
            #expect(!StatementRefusal.mayBeOneRowsFault(CancellationError()))
        }
    }

    @Test("concurrent transactions all commit", arguments: TestBackend.available)
    func concurrentWrites(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { try await platform.createTenant("load-\(index)") }
                }
                try await group.waitForAll()
            }
            let count = try await platform.database.transaction(.platform) { tx in
                try await tx.first("SELECT COUNT(*) AS n FROM tenants WHERE tenant_id LIKE \("load-%")")?.int("n")
            }
            #expect(count == 20)
        }
    }

    @Test("single statements sent among transactions each stand alone: none is undone by another's rollback", arguments: TestBackend.available)
    func statementsBesideTransactions(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            struct Injected: Error {}
            let database = platform.database
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        try await database.execute(.platform, """
                            INSERT INTO tenants (tenant_id, display_name, plan_tier, status, create_time, update_time)
                            VALUES (\("kept-\(index)"), \("Kept"), \("starter"), \("active"), \(Date()), \(Date()))
                            """) { _ in }
                    }
                    group.addTask {
                        // Each transaction writes, waits a moment with its writes open, then fails.
                        try? await database.transaction(.platform) { tx in
                            try await tx.execute("""
                                INSERT INTO tenants (tenant_id, display_name, plan_tier, status, create_time, update_time)
                                VALUES (\("undone-\(index)"), \("Undone"), \("starter"), \("active"), \(Date()), \(Date()))
                                """)
                            try await Task.sleep(for: .milliseconds(1))
                            throw Injected()
                        }
                    }
                }
                try await group.waitForAll()
            }
            let (kept, undone) = try await database.transaction(.platform) { tx in
                (try await tx.first("SELECT COUNT(*) AS n FROM tenants WHERE tenant_id LIKE \("kept-%")")?.int("n"),
                 try await tx.first("SELECT COUNT(*) AS n FROM tenants WHERE tenant_id LIKE \("undone-%")")?.int("n"))
            }
            #expect(kept == 40)
            #expect(undone == 0)
        }
    }
}

@Suite("AsyncLock")
struct AsyncLockTests {
    /// Records the order things happen in, across tasks.
    actor Journal {
        var entries: [String] = []
        var released = false
        func note(_ entry: String) { entries.append(entry) }
        func release() { released = true }
    }

    @Test("shared holders hold it together; an exclusive one waits for them and holds it alone")
    func sharedAndExclusive() async throws {
        let lock = AsyncLock()
        let journal = Journal()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Two shared holders both get in while neither has let go.
            for name in ["a", "b"] {
                group.addTask {
                    try await lock.withLock(.shared) {
                        await journal.note("\(name) in")
                        while await !journal.released { try await Task.sleep(for: .milliseconds(1)) }
                        await journal.note("\(name) out")
                    }
                }
            }
            while await journal.entries.count < 2 { await Task.yield() }
            group.addTask {
                try await lock.withLock(.exclusive) { await journal.note("x in"); await journal.note("x out") }
            }
            // Queued behind the exclusive waiter, a later shared request does not overtake it.
            while lock.waiting < 1 { try await Task.sleep(for: .milliseconds(1)) }
            group.addTask {
                try await lock.withLock(.shared) { await journal.note("c in") }
            }
            while lock.waiting < 2 { try await Task.sleep(for: .milliseconds(1)) }
            #expect(await journal.entries.sorted() == ["a in", "b in"])
            await journal.release()
            try await group.waitForAll()
        }
        let entries = await journal.entries
        #expect(Set(entries.prefix(4)) == ["a in", "b in", "a out", "b out"])
        #expect(Array(entries.suffix(3)) == ["x in", "x out", "c in"])
    }
}

/// Row-level security on PostgreSQL: the second line of defence behind the scoped handle.
@Suite("PostgreSQL row-level security", .enabled(if: TestBackend.postgresURL != nil, "needs SERVICEPRO_TEST_DATABASE_URL"))
struct RowLevelSecurityTests {
    @Test("a query with no tenant filter sees only the scoped tenant's rows")
    func unfilteredQuerySeesOneTenant() async throws {
        try await TestPlatform.with(.postgres) { platform in
            try await platform.createTenant("alpha")
            try await platform.createTenant("bravo")
            _ = try await platform.token(role: .tenantAdmin, tenant: "alpha")
            _ = try await platform.token(role: .tenantAdmin, tenant: "bravo")

            let seenByAlpha = try await platform.database.transaction(.tenant("alpha")) { tx in
                try await tx.query("SELECT tenant_id FROM api_keys").map { try $0.string("tenant_id") }
            }
            #expect(seenByAlpha == ["alpha"])
            let tenantsSeen = try await platform.database.transaction(.tenant("alpha")) { tx in
                try await tx.query("SELECT tenant_id FROM tenants").map { try $0.string("tenant_id") }
            }
            #expect(tenantsSeen == ["alpha"])
            let platformSees = try await platform.database.transaction(.platform) { tx in
                Set(try await tx.query("SELECT tenant_id FROM api_keys").map { try $0.string("tenant_id") })
            }
            #expect(platformSees == ["root", "alpha", "bravo"])
        }
    }

    @Test("the server can tell a role that bypasses row-level security, to warn at start")
    func bypassingRoles() async throws {
        try await TestPlatform.with(.postgres) { platform in
            var logger = Logger(label: "test.store")
            logger.logLevel = .critical
            let url = try #require(platform.databaseURL)
            for (url, bypasses) in [(url, false), (url.replacingOccurrences(of: "servicepro:servicepro@", with: "postgres@"), true)] {
                let database = try PostgresDatabase(url: url, maximumConnections: 1, logger: logger)
                let seen = try await database.bypassesRowLevelSecurity()
                try await database.close()
                #expect(seen == bypasses, "\(url)")
            }
        }
    }

    @Test("one connection used for tenants and the platform in turn sees each time only the scope it is used for: nothing carries over")
    func noScopeCarriesOver() async throws {
        try await TestPlatform.with(.postgres) { platform in
            try await platform.createTenant("alpha")
            try await platform.createTenant("bravo")
            _ = try await platform.token(role: .tenantAdmin, tenant: "alpha")
            _ = try await platform.token(role: .tenantAdmin, tenant: "bravo")
            var logger = Logger(label: "test.store")
            logger.logLevel = .critical
            let database = try PostgresDatabase(url: try #require(platform.databaseURL), maximumConnections: 1, logger: logger)
            do {
                try await Self.alternateScopes(on: database)
                try await database.close()
                await #expect { try await database.execute(.platform, "SELECT 1 AS one") { _ in } } throws: {
                    !StatementRefusal.mayBeOneRowsFault($0)
                }
            } catch {
                try? await database.close()
                throw error
            }
        }
    }

    private static func alternateScopes(on database: PostgresDatabase) async throws {
        let unfiltered: SQLStatement = "SELECT tenant_id FROM api_keys"
        let seen: @Sendable ([SQLRow]) throws -> Set<String> = { rows in Set(try rows.map { try $0.string("tenant_id") }) }
        let backend: @Sendable ([SQLRow]) throws -> Int64 = { rows in try rows[0].int("pid") }
        let firstBackend = try await database.execute(.tenant("alpha"), "SELECT pg_backend_pid() AS pid", backend)

        #expect(try await database.read(.tenant("alpha")) { try seen(try await $0.query(unfiltered)) } == ["alpha"])
        #expect(try await database.execute(.tenant("alpha"), unfiltered, seen) == ["alpha"])
        #expect(try await database.execute(.tenant("bravo"), unfiltered, seen) == ["bravo"])
        #expect(try await database.transaction(.platform) { try seen(try await $0.query(unfiltered)) } == ["root", "alpha", "bravo"])
        #expect(try await database.read(.tenant("bravo")) { try seen(try await $0.query(unfiltered)) } == ["bravo"])

        // A rolled-back transaction, and a statement that fails, carry nothing over either.
        await #expect(throws: (any Error).self) {
            try await database.transaction(.tenant("alpha")) { tx in
                _ = try await tx.query(unfiltered)
                throw TestSetupError("roll back")
            }
        }
        #expect(try await database.execute(.tenant("bravo"), unfiltered, seen) == ["bravo"])
        await #expect(throws: (any Error).self) {
            try await database.read(.tenant("alpha")) { try await $0.query("SELECT no_such_column FROM api_keys") }
        }
        #expect(try await database.read(.tenant("alpha")) { try seen(try await $0.query(unfiltered)) } == ["alpha"])

        // A single statement that fails reports its own error, not the aborted transaction's,
        // and its transaction is rolled back, setting and all.
        let taken: SQLStatement = """
            INSERT INTO tenants (tenant_id, display_name, plan_tier, status, create_time, update_time)
            VALUES ('alpha', 'Again', 'starter', 'active', 0, 0)
            """
        await #expect { try await database.execute(.platform, taken) { _ in } } throws: { UniqueViolation($0) != nil }
        #expect(try await database.execute(.tenant("alpha"), unfiltered, seen) == ["alpha"])

        // After the platform, a tenant no longer sees everything; an empty scope sees nothing.
        #expect(try await database.read(.platform) { try seen(try await $0.query(unfiltered)) }.count == 3)
        #expect(try await database.execute(.tenant(""), unfiltered, seen).isEmpty)
        #expect(try await database.execute(.tenant("bravo"), unfiltered, seen) == ["bravo"])
        #expect(try await database.execute(.platform, "SELECT pg_backend_pid() AS pid", backend) == firstBackend, "all on one connection")
    }

    @Test("writing another tenant's row is refused by the policy")
    func crossTenantWriteIsRefused() async throws {
        try await TestPlatform.with(.postgres) { platform in
            try await platform.createTenant("alpha")
            await #expect(throws: (any Error).self) {
                try await platform.database.transaction(.tenant("alpha")) { tx in
                    try await tx.execute("""
                        INSERT INTO idempotency_records (tenant_id, caller, method, request_id, response, create_time)
                        VALUES (\("bravo"), \("tenants/alpha/apiKeys/k1"), \("X"), \("r1"), \(Data([1])), \(Date()))
                        """)
                }
            }
            let updated = try await platform.database.transaction(.tenant("alpha")) { tx in
                try await tx.query("UPDATE tenants SET city = \("Hacked") WHERE tenant_id = \("root") RETURNING tenant_id")
            }
            #expect(updated.isEmpty)
        }
    }

    @Test("a second server on the same SQLite store refuses to start, saying why; the store is free again once closed")
    func oneServerPerSQLiteStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("servicepro.sqlite").path
        var logger = Logger(label: "test.store")
        logger.logLevel = .critical
        let first = try await SQLiteDatabase.open(path: path, logger: logger)
        let second = await #expect(throws: StoreFileLock.Held.self) { _ = try await SQLiteDatabase.open(path: path, logger: logger) }
        #expect(second?.description.contains("another platform-server") == true)
        try await first.close()
        let next = try await SQLiteDatabase.open(path: path, logger: logger)
        try await next.close()
    }

    @Test("a transaction without a scope sees nothing")
    func noScopeSeesNothing() async throws {
        try await TestPlatform.with(.postgres) { platform in
            let rows = try await platform.database.transaction(.tenant("")) { tx in
                try await tx.query("SELECT tenant_id FROM tenants")
            }
            #expect(rows.isEmpty)
        }
    }
}
