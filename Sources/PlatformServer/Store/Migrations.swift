import Foundation
import PostgresNIO
import Logging

/// One versioned schema change. Statements are written once; `BLOB` becomes `BYTEA` on
/// PostgreSQL, where tenant-owned tables also get row-level security.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: [String]
    /// Tables that lead their primary key with `tenant_id` and get RLS on PostgreSQL.
    let tenantOwnedTables: [String]
    /// Run on PostgreSQL only, after the statements and row-level security: what SQLite has no
    /// counterpart for, such as PL/pgSQL triggers.
    var postgresStatements: [String] = []
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
        ),
        Migration(
            version: 2,
            name: "telephony",
            statements: [
                // Empty optional fields are stored as NULL, so the unique indexes ignore them.
                """
                CREATE TABLE phone_configs (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    phone_config_id TEXT NOT NULL,
                    display_name TEXT NOT NULL DEFAULT '',
                    phone_number TEXT,
                    messaging_service_sid TEXT,
                    sip_domain TEXT,
                    sip_username TEXT,
                    sip_password_sealed BLOB,
                    ivr_mode TEXT NOT NULL,
                    forward_number TEXT,
                    ivr_menu BLOB,
                    create_time BIGINT NOT NULL,
                    update_time BIGINT NOT NULL,
                    revision BIGINT NOT NULL DEFAULT 1,
                    PRIMARY KEY (tenant_id, phone_config_id)
                )
                """,
                "CREATE UNIQUE INDEX phone_configs_by_number ON phone_configs (phone_number)",
                "CREATE UNIQUE INDEX phone_configs_by_messaging_service ON phone_configs (messaging_service_sid)",
                """
                CREATE TABLE customers (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    customer_id TEXT NOT NULL,
                    display_name TEXT NOT NULL DEFAULT '',
                    phone TEXT,
                    email TEXT,
                    notes TEXT NOT NULL DEFAULT '',
                    create_time BIGINT NOT NULL,
                    update_time BIGINT NOT NULL,
                    revision BIGINT NOT NULL DEFAULT 1,
                    PRIMARY KEY (tenant_id, customer_id)
                )
                """,
                "CREATE UNIQUE INDEX customers_by_phone ON customers (tenant_id, phone)",
                """
                CREATE TABLE text_messages (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    message_id TEXT NOT NULL,
                    message_sid TEXT NOT NULL,
                    direction TEXT NOT NULL,
                    from_number TEXT NOT NULL,
                    to_number TEXT NOT NULL,
                    body TEXT NOT NULL,
                    media_urls TEXT NOT NULL DEFAULT '',
                    status TEXT NOT NULL,
                    error_code BIGINT NOT NULL DEFAULT 0,
                    phone_config_id TEXT,
                    customer_id TEXT,
                    create_time BIGINT NOT NULL,
                    update_time BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, message_id)
                )
                """,
                // Twilio retries carry the same MessageSid: one row however often it arrives.
                "CREATE UNIQUE INDEX text_messages_by_sid ON text_messages (message_sid)",
                "CREATE INDEX text_messages_by_time ON text_messages (tenant_id, create_time DESC, message_id)",
                """
                CREATE TABLE phone_calls (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    call_id TEXT NOT NULL,
                    call_sid TEXT NOT NULL,
                    direction TEXT NOT NULL,
                    from_number TEXT NOT NULL,
                    to_number TEXT NOT NULL,
                    caller_name TEXT NOT NULL DEFAULT '',
                    status TEXT NOT NULL,
                    ivr_mode TEXT NOT NULL,
                    ivr_selections TEXT NOT NULL DEFAULT '',
                    connected_to TEXT NOT NULL DEFAULT '',
                    recording_url TEXT NOT NULL DEFAULT '',
                    recording_seconds BIGINT NOT NULL DEFAULT 0,
                    duration_seconds BIGINT NOT NULL DEFAULT 0,
                    phone_config_id TEXT,
                    customer_id TEXT,
                    start_time BIGINT NOT NULL,
                    end_time BIGINT,
                    update_time BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, call_id)
                )
                """,
                "CREATE UNIQUE INDEX phone_calls_by_sid ON phone_calls (call_sid)",
                "CREATE INDEX phone_calls_by_time ON phone_calls (tenant_id, start_time DESC, call_id)",
            ],
            tenantOwnedTables: ["phone_configs", "customers", "text_messages", "phone_calls"]
        ),
        Migration(
            version: 3,
            name: "impersonation_audit",
            statements: [
                // Filed under the impersonated tenant. Only the token's SHA-256 is kept; the state
                // is active, stopped or revoked, and an active session past expire_time is expired.
                """
                CREATE TABLE impersonation_sessions (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    session_id TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    actor_tenant_id TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    token_hash BLOB NOT NULL,
                    create_time BIGINT NOT NULL,
                    expire_time BIGINT NOT NULL,
                    end_time BIGINT,
                    ended_by TEXT,
                    end_reason TEXT,
                    state TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, session_id)
                )
                """,
                "CREATE UNIQUE INDEX impersonation_sessions_by_id ON impersonation_sessions (session_id)",
                "CREATE INDEX impersonation_sessions_by_time ON impersonation_sessions (create_time DESC, session_id)",
                // No foreign key to tenants: a tenant's audit trail outlives the tenant.
                """
                CREATE TABLE audit_events (
                    tenant_id TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    event_time BIGINT NOT NULL,
                    real_actor TEXT NOT NULL,
                    actor_role TEXT NOT NULL,
                    principal TEXT NOT NULL,
                    impersonation_session TEXT,
                    method TEXT NOT NULL,
                    resource TEXT NOT NULL DEFAULT '',
                    request_id TEXT NOT NULL DEFAULT '',
                    outcome TEXT NOT NULL,
                    outcome_reason TEXT NOT NULL DEFAULT '',
                    details TEXT NOT NULL DEFAULT '{}',
                    PRIMARY KEY (tenant_id, event_id)
                )
                """,
                "CREATE INDEX audit_events_by_time ON audit_events (tenant_id, event_time DESC, event_id)",
                // `tenants/-` lists every tenant's events by time.
                "CREATE INDEX audit_events_by_platform_time ON audit_events (event_time DESC, event_id)",
            ],
            tenantOwnedTables: ["impersonation_sessions", "audit_events"],
            postgresStatements: [
                // The application role owns the table, and an owner keeps every privilege whatever
                // is revoked, so a trigger is what makes the log append-only for it.
                """
                CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
                END
                $$
                """,
                """
                CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
                FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
                """,
                """
                CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
                """,
            ]
        ),
        Migration(
            version: 4,
            name: "billing",
            statements: [
                // Tier, status and trial end stay on `tenants`, where every call's gate reads them;
                // this is the rest of the billing record. The lease lets one of several replicas'
                // lifecycle jobs own a due tenant for a while.
                """
                CREATE TABLE tenant_billing (
                    tenant_id TEXT PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    grace_period_end_time BIGINT,
                    retention_end_time BIGINT,
                    stripe_customer_id TEXT,
                    stripe_subscription_id TEXT,
                    stripe_price_id TEXT,
                    current_period_end_time BIGINT,
                    status_reason TEXT NOT NULL DEFAULT '',
                    status_change_time BIGINT NOT NULL,
                    last_stripe_event_time BIGINT,
                    lease_owner TEXT,
                    lease_expire_time BIGINT,
                    update_time BIGINT NOT NULL,
                    revision BIGINT NOT NULL DEFAULT 1
                )
                """,
                "CREATE UNIQUE INDEX tenant_billing_by_stripe_customer ON tenant_billing (stripe_customer_id)",
                "CREATE UNIQUE INDEX tenant_billing_by_stripe_subscription ON tenant_billing (stripe_subscription_id)",
                """
                INSERT INTO tenant_billing (tenant_id, status_change_time, update_time)
                SELECT tenant_id, update_time, update_time FROM tenants
                """,
                // Every Stripe event applied or ignored, by Stripe's id: a replay finds its row.
                """
                CREATE TABLE stripe_events (
                    event_id TEXT PRIMARY KEY,
                    event_type TEXT NOT NULL,
                    event_time BIGINT NOT NULL,
                    tenant_id TEXT,
                    outcome TEXT NOT NULL,
                    reason TEXT NOT NULL DEFAULT '',
                    receive_time BIGINT NOT NULL
                )
                """,
            ],
            tenantOwnedTables: ["tenant_billing"]
        ),
        Migration(
            version: 5,
            name: "operations",
            statements: [
                "ALTER TABLE customers ADD COLUMN external_id TEXT",
                "CREATE UNIQUE INDEX customers_by_external_id ON customers (tenant_id, external_id)",
                // The listings' orders: customers by name, appointments by start, and every
                // record by its last change for partners' syncs.
                "CREATE INDEX customers_by_name ON customers (tenant_id, display_name, customer_id)",
                "CREATE INDEX customers_by_update ON customers (tenant_id, update_time, customer_id)",
                """
                CREATE TABLE appointments (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    appointment_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    service_name TEXT NOT NULL,
                    start_time BIGINT NOT NULL,
                    duration_seconds BIGINT NOT NULL DEFAULT 0,
                    status TEXT NOT NULL,
                    address TEXT NOT NULL DEFAULT '',
                    notes TEXT NOT NULL DEFAULT '',
                    external_id TEXT,
                    create_time BIGINT NOT NULL,
                    update_time BIGINT NOT NULL,
                    revision BIGINT NOT NULL DEFAULT 1,
                    PRIMARY KEY (tenant_id, appointment_id),
                    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, customer_id)
                )
                """,
                "CREATE UNIQUE INDEX appointments_by_external_id ON appointments (tenant_id, external_id)",
                "CREATE INDEX appointments_by_start ON appointments (tenant_id, start_time, appointment_id)",
                "CREATE INDEX appointments_by_update ON appointments (tenant_id, update_time, appointment_id)",
                // Lines are JSON: they are only ever read and written with their invoice.
                """
                CREATE TABLE invoices (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    invoice_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    appointment_id TEXT,
                    invoice_number TEXT NOT NULL,
                    lines TEXT NOT NULL DEFAULT '[]',
                    currency_code TEXT NOT NULL,
                    subtotal_cents BIGINT NOT NULL DEFAULT 0,
                    tax_cents BIGINT NOT NULL DEFAULT 0,
                    total_cents BIGINT NOT NULL DEFAULT 0,
                    status TEXT NOT NULL,
                    issue_time BIGINT,
                    due_time BIGINT,
                    paid_time BIGINT,
                    notes TEXT NOT NULL DEFAULT '',
                    external_id TEXT,
                    create_time BIGINT NOT NULL,
                    update_time BIGINT NOT NULL,
                    revision BIGINT NOT NULL DEFAULT 1,
                    PRIMARY KEY (tenant_id, invoice_id),
                    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, customer_id)
                )
                """,
                "CREATE UNIQUE INDEX invoices_by_number ON invoices (tenant_id, invoice_number)",
                "CREATE UNIQUE INDEX invoices_by_external_id ON invoices (tenant_id, external_id)",
                "CREATE INDEX invoices_by_time ON invoices (tenant_id, create_time DESC, invoice_id)",
                "CREATE INDEX invoices_by_update ON invoices (tenant_id, update_time, invoice_id)",
            ],
            tenantOwnedTables: ["appointments", "invoices"]
        ),
        Migration(
            version: 6,
            name: "exports",
            statements: [
                // The archive is a file under the server's home; the row says where, and the lease
                // says which worker builds it until when.
                """
                CREATE TABLE export_jobs (
                    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                    export_id TEXT NOT NULL,
                    state TEXT NOT NULL,
                    entities TEXT NOT NULL,
                    progress_percent BIGINT NOT NULL DEFAULT 0,
                    entity_counts TEXT NOT NULL DEFAULT '{}',
                    size_bytes BIGINT NOT NULL DEFAULT 0,
                    sha256 TEXT NOT NULL DEFAULT '',
                    creator TEXT NOT NULL,
                    archive_path TEXT,
                    error TEXT NOT NULL DEFAULT '',
                    attempts BIGINT NOT NULL DEFAULT 0,
                    lease_owner TEXT,
                    lease_expire_time BIGINT,
                    create_time BIGINT NOT NULL,
                    start_time BIGINT,
                    end_time BIGINT,
                    expire_time BIGINT,
                    PRIMARY KEY (tenant_id, export_id)
                )
                """,
                "CREATE INDEX export_jobs_by_time ON export_jobs (tenant_id, create_time DESC, export_id)",
                "CREATE INDEX export_jobs_by_state ON export_jobs (state, lease_expire_time)",
                // Set when the retention job deleted the tenant's data after its window ended.
                "ALTER TABLE tenant_billing ADD COLUMN data_purge_time BIGINT",
            ],
            tenantOwnedTables: ["export_jobs"]
        ),
        PackItemRecords.migration,
        OutboxRecords.migration,
        LoginLinkRecords.migration,
        ApiKeyChangeFeed.migration,
        OutboxRecords.senderMigration,
        IdempotencyRecords.unsealedTokensMigration,
        PhoneConfigChangeFeed.migration,
        IdempotencyRecords.callerMigration,
        ExportArchiveChunks.migration,
        CommunicationRecords.callerSaidMigration,
        BillingRecords.pendingTierMigration,
        PhoneConfigRecords.autoReplyMigration,
        TenantRecords.bookingURLMigration,
        ChangeSync.migration,
        CommunicationRecords.autoReplyMigration,
        ApiKeyRecords.lastUsedMigration,
        BillingRecords.paymentURLMigration,
        IdempotencyRecords.requestDigestMigration,
        ApiKeyRecords.creatorMigration,
        BillingRecords.endedSubscriptionMigration,
        ApiKeyRecords.creatorBackfillMigration,
        BillingRecords.subscriptionEventTimeMigration,
        BillingRecords.staffSuspensionMigration,
        CustomerRecords.referencesMigration,
        NumberReleaseRecords.migration,
        AutomationSchedule.migration,
        PhoneConfigRecords.businessAlertsMigration,
        AutomationSchedule.skipConfirmationMigration,
        SecretsKeyCheck.migration,
        BillingRecords.suspensionKeepsDataMigration,
        IdempotencyRecords.sweepIndexMigration,
        StripeEventLedger.sweepIndexMigration,
    ]

    /// How long a migration on PostgreSQL waits for a table's lock. An ALTER TABLE queued behind a
    /// long reader (an older replica's export, in a rolling deploy) holds up every statement on
    /// the table behind it, on every replica: better to give up and start again later.
    static let lockTimeout: Duration = .seconds(10)

    static func migrate(
        _ database: any Database, logger: Logger, migrations: [Migration] = Migrator.migrations, lockTimeout: Duration = Migrator.lockTimeout
    ) async throws {
        let applied = try await database.transaction(.platform) { tx -> [Int] in
            if tx.dialect == .postgres {
                // Held until commit: a second replica waits here, then finds nothing to do.
                try await tx.execute("SELECT pg_advisory_xact_lock(\(Int64(0x5E5F_1CE0)))")
                // After the advisory lock, which may rightly wait for another replica's migrations.
                // At least 1 ms: 0 would mean no limit at all.
                let milliseconds = max(1, lockTimeout.components.seconds * 1000 + lockTimeout.components.attoseconds / 1_000_000_000_000_000)
                try await tx.execute(SQLStatement(sql: "SET LOCAL lock_timeout = '\(milliseconds)ms'"))
            }
            try await tx.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_time BIGINT NOT NULL
                )
                """)
            let done = Set(try await tx.query("SELECT version FROM schema_migrations").map { Int(try $0.int("version")) })
            let known = migrations.map(\.version)
            if let newer = done.subtracting(known).max() {
                throw NewerStore(version: newer, latestKnown: known.max() ?? 0)
            }
            var applied: [Int] = []
            for migration in migrations where !done.contains(migration.version) {
                do {
                    try await apply(migration, tx)
                } catch let error as PSQLError where error.code == .server && error.serverInfo?[.sqlState] == "55P03" {
                    throw LockNotAvailable(migration: migration, timeout: lockTimeout)
                }
                applied.append(migration.version)
            }
            return applied
        }
        for version in applied {
            logger.info("applied migration", metadata: ["version": "\(version)"])
        }
    }

    private static func apply(_ migration: Migration, _ tx: any SQLTransaction) async throws {
        for statement in migration.statements {
            try await tx.execute(SQLStatement(sql: dialectSQL(statement, tx.dialect)))
        }
        if tx.dialect == .postgres {
            for table in migration.tenantOwnedTables {
                for statement in rowLevelSecurity(table) {
                    try await tx.execute(SQLStatement(sql: statement))
                }
            }
            for statement in migration.postgresStatements {
                try await tx.execute(SQLStatement(sql: statement))
            }
        }
        try await tx.execute("""
            INSERT INTO schema_migrations (version, name, applied_time)
            VALUES (\(migration.version), \(migration.name), \(Date()))
            """)
    }

    /// A migration that waited ``lockTimeout`` for a table another session holds. Nothing of it,
    /// or of the migrations with it, was applied.
    struct LockNotAvailable: Error, CustomStringConvertible {
        let migration: Migration
        let timeout: Duration

        var description: String {
            "migration \(migration.version) (\(migration.name)) waited \(timeout) for a table another session holds (a long export of a replica still running the older version, say) and applied nothing: start again once it is done"
        }
    }

    /// A store migrated by a later build than this one. An older server on it would write what
    /// the newer ones cannot read (secrets sealed under a key made up on the spot, lines deleted
    /// without their numbers given back), so it refuses to start: a rollback needs its own store.
    struct NewerStore: Error, CustomStringConvertible {
        let version: Int
        let latestKnown: Int

        var description: String {
            "the store was migrated by a newer platform-server (migration \(version); this one knows up to \(latestKnown)): run that version or a later one against it"
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
