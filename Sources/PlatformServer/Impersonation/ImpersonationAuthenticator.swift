import Foundation
import RPCRuntime

/// Authenticates `spi_<session id>_<secret>` impersonation tokens. The principal acts as the
/// impersonated tenant's admin while keeping the owner behind it as the real actor. Every call
/// checks the session afresh: a stopped, revoked or expired session, or one whose owner's key was
/// revoked since, is refused on the next call.
public struct ImpersonationAuthenticator: Authenticator {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func authenticate(bearerToken: String) async throws -> Principal {
        let parts = bearerToken.dropFirst(ImpersonationRecords.tokenPrefix.count).split(separator: "_", maxSplits: 1)
        guard bearerToken.hasPrefix(ImpersonationRecords.tokenPrefix), parts.count == 2 else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "the bearer token is not a ServicePro impersonation token")
        }
        let sessionID = String(parts[0])
        let presented = Tokens.hash(parts[1])
        let now = Date()
        // A read, as for API keys: a check made on every call never queues behind the writes.
        let (stored, actorKey) = try await database.read(.platform) { tx -> (ImpersonationRecords.Stored?, SQLRow?) in
            guard let stored = try await ImpersonationRecords.find(sessionID: sessionID, tx, now: now) else { return (nil, nil) }
            let keyID = ResourceName.id(of: stored.actor, after: "apiKeys") ?? ""
            let key = try await tx.first("SELECT role, revoke_time FROM api_keys WHERE key_id = \(keyID)")
            return (stored, key)
        }
        guard let stored, ConstantTime.equal(stored.tokenHash, presented) else {
            throw ServiceError.unauthenticated(reason: "invalid_token", message: "unknown impersonation token; start a new session")
        }
        switch stored.session.state {
        case .active:
            break
        case .expired:
            throw ServiceError.unauthenticated(
                reason: "impersonation_expired",
                message: "\(stored.session.name) expired at \(stored.session.expireTime.date); start a new session to keep impersonating")
        default:
            throw ServiceError.unauthenticated(
                reason: "impersonation_ended",
                message: "\(stored.session.name) was \(stored.session.state == .revoked ? "revoked" : "stopped"); use your own credential again")
        }
        guard let actorKey, try actorKey.optionalInt("revoke_time") == nil,
              let actorRole = Role(rawValue: try actorKey.string("role"))
        else {
            throw ServiceError.unauthenticated(
                reason: "impersonation_ended", message: "the key that started \(stored.session.name) was revoked")
        }
        return Principal(
            subject: stored.session.name,
            role: .tenantAdmin,
            tenantID: stored.tenantID,
            realActor: stored.actor,
            realActorRole: actorRole,
            impersonationSessionID: sessionID)
    }
}
