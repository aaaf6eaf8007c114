import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// API keys in the store. A token is `sp_<key id>_<secret>`: the key id finds the row, and only
/// the secret's SHA-256 is stored (the secret is 256 random bits, so a slow hash adds nothing).
enum ApiKeyRecords {
    struct Issued {
        var apiKey: ApiKey
        var token: String
    }

    /// `creator` is the real actor of the create, as ``ApiKey/creator`` shows it.
    static func issue(displayName: String, role: Role, creator: String, _ tx: TenantTransaction, now: Date = Date()) async throws -> Issued {
        let keyID = Tokens.id(bytes: 8)
        let secret = Tokens.secret()
        try await tx.insert(into: "api_keys", [
            ("key_id", keyID),
            ("display_name", displayName),
            ("role", role.rawValue),
            ("secret_hash", Tokens.hash(secret)),
            ("create_time", now),
            ("creator", creator),
        ])
        guard let key = try await find(keyID: keyID, tx) else {
            throw ServiceError.internal("api key \(keyID) was not found in the transaction that inserted it")
        }
        return Issued(apiKey: key, token: "sp_\(keyID)_\(secret)")
    }

    /// Who made each key, so that what a login link's session made can go with the link.
    static let creatorMigration = Migration(
        version: 25,
        name: "api_keys_creator",
        statements: ["ALTER TABLE api_keys ADD COLUMN creator TEXT"],
        tenantOwnedTables: [])

    /// The keys made before keys recorded their creator get it from their create's audit event,
    /// which names the real actor; a key whose event is gone keeps none.
    static let creatorBackfillMigration = Migration(
        version: 27,
        name: "api_keys_creator_backfill",
        statements: [
            """
            UPDATE api_keys SET creator = (
                SELECT MIN(e.real_actor) FROM audit_events e
                WHERE e.tenant_id = api_keys.tenant_id AND e.method = '/servicepro.tenancy.v1.ApiKeyService/CreateApiKey'
                    AND e.outcome = 'OK' AND e.resource = 'tenants/' || api_keys.tenant_id || '/apiKeys/' || api_keys.key_id)
            WHERE creator IS NULL
            """,
        ],
        tenantOwnedTables: [])

    /// Revokes the tenant's keys that `creator` made and that still work, and the keys those made
    /// in turn, through keys already revoked on their own: what a login link's session handed out
    /// goes with the link. The keys this call revoked, as they were before.
    static func revokeAll(madeBy creator: String, _ tx: TenantTransaction, now: Date = Date()) async throws -> [ApiKey] {
        var revoked: [ApiKey] = []
        var makers = [creator]
        while let maker = makers.popLast() {
            for key in try await tx.select(from: "api_keys", where: "creator = \(maker)").map(apiKey(from:)) {
                makers.append(key.name)
                guard !key.hasRevokeTime, let keyID = ResourceName.id(of: key.name, after: "apiKeys"),
                      try await revoke(keyID: keyID, tx, now: now)
                else { continue }
                revoked.append(key)
            }
        }
        return revoked
    }

    /// When a key last authenticated a call, to the minute (`lastUseResolution`), so an operator
    /// can tell the keys in use from the stale ones. On PostgreSQL, the change feed's trigger then
    /// announces only updates of what authentication reads: recording a use must not make every
    /// replica forget the key it just cached.
    static let lastUsedMigration = Migration(
        version: 22,
        name: "api_keys_last_used",
        statements: ["ALTER TABLE api_keys ADD COLUMN last_used_time BIGINT"],
        tenantOwnedTables: [],
        postgresStatements: [
            "DROP TRIGGER api_keys_announce_change ON api_keys",
            """
            CREATE TRIGGER api_keys_announce_change AFTER UPDATE OF tenant_id, key_id, role, secret_hash, revoke_time OR DELETE ON api_keys
            FOR EACH ROW EXECUTE FUNCTION api_keys_announce_change()
            """,
        ])

    /// How stale a key's `last_used_time` may get: authentication writes it at most this often,
    /// so the calls of a busy key (the bridge's, on every text) do not each write a row.
    static let lastUseResolution: TimeInterval = 60

    /// Records that `keyID` authenticated a call at `now`, unless that is already known to the
    /// minute; `lastUsed` is the time the caller read.
    static func recordUse(keyID: String, lastUsed: Date?, now: Date = Date(), _ database: any Database) async throws {
        if let lastUsed, now.timeIntervalSince(lastUsed) < lastUseResolution { return }
        try await database.execute(.platform, """
            UPDATE api_keys SET last_used_time = \(now) WHERE key_id = \(keyID)
            AND (last_used_time IS NULL OR last_used_time < \(now.addingTimeInterval(-lastUseResolution)))
            """) { _ in }
    }

    static func find(keyID: String, _ tx: TenantTransaction) async throws -> ApiKey? {
        try await tx.select(from: "api_keys", where: "key_id = \(keyID)").first.map(apiKey(from:))
    }

    /// False when the key was revoked already, by this call's or another's.
    @discardableResult
    static func revoke(keyID: String, _ tx: TenantTransaction, now: Date = Date()) async throws -> Bool {
        try await tx.update("api_keys", set: [("revoke_time", now)], where: "key_id = \(keyID) AND revoke_time IS NULL") == 1
    }

    static func apiKey(from row: SQLRow) throws -> ApiKey {
        let keyID = try row.string("key_id")
        return try ApiKey.with {
            $0.name = "tenants/\(try row.string("tenant_id"))/apiKeys/\(keyID)"
            $0.displayName = try row.string("display_name")
            $0.role = Role(rawValue: try row.string("role"))?.proto ?? .unspecified
            $0.tokenPrefix = "sp_\(keyID)"
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            if let revoked = try row.optionalDate("revoke_time") {
                $0.revokeTime = Google_Protobuf_Timestamp(date: revoked)
            }
            if let used = try row.optionalDate("last_used_time") {
                $0.lastUsedTime = Google_Protobuf_Timestamp(date: used)
            }
            $0.creator = try row.optionalString("creator") ?? ""
        }
    }
}

extension Role {
    var proto: Servicepro_Options_V1_Role {
        switch self {
        case .platformOwner: return .platformOwner
        case .platformStaff: return .platformStaff
        case .tenantAdmin: return .tenantAdmin
        case .tenantMember: return .tenantMember
        case .partner: return .partner
        case .telephonyBridge: return .telephonyBridge
        }
    }

    init?(proto: Servicepro_Options_V1_Role) {
        guard let role = Role.allCases.first(where: { $0.proto == proto }) else { return nil }
        self = role
    }
}
