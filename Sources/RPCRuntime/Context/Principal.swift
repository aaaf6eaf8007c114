/// An authenticated caller.
public struct Principal: Sendable, Hashable {
    /// The credential's resource name, e.g. `tenants/root/apiKeys/k3x9`, or
    /// `impersonationSessions/s7f2` for a session's token.
    public var subject: String
    /// The role the credential acts with: for an impersonation session, the tenant admin's.
    public var role: Role
    /// The tenant the credential acts for. For platform roles, the root tenant.
    public var tenantID: String
    /// Who really acts: the subject, or the owner behind an impersonation session.
    public var realActor: String
    /// The real actor's own role: the owner's while impersonating, else the same as `role`.
    public var realActorRole: Role
    /// Set while an owner acts through an impersonation session.
    public var impersonationSessionID: String?

    public init(
        subject: String,
        role: Role,
        tenantID: String,
        realActor: String? = nil,
        realActorRole: Role? = nil,
        impersonationSessionID: String? = nil
    ) {
        self.subject = subject
        self.role = role
        self.tenantID = tenantID
        self.realActor = realActor ?? subject
        self.realActorRole = realActorRole ?? role
        self.impersonationSessionID = impersonationSessionID
    }

    public var isImpersonating: Bool { impersonationSessionID != nil }

    /// The caller of a method that takes no bearer token, whose roles are not checked: no
    /// tenant, and a tenant role (`tenant_member`), should anything read it.
    public static let anonymous = Principal(subject: "anonymous", role: .tenantMember, tenantID: "")
}
