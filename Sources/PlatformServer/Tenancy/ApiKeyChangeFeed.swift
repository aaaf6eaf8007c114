import Logging

/// On PostgreSQL, keeps this replica's ``ApiKeyCache`` in step with changes to `api_keys` made
/// anywhere else: by another replica, or by hand. A trigger announces the id of every key whose
/// tenant, role, secret or revocation is updated, or that is deleted (and a truncation as an
/// empty payload), when its transaction commits; this job listens for the announcements and
/// forgets those keys. Recording a key's last use announces nothing (migration 22).
///
/// The cache is on only while the job listens. When the connection drops, announcements are lost,
/// so the cache is emptied and turned off until the job listens again.
enum ApiKeyChangeFeed {
    static let channel = "servicepro_api_keys"

    static let migration = Migration(
        version: 10,
        name: "api_key_change_notifications",
        statements: [],
        tenantOwnedTables: [],
        postgresStatements: [
            """
            CREATE FUNCTION api_keys_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'TRUNCATE' THEN
                    PERFORM pg_notify('\(channel)', '');
                ELSE
                    PERFORM pg_notify('\(channel)', OLD.key_id);
                END IF;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER api_keys_announce_change AFTER UPDATE OR DELETE ON api_keys
            FOR EACH ROW EXECUTE FUNCTION api_keys_announce_change()
            """,
            """
            CREATE TRIGGER api_keys_announce_truncate AFTER TRUNCATE ON api_keys
            FOR EACH STATEMENT EXECUTE FUNCTION api_keys_announce_change()
            """,
        ])

    static func follow(_ database: PostgresDatabase, into cache: ApiKeyCache, logger: Logger) -> ChangeFeed {
        ChangeFeed(
            database: database, channel: channel, subject: "API key changes",
            whileLost: "every call reads its key from the store until it is back",
            listening: { cache.enable() },
            received: { keyID in
                if keyID.isEmpty { cache.forgetAll() } else { cache.forget(keyID: keyID) }
            },
            lost: { cache.disable() },
            logger: logger)
    }
}
