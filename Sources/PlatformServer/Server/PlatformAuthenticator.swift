import RPCRuntime

/// The platform's bearer tokens, told apart by their prefix: `spi_` is an impersonation session's
/// token, `sps_` a session from a redeemed login link, anything else is taken for an API key
/// (`sp_`), which refuses what it does not know.
public struct PlatformAuthenticator: Authenticator {
    let apiKeys: ApiKeyAuthenticator
    let impersonationSessions: ImpersonationAuthenticator
    let loginSessions: LoginSessionAuthenticator

    public init(database: any Database, apiKeyCache: ApiKeyCache) {
        apiKeys = ApiKeyAuthenticator(database: database, cache: apiKeyCache)
        impersonationSessions = ImpersonationAuthenticator(database: database)
        loginSessions = LoginSessionAuthenticator(database: database)
    }

    public func authenticate(bearerToken: String) async throws -> Principal {
        if bearerToken.hasPrefix(ImpersonationRecords.tokenPrefix) {
            return try await impersonationSessions.authenticate(bearerToken: bearerToken)
        }
        if LoginSessionAuthenticator.handles(bearerToken) {
            return try await loginSessions.authenticate(bearerToken: bearerToken)
        }
        return try await apiKeys.authenticate(bearerToken: bearerToken)
    }
}
