import RPCRuntime

/// Tenant status and plan for the runtime's gates, read from the tenants table.
public struct StoreTenantDirectory: TenantDirectory {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func access(tenantID: String) async throws -> TenantAccess? {
        try await database.read(.tenant(tenantID)) { base in
            let tx = TenantTransaction(tenantID: tenantID, base: base)
            guard let row = try await tx.select("status, plan_tier", from: "tenants").first else { return nil }
            return TenantAccess(
                status: TenantAccess.Status(rawValue: try row.string("status")) ?? .active,
                tier: PlanCatalog.Tier(rawValue: try row.string("plan_tier")) ?? .starter)
        }
    }

    public func wasDeleted(tenantID: String) async throws -> Bool {
        try await database.read(.tenant(tenantID)) { try await TenantRecords.isRetired(tenantID, $0) }
    }
}
