/// The rules of one RPC, generated from its `(servicepro.options.v1.policy)` option and enforced
/// by the runtime before the handler runs.
public struct MethodPolicy: Sendable, Hashable {
    /// Roles that may call the method; anyone else is PERMISSION_DENIED.
    public var roles: Set<Role>
    public var scope: TenantScope
    /// The plan feature the effective tenant needs, if any.
    public var requiredFeature: Feature?
    /// The method appends an audit event in the same transaction as its change.
    public var audited: Bool
    public var allowedWhileSuspended: Bool
    /// Cancelled tenants keep only this (export, billing), until the retention window ends.
    public var allowedWhileCancelled: Bool
    public var allowedWhileImpersonating: Bool
    /// Safe to retry: a read, or a change keyed by request_id.
    public var idempotent: Bool
    /// No bearer token: the request carries its own credential (a login link's token).
    public var unauthenticated: Bool
    /// Platform roles may call it for a deleted tenant, whose audit trail remains.
    public var allowedAfterDeletion: Bool

    public init(
        roles: Set<Role>,
        scope: TenantScope,
        requiredFeature: Feature? = nil,
        audited: Bool = false,
        allowedWhileSuspended: Bool = false,
        allowedWhileCancelled: Bool = false,
        allowedWhileImpersonating: Bool = false,
        idempotent: Bool = false,
        unauthenticated: Bool = false,
        allowedAfterDeletion: Bool = false
    ) {
        self.roles = roles
        self.scope = scope
        self.requiredFeature = requiredFeature
        self.audited = audited
        self.allowedWhileSuspended = allowedWhileSuspended
        self.allowedWhileCancelled = allowedWhileCancelled
        self.allowedWhileImpersonating = allowedWhileImpersonating
        self.idempotent = idempotent
        self.unauthenticated = unauthenticated
        self.allowedAfterDeletion = allowedAfterDeletion
    }
}

/// Which tenants a method may touch.
public enum TenantScope: Sendable, Hashable {
    /// Not about one tenant: platform-wide listings, inbound telephony resolution.
    case platform
    /// One tenant, named by the request's resource name; tenant roles reach only their own.
    case tenant
    /// Only the caller itself.
    case caller
}
