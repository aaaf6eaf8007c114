/// Turns a bearer token into a principal. Throws ``ServiceError/unauthenticated(reason:message:)``
/// for unknown, revoked or expired tokens.
public protocol Authenticator: Sendable {
    func authenticate(bearerToken: String) async throws -> Principal
}
