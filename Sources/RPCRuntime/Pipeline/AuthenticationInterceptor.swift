import Foundation
import GRPCCore
import GRPCProtobuf

/// Authenticates the `authorization: Bearer` token, enforces the method's role and impersonation
/// rules from the policy table, and binds the ``RequestContext`` for the rest of the call.
/// A method missing from the table is denied.
///
/// When an audited method's call fails after the caller is known, whether refused here or failing
/// further on, the failure goes to the ``AuditSink``: a refused attempt is audited like a change,
/// naming the resource its request named.
public struct AuthenticationInterceptor: ServerInterceptor {
    let policies: PolicyTable
    let authenticator: any Authenticator
    let tenantDirectory: any TenantDirectory
    let auditSink: (any AuditSink)?

    public init(
        policies: PolicyTable,
        authenticator: any Authenticator,
        tenantDirectory: any TenantDirectory,
        auditSink: (any AuditSink)? = nil
    ) {
        self.policies = policies
        self.authenticator = authenticator
        self.tenantDirectory = tenantDirectory
        self.auditSink = auditSink
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

        // An unknown or missing token is not audited: there is nobody to attribute it to.
        // A store that fails while checking is logged and INTERNAL, as in handlers.
        let principal = policy.unauthenticated
            ? Principal.anonymous
            : try await RPCPipeline.guarded {
                try await authenticator.authenticate(bearerToken: try Self.bearerToken(in: request.metadata))
            }
        let record = CallRecord.current
        record?.principal = principal
        let requestID = record?.requestID ?? Self.requestID(in: request.metadata)
        guard policy.audited, let auditSink else {
            return try await admit(principal, policy: policy, requestID: requestID, request: request, context: context, next: next)
        }

        let reportFailure: @Sendable (any Error) async -> Void = { error in
            // A call without a token is attributed through the credential it carries (a login
            // link's tenant) once the handler has found it; before that, as with an unknown
            // token, there is nobody to attribute it to, and anyone could fill the log.
            if policy.unauthenticated, record?.tenantID == nil { return }
            await auditSink.recordFailure(FailedAuditedCall(
                principal: principal,
                method: context.descriptor,
                tenantID: record?.tenantID ?? (principal.tenantID.isEmpty ? nil : principal.tenantID),
                resourceName: record?.resourceName ?? "",
                requestID: requestID,
                code: RPCError.code(of: error),
                reason: Self.reason(of: error)))
        }
        let response: StreamingServerResponse<Output>
        do {
            response = try await admit(principal, policy: policy, requestID: requestID, request: request, context: context, next: next)
        } catch {
            await reportFailure(error)
            throw error
        }
        switch response.accepted {
        case .success(var contents):
            // A streaming handler fails while it writes, after this returns.
            let producer = contents.producer
            contents.producer = { writer in
                do {
                    return try await producer(writer)
                } catch {
                    await reportFailure(error)
                    throw error
                }
            }
            return StreamingServerResponse(accepted: .success(contents))
        case .failure(let error):
            await reportFailure(error)
            return response
        }
    }

    /// The policy's role and impersonation rules, then the rest of the call with its context bound.
    private func admit<Input: Sendable, Output: Sendable>(
        _ principal: Principal,
        policy: MethodPolicy,
        requestID: String,
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        // First, so an owner learns that the session is what stands in the way, not a role.
        if principal.isImpersonating, !policy.allowedWhileImpersonating {
            throw await refusal(of: request, policy: policy, context: context, ServiceError.permissionDenied(
                reason: "not_allowed_while_impersonating",
                message: "\(context.descriptor.method) is not allowed from an impersonation session; stop it and use your own credential"))
        }
        guard policy.unauthenticated || policy.roles.contains(Self.checkedRole(of: principal, for: policy)) else {
            throw await refusal(of: request, policy: policy, context: context, ServiceError.permissionDenied(
                reason: "role_not_allowed",
                message: "role \(principal.role.rawValue) may not call \(context.descriptor.method)"))
        }

        let requestContext = RequestContext(
            principal: principal,
            tenantID: principal.role.isPlatform || policy.unauthenticated ? nil : principal.tenantID,
            requestID: requestID,
            method: context.descriptor,
            policy: policy,
            deadline: Self.deadline(in: request.metadata),
            tenantDirectory: tenantDirectory
        )
        return try await RequestContext.$current.withValue(requestContext) {
            try await next(request, context)
        }
    }

    /// `error`, once an audited call's record names the resource its request named: the request
    /// is read here only for that, since the refused call goes no further.
    private func refusal<Input: Sendable>(
        of request: StreamingServerRequest<Input>, policy: MethodPolicy, context: ServerContext, _ error: ServiceError
    ) async -> ServiceError {
        guard policy.audited, let record = CallRecord.current else { return error }
        var messages = request.messages.makeAsyncIterator()
        if let message = try? await messages.next() {
            record.resourceName = policies.resourceName(of: message, for: context.descriptor)
        }
        return error
    }

    /// The role a policy is checked against: the credential's own, except for methods about the
    /// caller itself (who am I, ending its own session), which answer to the real actor's, so an
    /// owner's impersonation session can end itself although the tenant admin role it acts with
    /// could not.
    static func checkedRole(of principal: Principal, for policy: MethodPolicy) -> Role {
        policy.scope == .caller ? principal.realActorRole : principal.role
    }

    /// The ErrorInfo reason a failure reaches the client with, or "" when it carries none.
    static func reason(of error: any Error) -> String {
        if let error = error as? ServiceError { return error.reason }
        return (error as? RPCError)?.errorInfoReason ?? ""
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
        return FieldCheck.trimmed(String(header.dropFirst(prefix.count)))
    }

    /// The caller's `x-request-id`, or a new one. A caller's id goes into every log line of the
    /// call, so only letters, digits and `._-` are taken: anything else could forge a field.
    static func requestID(in metadata: Metadata) -> String {
        if let given = metadata[stringValues: "x-request-id"].first(where: { _ in true }),
           (1...128).contains(given.utf8.count), given.utf8.allSatisfy({ $0.isASCIILetterOrDigit || "._-".utf8.contains($0) }) {
            return given
        }
        return randomUUID()
    }

    /// A version 4 UUID, lowercase. Foundation's `UUID()` opens and reads /dev/urandom each time;
    /// the system generator takes its 16 bytes in two `getrandom` calls.
    static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
        bytes[6] = bytes[6] & 0x0f | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3f | 0x80  // RFC 4122 variant
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if [4, 6, 8, 10].contains(index) { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `grpc-timeout` is 1 to 8 ASCII digits and a unit: H, M, S, m (ms), u (µs), n (ns). Anything
    /// else is no deadline, as grpc-swift reads it: the header is the caller's to write, and a
    /// longer amount would overflow a duration.
    static func deadline(in metadata: Metadata) -> ContinuousClock.Instant? {
        guard let header = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
              let unit = header.last, (2...9).contains(header.utf8.count),
              header.utf8.dropLast().allSatisfy(\.isASCIIDigit),
              let amount = Int64(header.dropLast())
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
