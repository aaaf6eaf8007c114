import Foundation
import RPCRuntime

/// Authenticates `sps_<link id>_<secret>` session tokens, the ones a redeemed login link hands
/// out. The principal is the link (`tenants/{tenant}/loginLinks/{login_link}`), acting with the
/// link's role on its tenant until the session's expire time, or until the link is revoked. Nothing is cached: every call reads
/// the session afresh.
public struct LoginSessionAuthenticator: Authenticator {
    let database: any Database

    public init(database: any Database) { self.database = database }

    /// Whether `bearerToken` is a login session's token, for ``PlatformAuthenticator`` to route it.
    public static func handles(_ bearerToken: String) -> Bool {
        bearerToken.hasPrefix(LoginLinkRecords.sessionTokenPrefix)
    }

    public func authenticate(bearerToken: String) async throws -> Principal {
        guard let parsed = LoginLinkRecords.parse(bearerToken, prefix: LoginLinkRecords.sessionTokenPrefix) else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "the bearer token is not a ServicePro login session token")
        }
        let presented = Tokens.hash(parsed.secret)
        let row = try await database.read(.platform) { tx in
            try await tx.first("""
                SELECT tenant_id, role, session_token_hash, session_expire_time, revoke_time FROM login_links WHERE link_id = \(parsed.linkID)
                """)
        }
        guard let row, let stored = try row.optionalData("session_token_hash"),
              ConstantTime.equal(stored, presented)
        else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "unknown login session; redeem a new login link")
        }
        let tenantID = try row.string("tenant_id")
        let name = LoginLinkRecords.name(tenantID: tenantID, linkID: parsed.linkID)
        guard let expire = try row.optionalDate("session_expire_time"), expire > Date() else {
            throw ServiceError.unauthenticated(
                reason: "session_expired", message: "the session from \(name) has expired; redeem a new login link")
        }
        guard try row.optionalDate("revoke_time") == nil else {
            throw ServiceError.unauthenticated(
                reason: "session_revoked", message: "\(name) was revoked, which ended its session; ask for a new login link")
        }
        guard let role = Role(rawValue: try row.string("role")) else {
            throw ServiceError.internal("login link \(parsed.linkID) has an unknown role")
        }
        return Principal(subject: name, role: role, tenantID: tenantID)
    }
}
