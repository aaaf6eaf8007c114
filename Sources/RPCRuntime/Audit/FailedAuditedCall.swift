import GRPCCore

/// A call of an audited method that failed, with what the pipeline knew about it when it did.
public struct FailedAuditedCall: Sendable {
    public var principal: Principal
    public var method: MethodDescriptor
    /// The tenant the call acted on once the pipeline had resolved it, else the caller's own
    /// tenant; nil when neither is known (a caller without a tenant).
    public var tenantID: String?
    /// The resource the request named (`tenants/acme/phoneConfigs/main`), when the pipeline got
    /// far enough to read it; empty otherwise.
    public var resourceName: String
    public var requestID: String
    public var code: RPCError.Code
    /// The ErrorInfo reason, e.g. `role_not_allowed`; empty for errors that carry none.
    public var reason: String

    public init(
        principal: Principal,
        method: MethodDescriptor,
        tenantID: String?,
        resourceName: String,
        requestID: String,
        code: RPCError.Code,
        reason: String
    ) {
        self.principal = principal
        self.method = method
        self.tenantID = tenantID
        self.resourceName = resourceName
        self.requestID = requestID
        self.code = code
        self.reason = reason
    }
}
