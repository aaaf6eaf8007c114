import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI

/// Moves tenants whose time ran out: a trial that ended without a subscription (to the
/// configured status, suspended by default) and a past-due grace period that ended (to
/// suspended). Each pass leases the due tenants first, so replicas running the job side by side
/// split the work instead of doing it twice; a crashed worker's lease simply expires.
public struct BillingLifecycleJob: Service {
    static let actor = "jobs/billing-lifecycle"

    let database: any Database
    let settings: BillingSettings
    let logger: Logger
    /// Names this worker in the leases it takes.
    let worker: String
    let leaseDuration: TimeInterval
    let batchSize: Int

    public init(database: any Database, settings: BillingSettings, logger: Logger, worker: String = UUID().uuidString, leaseDuration: TimeInterval = 120, batchSize: Int = 100) {
        self.database = database
        self.settings = settings
        self.logger = logger
        self.worker = worker
        self.leaseDuration = leaseDuration
        self.batchSize = batchSize
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        await JobLoop.run(every: settings.lifecycleInterval, logger: logger, failure: "billing lifecycle pass failed; retrying next interval") {
            let moved = try await runOnce()
            if moved > 0 { logger.info("billing lifecycle moved tenants", metadata: ["count": "\(moved)"]) }
            return false
        }
    }

    /// One pass: leases what is due, then moves each tenant in its own transaction. Returns how
    /// many tenants this worker moved.
    ///
    /// A tenant that fails to move (a Stripe webhook changed it in between, say) is logged and
    /// keeps its lease until the lease expires, which is its wait before the next try; the pass
    /// goes on, so the tenants leased after it are not left waiting out their leases, unable to
    /// change plans meanwhile.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Int {
        var moved = 0
        for tenantID in try await lease(now: now) {
            do {
                if try await move(tenantID, now: now) { moved += 1 }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning(
                    "billing lifecycle could not move a tenant; trying again once its lease expires",
                    metadata: ["tenant": "\(tenantID)", "error": "\(error)", "lease_seconds": "\(Int(leaseDuration))"])
            }
        }
        return moved
    }

    /// The lease condition is checked again on each row the UPDATE takes, so of two workers
    /// racing for a tenant only one gets it; on PostgreSQL the second skips the rows the first
    /// has locked and takes others.
    private func lease(now: Date) async throws -> [String] {
        try await database.transaction(.platform) { tx in
            try await tx.query("""
                WITH picked AS MATERIALIZED (
                    SELECT b.tenant_id FROM tenant_billing b JOIN tenants t ON t.tenant_id = b.tenant_id
                    WHERE ((t.status = 'trialing' AND t.trial_end_time <= \(now) AND (b.stripe_subscription_id IS NULL OR b.pending_tier IS NOT NULL))
                        OR (t.status = 'past_due' AND b.grace_period_end_time <= \(now)))
                      AND (b.lease_expire_time IS NULL OR b.lease_expire_time < \(now))
                    LIMIT \(batchSize)\(raw: tx.dialect.skipLocked(of: "b")))
                UPDATE tenant_billing SET lease_owner = \(worker), lease_expire_time = \(now.addingTimeInterval(leaseDuration))
                WHERE \(BillingRecords.leaseIsFree(at: now)) AND tenant_id IN (SELECT tenant_id FROM picked)
                RETURNING tenant_id
                """).map { try $0.string("tenant_id") }
        }
    }

    private func move(_ tenantID: String, now: Date) async throws -> Bool {
        try await database.withTenant(tenantID) { tx in
            // A pass that outlasted its lease leaves the tenant to whoever holds it now (a plan
            // change, another replica).
            guard try await BillingRecords.confirmLease(heldBy: worker, at: Date(), tx) else { return false }
            var state = try await BillingRecords.get(tx)
            let target: TenantStatus
            let action: String
            // A subscription still waiting for its first payment does not keep a trial going.
            if state.status == .trialing, let end = state.trialEnd, end <= now, state.stripeSubscriptionID == nil || state.pendingTier != nil {
                target = settings.trialExpiryStatus == .cancelled ? .cancelled : .suspended
                action = "ExpireTrial"
            } else if state.status == .pastDue, let end = state.gracePeriodEnd, end <= now {
                target = .suspended
                action = "EndGracePeriod"
            } else {
                // Changed since it was leased (paid, extended): nothing is due any more.
                try await BillingRecords.releaseLease(heldBy: worker, tx)
                return false
            }
            let from = state.status
            try state.move(to: target, reason: action == "ExpireTrial" ? "trial ended without a subscription" : "grace period ended unpaid", at: now, settings: settings)
            try await BillingRecords.save(state, tx)
            try await BillingRecords.releaseLease(heldBy: worker, tx)
            try await AuditLog.recordSystem(tx, actor: Self.actor, action: action, resource: state.name, details: [
                "from_status": from.storedName, "to_status": target.storedName, "worker": worker,
            ])
            return true
        }
    }
}
