import Foundation
import Logging

/// Which secrets key seals a store's secrets, recorded in the store itself as the key's
/// ``SecretSealer/keyCheck`` (never the key). A server given another key, or none, then refuses
/// to start, rather than create a key of its own: SIP passwords sealed with the old key would no
/// longer open (calls to SIP lines stop ringing), nor would the tokens kept for retries.
///
/// A new key is created only on the first start of an empty store, for a server on a laptop to
/// start with no setup.
enum SecretsKeyCheck {
    static let migration = Migration(
        version: 35,
        name: "secrets_key_check",
        statements: [
            // One row at most: a store has one key.
            """
            CREATE TABLE secrets_key_check (
                singleton BIGINT PRIMARY KEY CHECK (singleton = 1),
                key_check BLOB NOT NULL,
                create_time BIGINT NOT NULL
            )
            """,
        ],
        tenantOwnedTables: []
    )

    /// What a start finds in the store before it writes anything.
    private struct Recorded: Sendable {
        var keyCheck: Data?
        var holdsData: Bool
    }

    /// The sealer for `database`'s secrets: `configured` (from SERVICEPRO_SECRETS_KEY or the key
    /// file) when it is the key the store recorded. A store that recorded none records
    /// `configured`, or, if it holds no data yet, a new key it writes to `keyFile`. Throws, having
    /// written nothing, when the key is not the recorded one, or when none is configured for a
    /// store that holds data.
    static func sealer(for database: any Database, configured: SecretSealer?, keyFile: String, logger: Logger) async throws -> SecretSealer {
        let recorded = try await database.read(.platform) { tx in
            Recorded(
                keyCheck: try await tx.first("SELECT key_check FROM secrets_key_check")?.data("key_check"),
                holdsData: try await tx.first("SELECT tenant_id FROM tenants LIMIT 1") != nil)
        }
        if let keyCheck = recorded.keyCheck {
            guard let configured else { throw missingKey(keyFile) }
            guard configured.matches(keyCheck: keyCheck) else { throw otherKey(configured) }
            return configured
        }
        // A store seeded before keys were recorded holds secrets sealed with a key only its
        // operator knows: the one configured must open one of them, when there is one.
        if recorded.holdsData {
            guard let configured else { throw missingKey(keyFile) }
            guard try await opensASealedSecret(configured, database) else { throw otherKey(configured) }
        }
        let sealer = configured ?? SecretSealer.random()
        let stored = try await database.transaction(.platform) { tx in
            let recorded = try await tx.changes("""
                INSERT INTO secrets_key_check (singleton, key_check, create_time)
                VALUES (1, \(sealer.keyCheck), \(Date()))
                ON CONFLICT DO NOTHING
                """) == 1
            // A new key is written to its file only by the start whose key the store took, and
            // before that commits: two servers starting at once on one home cannot leave the
            // file holding the key that lost, nor the store a key no file holds.
            if recorded, configured == nil {
                do {
                    try sealer.save(to: keyFile, logger: logger)
                } catch {
                    throw SecretSealerError("cannot write the new secrets key file \(keyFile): \(error.localizedDescription); make its directory writable, or set \(SecretSealer.environmentVariable)")
                }
            }
            return try await tx.first("SELECT key_check FROM secrets_key_check")?.data("key_check")
        }
        // Another replica starting on the same empty store at the same moment may have recorded
        // its own key first.
        guard let stored, sealer.matches(keyCheck: stored) else { throw otherKey(sealer) }
        return sealer
    }

    /// Whether `sealer` opens a SIP password the store holds; true when it holds none. Any one
    /// will do: before keys were recorded a start without its key made a new one, so a store may
    /// hold passwords of a key lost since beside those of the key in use.
    private static func opensASealedSecret(_ sealer: SecretSealer, _ database: any Database) async throws -> Bool {
        let rows = try await database.read(.platform) { tx in
            try await tx.query("SELECT tenant_id, phone_config_id, sip_password_sealed FROM phone_configs WHERE sip_password_sealed IS NOT NULL")
        }
        guard !rows.isEmpty else { return true }
        return try rows.contains { row in
            guard let sealed = try row.optionalData("sip_password_sealed") else { return false }
            let name = "tenants/\(try row.string("tenant_id"))/phoneConfigs/\(try row.string("phone_config_id"))"
            return (try? sealer.open(sealed, boundTo: name)) != nil
        }
    }

    private static let advice = """
        Set \(SecretSealer.environmentVariable), or --secrets-key-file, to the key this store was started with \
        (e.g. a copy of the secrets.key of the server that first started on it)
        """

    private static func missingKey(_ keyFile: String) -> SecretSealerError {
        SecretSealerError("""
            refusing to start: this store's secrets (SIP passwords, tokens kept for retries) are sealed with a secrets key, \
            and none was given: \(SecretSealer.environmentVariable) is not set and there is no key file at \(keyFile). \
            \(advice); a new key would not open them
            """)
    }

    private static func otherKey(_ sealer: SecretSealer) -> SecretSealerError {
        SecretSealerError("""
            refusing to start: \(sealer.source) is not the key this store's secrets (SIP passwords, tokens kept for \
            retries) are sealed with. \(advice)
            """)
    }
}
