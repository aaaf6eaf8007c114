import GRPCCore

/// What a handler knows about the call: who is calling, for which tenant, and under which policy.
///
/// Built by ``AuthenticationInterceptor`` and completed by ``RPCPipeline`` once the request's
/// tenant is known, before the handler runs:
/// ```swift
/// func getCustomer(_ request: GetCustomerRequest, context: RequestContext) async throws -> Customer {
///     let tenantID = try context.requireTenant()
///     ...
/// }
/// ```
public struct RequestContext: Sendable {
    public var principal: Principal
    /// The tenant the call acts within: the tenant named by a tenant-scoped request, or the
    /// caller's own tenant for tenant roles; nil for platform callers of platform-wide methods.
    public var tenantID: String?
    /// From the `x-request-id` header, or generated; it ties log lines and audit events together.
    public var requestID: String
    public var method: MethodDescriptor
    public var policy: MethodPolicy
    /// When the caller stops waiting, from `grpc-timeout`.
    public var deadline: ContinuousClock.Instant?
    /// Looks up tenants' status and tier for the plan and suspension gates.
    public var tenantDirectory: any TenantDirectory
    /// The request field that named `tenants/-` (every tenant), when one did; `tenantID` is then nil.
    public var acrossTenantsField: String?

    public init(
        principal: Principal,
        tenantID: String?,
        requestID: String,
        method: MethodDescriptor,
        policy: MethodPolicy,
        deadline: ContinuousClock.Instant? = nil,
        tenantDirectory: any TenantDirectory
    ) {
        self.principal = principal
        self.tenantID = tenantID
        self.requestID = requestID
        self.method = method
        self.policy = policy
        self.deadline = deadline
        self.tenantDirectory = tenantDirectory
    }

    /// The effective tenant, for handlers of tenant-scoped methods where the runtime always sets it.
    public func requireTenant() throws -> String {
        guard let tenantID else {
            // Platform roles may name every tenant; only listings can act on them all.
            if let field = acrossTenantsField {
                throw ServiceError.invalidArgument(field: field, "must name one tenant: tenants/- is for listing across tenants")
            }
            throw ServiceError.internal("no tenant in context for \(method.fullyQualifiedMethod)")
        }
        return tenantID
    }

    /// Bound by the interceptor for the duration of the call.
    @TaskLocal public static var current: RequestContext?
}
