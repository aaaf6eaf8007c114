import Foundation
import RPCRuntime

/// Authenticates `sp_<key id>_<secret>` bearer tokens against the api_keys table, through the
/// ``ApiKeyCache``: a key already seen costs a dictionary lookup and a hash, not a read of the
/// store. Revocation takes effect on the next call; the cache says how.
public struct ApiKeyAuthenticator: Authenticator {
    let database: any Database
    let cache: ApiKeyCache

    public init(database: any Database, cache: ApiKeyCache) {
        self.database = database
        self.cache = cache
    }

    public func authenticate(bearerToken: String) async throws -> Principal {
        let parts = bearerToken.split(separator: "_", maxSplits: 2)
        guard parts.count == 3, parts[0] == "sp" else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "the bearer token is not a ServicePro API key")
        }
        let keyID = String(parts[1])
        let presented = Tokens.hash(parts[2])
        if let known = cache.entry(keyID: keyID) {
            guard ConstantTime.equal(known.secretHash, presented) else { throw Self.unknownKey }
            return known.principal
        }

        let ticket = cache.ticket()
        let row = try await database.read(.platform) { tx in
            try await tx.first("SELECT tenant_id, role, secret_hash, revoke_time, last_used_time FROM api_keys WHERE key_id = \(keyID)")
        }
        guard let row else { throw Self.unknownKey }
        let secretHash = try row.data("secret_hash")
        guard ConstantTime.equal(secretHash, presented) else { throw Self.unknownKey }
        guard try row.optionalInt("revoke_time") == nil else {
            throw ServiceError.unauthenticated(reason: "token_revoked", message: "this API key was revoked; ask an admin for a new one")
        }
        let tenantID = try row.string("tenant_id")
        guard let role = Role(rawValue: try row.string("role")) else {
            throw ServiceError.internal("api key \(keyID) has unknown role")
        }
        let principal = Principal(subject: "tenants/\(tenantID)/apiKeys/\(keyID)", role: role, tenantID: tenantID)
        // Here, where the store is read anyway (at most once a minute per key while the cache
        // holds it), but not waited for: on SQLite the write queues behind every transaction in
        // progress (a purge, an export's chunks), and the call it would hold up may be the
        // bridge's, with Twilio waiting. A store that cannot take the write does not fail the call.
        let lastUsed = try row.optionalDate("last_used_time"), database = self.database
        Task { try? await ApiKeyRecords.recordUse(keyID: keyID, lastUsed: lastUsed, database) }
        cache.remember(.init(principal: principal, secretHash: secretHash), keyID: keyID, readWith: ticket)
        return principal
    }

    static let unknownKey = ServiceError.unauthenticated(reason: "invalid_token", message: "unknown API key; check the token or create a new key")
}
