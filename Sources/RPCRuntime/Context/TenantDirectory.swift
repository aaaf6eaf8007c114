/// What the runtime needs to know about a tenant to gate a call: whether it exists, its status
/// and its plan. The platform's store implements it.
public protocol TenantDirectory: Sendable {
    /// Nil when there is no such tenant.
    func access(tenantID: String) async throws -> TenantAccess?
    /// Whether a tenant with this id was deleted; asked only when `access` found none.
    func wasDeleted(tenantID: String) async throws -> Bool
}

public struct TenantAccess: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case active, trialing, pastDue = "past_due", suspended, cancelled
    }

    public var status: Status
    public var tier: PlanCatalog.Tier

    public init(status: Status, tier: PlanCatalog.Tier) {
        self.status = status
        self.tier = tier
    }
}
