import Foundation
import GRPCCore

/// Authenticates the `authorization: Bearer` token, enforces the method's role and impersonation
/// rules from the policy table, and binds the ``RequestContext`` for the rest of the call.
/// A method missing from the table is denied.
public struct AuthenticationInterceptor: ServerInterceptor {
    let policies: PolicyTable
    let authenticator: any Authenticator
    let tenantDirectory: any TenantDirectory

    public init(policies: PolicyTable, authenticator: any Authenticator, tenantDirectory: any TenantDirectory) {
        self.policies = policies
        self.authenticator = authenticator
        self.tenantDirectory = tenantDirectory
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let policy: MethodPolicy
        switch policies[context.descriptor] {
        case .open?:
            return try await next(request, context)
        case .policed(let methodPolicy)?:
            policy = methodPolicy
        case nil:
            throw ServiceError.permissionDenied(
                reason: "method_not_allowed", message: "\(context.descriptor.fullyQualifiedMethod) has no policy and is denied")
        }

        let principal = policy.unauthenticated
            ? Principal.anonymous
            : try await authenticator.authenticate(bearerToken: try Self.bearerToken(in: request.metadata))
        CallRecord.current?.principal = principal
        guard policy.unauthenticated || policy.roles.contains(principal.role) else {
            throw ServiceError.permissionDenied(
                reason: "role_not_allowed",
                message: "role \(principal.role.rawValue) may not call \(context.descriptor.method)")
        }
        if principal.isImpersonating, !policy.allowedWhileImpersonating {
            throw ServiceError.permissionDenied(
                reason: "not_allowed_while_impersonating",
                message: "\(context.descriptor.method) is not allowed from an impersonation session")
        }

        let requestContext = RequestContext(
            principal: principal,
            tenantID: principal.role.isPlatform || policy.unauthenticated ? nil : principal.tenantID,
            requestID: CallRecord.current?.requestID ?? Self.requestID(in: request.metadata),
            method: context.descriptor,
            policy: policy,
            deadline: Self.deadline(in: request.metadata),
            tenantDirectory: tenantDirectory
        )
        return try await RequestContext.$current.withValue(requestContext) {
            try await next(request, context)
        }
    }

    static func bearerToken(in metadata: Metadata) throws -> String {
        guard let header = metadata[stringValues: "authorization"].first(where: { _ in true }) else {
            throw ServiceError.unauthenticated(
                reason: "missing_credentials", message: "send an `authorization: Bearer <token>` header")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix) else {
            throw ServiceError.unauthenticated(
                reason: "malformed_credentials", message: "the authorization header must be `Bearer <token>`")
        }
        return String(header.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
    }

    /// The caller's `x-request-id`, or a new one.
    static func requestID(in metadata: Metadata) -> String {
        if let given = metadata[stringValues: "x-request-id"].first(where: { _ in true }), !given.isEmpty, given.count <= 128 {
            return given
        }
        return UUID().uuidString.lowercased()
    }

    /// `grpc-timeout` is digits and a unit: H, M, S, m (ms), u (µs), n (ns).
    static func deadline(in metadata: Metadata) -> ContinuousClock.Instant? {
        guard let header = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
              let unit = header.last, let amount = Int64(header.dropLast())
        else { return nil }
        let duration: Duration
        switch unit {
        case "H": duration = .seconds(amount * 3600)
        case "M": duration = .seconds(amount * 60)
        case "S": duration = .seconds(amount)
        case "m": duration = .milliseconds(amount)
        case "u": duration = .microseconds(amount)
        case "n": duration = .nanoseconds(amount)
        default: return nil
        }
        return .now + duration
    }
}
