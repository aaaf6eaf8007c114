import Foundation
import RPCRuntime
import ServiceProAPI

/// Billing records in the store, always read and written together with the tenant's tier,
/// status and trial end on `tenants`.
enum BillingRecords {
    /// A tier bought through Stripe and not yet paid for; see `BillingState.pendingTier`.
    static let pendingTierMigration = Migration(
        version: 17,
        name: "tenant_billing_pending_tier",
        statements: ["ALTER TABLE tenant_billing ADD COLUMN pending_tier TEXT"],
        tenantOwnedTables: [])

    /// The page where an unpaid invoice is paid; see `BillingState.paymentURL`.
    static let paymentURLMigration = Migration(
        version: 23,
        name: "tenant_billing_payment_url",
        statements: ["ALTER TABLE tenant_billing ADD COLUMN payment_url TEXT"],
        tenantOwnedTables: [])

    /// The subscription that ended last; see `BillingState.endedStripeSubscriptionID`.
    static let endedSubscriptionMigration = Migration(
        version: 26,
        name: "tenant_billing_ended_subscription",
        statements: ["ALTER TABLE tenant_billing ADD COLUMN ended_stripe_subscription_id TEXT"],
        tenantOwnedTables: [])

    /// When the last event of the tenant's subscription was applied; see
    /// `BillingState.lastSubscriptionEventTime`.
    static let subscriptionEventTimeMigration = Migration(
        version: 28,
        name: "tenant_billing_last_subscription_event_time",
        statements: [
            "ALTER TABLE tenant_billing ADD COLUMN last_subscription_event_time BIGINT",
            // Which of the events before was the subscription's is not known: the last of all
            // bounds it, so an event delivered late after the upgrade is as stale as before.
            "UPDATE tenant_billing SET last_subscription_event_time = last_stripe_event_time",
        ],
        tenantOwnedTables: [])

    /// Whether platform staff made the tenant's suspension; see `BillingState.suspendedByStaff`.
    /// Suspensions made before are taken as payment's, as they were treated.
    /// Suspended tenants had a retention window, and their data went at its end; now only a
    /// cancellation has one. A window already ended in a purge stays, as the record of it.
    static let suspensionKeepsDataMigration = Migration(
        version: 36,
        name: "tenant_billing_suspension_keeps_data",
        statements: ["""
            UPDATE tenant_billing SET retention_end_time = NULL
            WHERE data_purge_time IS NULL AND tenant_id IN (SELECT tenant_id FROM tenants WHERE status = 'suspended')
            """],
        tenantOwnedTables: [])

    static let staffSuspensionMigration = Migration(
        version: 29,
        name: "tenant_billing_suspended_by_staff",
        statements: ["ALTER TABLE tenant_billing ADD COLUMN suspended_by_staff BOOLEAN NOT NULL DEFAULT FALSE"],
        tenantOwnedTables: [])

    /// The record a new tenant starts with; `TenantRecords.insert` writes it beside the tenant.
    static func insert(_ tx: TenantTransaction, now: Date) async throws {
        try await tx.insert(into: "tenant_billing", [
            ("status_change_time", now),
            ("update_time", now),
            ("revision", 1),
        ])
    }

    static func find(_ tx: TenantTransaction) async throws -> BillingState? {
        guard let tenant = try await tx.select("plan_tier, status, trial_end_time", from: "tenants").first,
              let row = try await tx.select(from: "tenant_billing").first
        else { return nil }
        return BillingState(
            tenantID: tx.tenantID,
            tier: PlanTier(storedName: try tenant.string("plan_tier")),
            status: TenantStatus(storedName: try tenant.string("status")),
            trialEnd: try tenant.optionalDate("trial_end_time"),
            gracePeriodEnd: try row.optionalDate("grace_period_end_time"),
            retentionEnd: try row.optionalDate("retention_end_time"),
            stripeCustomerID: try row.optionalString("stripe_customer_id"),
            stripeSubscriptionID: try row.optionalString("stripe_subscription_id"),
            endedStripeSubscriptionID: try row.optionalString("ended_stripe_subscription_id"),
            stripePriceID: try row.optionalString("stripe_price_id"),
            pendingTier: try row.optionalString("pending_tier").map(PlanTier.init(storedName:)),
            paymentURL: try row.optionalString("payment_url"),
            currentPeriodEnd: try row.optionalDate("current_period_end_time"),
            statusReason: try row.string("status_reason"),
            suspendedByStaff: try row.bool("suspended_by_staff"),
            statusChangeTime: try row.date("status_change_time"),
            lastStripeEventTime: try row.optionalDate("last_stripe_event_time"),
            lastSubscriptionEventTime: try row.optionalDate("last_subscription_event_time"),
            updateTime: try row.date("update_time"),
            revision: try row.int("revision"))
    }

    /// Reads the record or answers NOT_FOUND with its name.
    static func get(_ tx: TenantTransaction) async throws -> BillingState {
        guard let state = try await find(tx) else { throw ServiceError.notFound(BillingState.name(tx.tenantID)) }
        return state
    }

    /// Writes `state` if its revision is still the one it was read at, and bumps both rows'
    /// revisions; ABORTED when another writer got there first.
    static func save(_ state: BillingState, _ tx: TenantTransaction, now: Date = Date()) async throws {
        var assignments: [(String, any SQLValueConvertible)] = [
            ("grace_period_end_time", state.gracePeriodEnd),
            ("retention_end_time", state.retentionEnd),
            ("stripe_customer_id", state.stripeCustomerID),
            ("stripe_subscription_id", state.stripeSubscriptionID),
            ("ended_stripe_subscription_id", state.endedStripeSubscriptionID),
            ("stripe_price_id", state.stripePriceID),
            ("pending_tier", state.pendingTier?.storedName),
            ("payment_url", state.paymentURL),
            ("current_period_end_time", state.currentPeriodEnd),
            ("status_reason", state.statusReason),
            ("suspended_by_staff", state.suspendedByStaff),
            ("status_change_time", state.statusChangeTime),
            ("last_stripe_event_time", state.lastStripeEventTime),
            ("last_subscription_event_time", state.lastSubscriptionEventTime),
            ("update_time", now),
            ("revision", state.revision + 1),
        ]
        // Back in business, a tenant's earlier purge is history: its next retention window,
        // should it be cancelled again, ends in a purge too. A suspension is not back in business:
        // one purged under the earlier rule, whose staff take the suspension over, keeps the record.
        if state.status.isInGoodStanding { assignments.append(("data_purge_time", Date?.none)) }
        let changed = try await tx.update("tenant_billing", set: assignments, where: "revision = \(state.revision)")
        guard changed == 1 else {
            throw Etag.concurrentChange(of: state.name)
        }
        try await tx.base.execute("""
            UPDATE tenants SET plan_tier = \(state.tier.storedName), status = \(state.status.storedName),
                trial_end_time = \(state.trialEnd), update_time = \(now), revision = revision + 1
            WHERE tenant_id = \(tx.tenantID)
            """)
    }

    // MARK: The billing lease: whoever holds it (the lifecycle job, a plan change) is the only
    // one changing the tenant's billing until it is released or expires.

    /// Takes the lease for `holder` for `duration`; ABORTED when another holds it.
    static func takeLease(for holder: String, duration: TimeInterval, _ tx: TenantTransaction, now: Date = Date()) async throws {
        let held = try await tx.update(
            "tenant_billing", set: [("lease_owner", holder), ("lease_expire_time", now.addingTimeInterval(duration))],
            where: leaseIsFree(at: now))
        guard held == 1 else {
            throw ServiceError.aborted(
                reason: "billing_change_in_progress", message: "\(BillingState.name(tx.tenantID)) is being changed by another call; retry in a moment")
        }
    }

    /// The condition on `tenant_billing` under which its lease may be taken.
    static func leaseIsFree(at now: Date) -> SQLStatement {
        "(lease_expire_time IS NULL OR lease_expire_time < \(now))"
    }

    /// Whether `holder` still holds the lease at `now`. It is asked with an UPDATE, which on
    /// PostgreSQL locks the row until the transaction ends: a plan change cannot take the lease
    /// between the answer and the change made on it.
    static func confirmLease(heldBy holder: String, at now: Date, _ tx: TenantTransaction) async throws -> Bool {
        try await tx.update(
            "tenant_billing", set: [("lease_owner", holder)],
            where: "lease_owner = \(holder) AND lease_expire_time >= \(now)") == 1
    }

    static func releaseLease(heldBy holder: String, _ tx: TenantTransaction) async throws {
        try await tx.update("tenant_billing", set: [("lease_owner", String?.none), ("lease_expire_time", Date?.none)], where: "lease_owner = \(holder)")
    }

    /// The tenant a Stripe subscription or customer belongs to, looked up platform-wide.
    static func tenantID(stripeSubscriptionID: String?, stripeCustomerID: String?, _ tx: any SQLTransaction) async throws -> String? {
        if let subscription = stripeSubscriptionID, !subscription.isEmpty,
           let row = try await tx.first("SELECT tenant_id FROM tenant_billing WHERE stripe_subscription_id = \(subscription)") {
            return try row.string("tenant_id")
        }
        if let customer = stripeCustomerID, !customer.isEmpty,
           let row = try await tx.first("SELECT tenant_id FROM tenant_billing WHERE stripe_customer_id = \(customer)") {
            return try row.string("tenant_id")
        }
        return nil
    }
}
