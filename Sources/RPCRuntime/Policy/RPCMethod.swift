import GRPCCore
import SwiftProtobuf

/// One generated RPC: its types, descriptor and policy. Generated code declares one per method.
public protocol RPCMethod: SendableMetatype {
    associatedtype Input: ValidatableMessage & Sendable
    associatedtype Output: SwiftProtobuf.Message & Sendable

    static var descriptor: MethodDescriptor { get }
    /// Nil when the proto declares none: such a method cannot be registered.
    static var policy: MethodPolicy? { get }
    /// For tenant-scoped methods, the path of the field that names the resource the request
    /// targets, as field violations name it (`parent`, `tenant.name`).
    static var tenantResourceField: String? { get }
    /// For tenant-scoped methods, the resource name (`tenants/{tenant}/...`) the request targets.
    static func tenantResourceName(of request: Input) -> String?
    /// For audited methods that are not tenant-scoped, the resource their audit events name
    /// when the call fails before its handler names one (the policy's `audit_resource`).
    static func auditResourceName(of request: Input) -> String?
}

extension RPCMethod {
    public static func auditResourceName(of request: Input) -> String? { nil }

    /// The resource a request names, for its call's record and audit event: the tenant-scoped
    /// resource, or the policy's `audit_resource`.
    static func resourceName(of request: Input) -> String? {
        policy?.scope == .tenant ? tenantResourceName(of: request) : auditResourceName(of: request)
    }
}

/// A generated service registration that also exposes its methods' policies.
public protocol PolicedRPCService: RegistrableRPCService {
    var methods: [any RPCMethod.Type] { get }
}
