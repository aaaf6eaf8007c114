import Foundation
import Logging

/// One versioned schema change. Statements are written once; `BLOB` becomes `BYTEA` on
/// PostgreSQL, where tenant-owned tables also get row-level security.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    /// Tables that lead their primary key with `tenant_id` and get RLS on PostgreSQL.
    let tenantOwnedTables: [String]
}

/// Applies pending migrations at start, under a lock so replicas starting together apply each
/// migration exactly once.
enum Migrator {
    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "tenancy",
            statements: [
                """
                CREATE TABLE tenants (
                    tenant_id TEXT PRIMARY KEY,
                    display_name TEXT NOT NULL,
                    industry TEXT NOT NULL DEFAULT '',
                    city TEXT NOT NULL DEFAULT '',
                    contact_name TEXT NOT NULL DEFAULT '',
                    contact_email TEXT NOT NULL DEFAULT '',
                    contact_phone TEXT NOT NULL DEFAULT '',
                    plan_tier TEXT NOT NULL,
                    status TEXT NOT NULL,
                    logo_url TEXT NOT NULL DEFAULT '',
                    primary_color TEXT NOT NULL DEFAULT '',
                    accent_color TEXT NOT NULL DEFAULT '',
                    internal_notes TEXT NOT NULL DEFAULT '',
                    trial_end_time BIGINT,
                    create_time BIGINT NOT NULL,
                    update_time BIGINT NOT NULL,
                    revision BIGINT NOT NULL DEFAULT 1
                )
                """,
                "CREATE INDEX tenants_by_create_time ON tenants (create_time DESC, tenant_id)",
                """
                CREATE TABLE api_keys (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    key_id TEXT NOT NULL,
                    display_name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    secret_hash BLOB NOT NULL,
                    create_time BIGINT NOT NULL,
                    revoke_time BIGINT,
                    PRIMARY KEY (tenant_id, key_id)
                )
                """,
                "CREATE UNIQUE INDEX api_keys_by_key_id ON api_keys (key_id)",
                """
                CREATE TABLE idempotency_records (
                    tenant_id TEXT NOT NULL,
                    method TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    response BLOB NOT NULL,
                    create_time BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, method, request_id)
                )
                """,
            ],
            tenantOwnedTables: ["tenants", "api_keys", "idempotency_records"]
        )
    ]

    static func migrate(_ database: any Database, logger: Logger) async throws {
        let applied = try await database.transaction(.platform) { tx -> [Int] in
            if tx.dialect == .postgres {
                // Held until commit: a second replica waits here, then finds nothing to do.
                try await tx.execute("SELECT pg_advisory_xact_lock(\(Int64(0x5E5F_1CE0)))")
            }
            try await tx.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_time BIGINT NOT NULL
                )
                """)
            let done = Set(try await tx.query("SELECT version FROM schema_migrations").map { Int(try $0.int("version")) })
            var applied: [Int] = []
            for migration in migrations where !done.contains(migration.version) {
                for statement in migration.statements {
                    try await tx.execute(SQLStatement(sql: dialectSQL(statement, tx.dialect)))
                }
                if tx.dialect == .postgres {
                    for table in migration.tenantOwnedTables {
                        for statement in rowLevelSecurity(table) {
                            try await tx.execute(SQLStatement(sql: statement))
                        }
                    }
                }
                try await tx.execute("""
                    INSERT INTO schema_migrations (version, name, applied_time)
                    VALUES (\(migration.version), \(migration.name), \(Date()))
                    """)
                applied.append(migration.version)
            }
            return applied
        }
        for version in applied {
            logger.info("applied migration", metadata: ["version": "\(version)"])
        }
    }

    private static func dialectSQL(_ sql: String, _ dialect: SQLDialect) -> String {
        dialect == .postgres ? sql.replacingOccurrences(of: " BLOB", with: " BYTEA") : sql
    }

    /// FORCE makes the policy bind the table's owner too, which is the application's role.
    static func rowLevelSecurity(_ table: String) -> [String] {
        let visible = "tenant_id = current_setting('app.tenant_id', true) OR current_setting('app.platform', true) = 'on'"
        return [
            "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \(table) FORCE ROW LEVEL SECURITY",
            "CREATE POLICY tenant_isolation ON \(table) USING (\(visible)) WITH CHECK (\(visible))",
        ]
    }
}
