import Crypto
import Foundation
import RPCRuntime

/// Authenticates `sp_<key id>_<secret>` bearer tokens against the api_keys table. Revocation
/// takes effect on the next call: nothing is cached.
public struct ApiKeyAuthenticator: Authenticator {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func authenticate(bearerToken: String) async throws -> Principal {
        let parts = bearerToken.split(separator: "_", maxSplits: 2)
        guard parts.count == 3, parts[0] == "sp" else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "the bearer token is not a ServicePro API key")
        }
        let keyID = String(parts[1])
        let presented = Data(SHA256.hash(data: Data(parts[2].utf8)))
        let row = try await database.read(.platform) { tx in
            try await tx.first("SELECT tenant_id, role, secret_hash, revoke_time FROM api_keys WHERE key_id = \(keyID)")
        }
        guard let row, Self.constantTimeEqual(try row.data("secret_hash"), presented) else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "unknown API key; check the token or create a new key")
        }
        guard try row.optionalInt("revoke_time") == nil else {
            throw ServiceError.unauthenticated(reason: "token_revoked", message: "this API key was revoked; ask an admin for a new one")
        }
        let tenantID = try row.string("tenant_id")
        guard let role = Role(rawValue: try row.string("role")) else {
            throw ServiceError.internal("api key \(keyID) has unknown role")
        }
        return Principal(subject: "tenants/\(tenantID)/apiKeys/\(keyID)", role: role, tenantID: tenantID)
    }

    static func constantTimeEqual(_ lhs: Data, _ rhs: Data) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
