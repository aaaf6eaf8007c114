import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.tenancy.v1.TenantService over the store.
public struct TenantHandler: TenantServiceHandler {
    let database: any Database
    /// Told when a deletion has taken the tenant's API keys with it.
    let apiKeys: ApiKeyCache
    /// Called when a deletion has taken the tenant's phone configs with it: calls and texts route
    /// by them.
    let onPhoneConfigChange: @Sendable () async -> Void

    public init(database: any Database, apiKeys: ApiKeyCache, onPhoneConfigChange: @escaping @Sendable () async -> Void = {}) {
        self.database = database
        self.apiKeys = apiKeys
        self.onPhoneConfigChange = onPhoneConfigChange
    }

    public func getTenant(_ request: GetTenantRequest, context: RequestContext) async throws -> Tenant {
        let tenantID = try context.requireTenant()
        guard let tenant = try await database.withTenant(tenantID, TenantRecords.find) else {
            throw ServiceError.notFound(request.name)
        }
        return tenant.visible(to: context.principal)
    }

    public func listTenants(_ request: ListTenantsRequest, context: RequestContext) async throws -> ListTenantsResponse {
        let filter = TenantRecords.ListFilter(status: request.status, tier: request.planTier, industry: request.industry)
        let paging = try PageRequest(request)
        // Platform roles list every tenant; tenant roles and partners list only their own.
        let scope: DataScope = context.principal.role.isPlatform ? .platform : .tenant(context.principal.tenantID)
        let (page, total): (ListPage<Tenant>, Int) = try await database.transaction(scope) { tx in
            let listed = try await ListOrder(column: "create_time", direction: .newestFirst, idColumn: "tenant_id")
                .page(of: "tenants", where: filter.conditions, paging, tx, item: TenantRecords.tenant(from:))
            let matching = try await TenantRecords.count(filter, tx)
            return (listed, matching)
        }
        return ListTenantsResponse.with {
            $0.tenants = page.items.map { $0.visible(to: context.principal) }
            $0.totalSize = Int32(total)
            $0.nextPageToken = page.nextPageToken
        }
    }

    public func createTenant(_ request: CreateTenantRequest, context: RequestContext) async throws -> Tenant {
        var tenant = request.tenant
        guard !tenant.displayName.isEmpty else {
            throw ServiceError.invalidArgument(field: "tenant.display_name", "is required")
        }
        try TimeZoneName.check(tenant.timeZone, field: "tenant.time_zone")
        tenant.name = ResourceName.tenant(request.tenantID)
        tenant.slug = request.tenantID
        if tenant.planTier == .unspecified { tenant.planTier = .starter }
        if tenant.status == .unspecified { tenant.status = .trialing }
        // Billing moves a tenant on from here (past due, suspended, cancelled), with the dates
        // that go with each; a tenant born there would lack them.
        guard [.trialing, .active].contains(tenant.status) else {
            throw ServiceError.invalidArgument(field: "tenant.status", "a new tenant is trialing or active; billing changes it later (spctl billing set-status)")
        }
        if tenant.hasTrialEndTime {
            guard tenant.status == .trialing else {
                throw ServiceError.invalidArgument(field: "tenant.trial_end_time", "only a trialing tenant has a trial end; leave it unset for an active one")
            }
            guard tenant.trialEndTime.date > Date() else {
                throw ServiceError.invalidArgument(field: "tenant.trial_end_time", "must be in the future")
            }
        }
        if tenant.status == .trialing, !tenant.hasTrialEndTime {
            tenant.trialEndTime = Google_Protobuf_Timestamp(date: PlanOffers.trialEnd(from: Date()))
        }
        let newTenant = tenant
        let callerTenant = context.principal.tenantID
        // Platform scope: the idempotency record belongs to the caller, the row to the new tenant.
        do {
            return try await database.transaction(.platform) { tx in
                let caller = TenantTransaction(tenantID: callerTenant, base: tx)
                return try await IdempotencyRecords.once(caller, method: "CreateTenant", for: request) {
                    let scoped = TenantTransaction(tenantID: request.tenantID, base: tx)
                    try await TenantRecords.checkIDFree(request.tenantID, field: "tenant_id", tx)
                    try await TenantRecords.insert(newTenant, scoped)
                    try await AuditLog.record(scoped, context: context, resource: newTenant.name)
                    return try await TenantRecords.find(scoped)!
                }
            }
        } catch where TenantRecords.isIDTaken(error) {
            throw TenantRecords.exists(request.tenantID, field: "tenant_id")
        }
    }

    public func updateTenant(_ request: UpdateTenantRequest, context: RequestContext) async throws -> Tenant {
        let tenantID = try context.requireTenant()
        let paths = try TenantUpdateMask(request.updateMask, principal: context.principal)
        return try await database.withTenant(tenantID) { tx in
            guard var tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(request.tenant.name) }
            let revision = Etag.revision(tenant.etag) ?? 0
            try Etag.requireCurrent(request.tenant.etag, current: tenant.etag, of: tenant.name)
            paths.apply(from: request.tenant, to: &tenant)
            guard !tenant.displayName.isEmpty else {
                throw ServiceError.invalidArgument(field: "tenant.display_name", "must not be empty")
            }
            try TimeZoneName.check(tenant.timeZone, field: "tenant.time_zone")
            guard try await TenantRecords.update(tenant, expectedRevision: revision, tx) else {
                throw Etag.concurrentChange(of: tenant.name)
            }
            try await AuditLog.record(tx, context: context, resource: tenant.name, details: ["update_mask": paths.paths.joined(separator: ",")])
            return try await TenantRecords.find(tx)!.visible(to: context.principal)
        }
    }

    public func deleteTenant(_ request: DeleteTenantRequest, context: RequestContext) async throws -> DeleteTenantResponse {
        let tenantID = try context.requireTenant()
        guard tenantID != TenantRecords.rootID else {
            throw ServiceError.failedPrecondition(reason: "root_tenant_protected", message: "the root tenant cannot be deleted")
        }
        defer { apiKeys.forget(tenantID: tenantID) }
        let response = try await database.withTenant(tenantID) { tx in
            try await TenantRecords.lockForChange(tx)
            guard let tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(request.name) }
            try Etag.requireCurrent(request.etag, current: tenant.etag, of: tenant.name)
            if let subscription = try await BillingRecords.get(tx).stripeSubscriptionID {
                // Deleting the tenant would leave Stripe charging a customer nobody can see.
                throw ServiceError.failedPrecondition(
                    reason: "stripe_subscription_active",
                    message: "tenants/\(tenantID) pays through Stripe subscription \(subscription); cancel it in Stripe first (its customer.subscription.deleted event ends it here), then delete")
            }
            // A plan change holds the billing lease while it subscribes at Stripe: deleting the
            // tenant under it would leave that subscription charging a tenant nobody can see.
            try await BillingRecords.takeLease(for: "delete-tenant", duration: BillingHandler.planChangeLease, tx)
            try await TenantRecords.delete(tx)
            // Filed under the deleted tenant, whose audit trail the deletion keeps.
            try await AuditLog.record(tx, context: context, resource: request.name)
            return DeleteTenantResponse()
        }
        await onPhoneConfigChange()
        return response
    }
}

extension ListTenantsRequest: PagedListRequest {}

extension Tenant {
    /// Tenant roles never see platform staff's internal notes.
    func visible(to principal: Principal) -> Tenant {
        guard !principal.role.isPlatform else { return self }
        var copy = self
        copy.internalNotes = ""
        return copy
    }
}
