import Logging

/// On PostgreSQL, keeps this replica's ``TenantResolver`` in step with phone configs changed
/// anywhere else: by another replica, or by hand. A trigger announces every statement that
/// changes `phone_configs` when its transaction commits; the feed listens and has the resolver
/// reload on its next lookup. Without the feed, the resolver falls back to reloading every
/// `maxAge`.
enum PhoneConfigChangeFeed {
    static let channel = "servicepro_phone_configs"

    static let migration = Migration(
        version: 13,
        name: "phone_config_change_notifications",
        statements: [],
        tenantOwnedTables: [],
        postgresStatements: [
            """
            CREATE FUNCTION phone_configs_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('\(channel)', '');
                RETURN NULL;
            END
            $$
            """,
            // Per statement: one announcement however many rows changed, and the same one
            // (PostgreSQL folds duplicates within a transaction) however many statements did.
            """
            CREATE TRIGGER phone_configs_announce_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON phone_configs
            FOR EACH STATEMENT EXECUTE FUNCTION phone_configs_announce_change()
            """,
        ])

    static func follow(_ database: PostgresDatabase, into resolver: TenantResolver, logger: Logger) -> ChangeFeed {
        ChangeFeed(
            database: database, channel: channel, subject: "phone config changes",
            whileLost: "changes made on other replicas are seen within the resolver's reload interval until it is back",
            listening: { resolver.followChanges(true) },
            received: { _ in resolver.invalidate() },
            lost: { resolver.followChanges(false) },
            logger: logger)
    }
}
