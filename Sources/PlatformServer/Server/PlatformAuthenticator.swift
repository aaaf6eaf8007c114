import RPCRuntime

/// The platform's bearer tokens, told apart by their prefix: `spi_` is an impersonation session's
/// token, anything else is taken for an API key (`sp_`), which refuses what it does not know.
public struct PlatformAuthenticator: Authenticator {
    let apiKeys: ApiKeyAuthenticator
    let impersonationSessions: ImpersonationAuthenticator

    public init(database: any Database) {
        apiKeys = ApiKeyAuthenticator(database: database)
        impersonationSessions = ImpersonationAuthenticator(database: database)
    }

    public func authenticate(bearerToken: String) async throws -> Principal {
        if bearerToken.hasPrefix(ImpersonationRecords.tokenPrefix) {
            return try await impersonationSessions.authenticate(bearerToken: bearerToken)
        }
        return try await apiKeys.authenticate(bearerToken: bearerToken)
    }
}
