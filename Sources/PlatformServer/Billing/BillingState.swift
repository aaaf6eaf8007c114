import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// A tenant's billing record as the store holds it: tier, status and trial end live on `tenants`,
/// where every call's gate reads them; the rest on `tenant_billing`.
struct BillingState: Sendable {
    var tenantID: String
    var tier: PlanTier
    var status: TenantStatus
    var trialEnd: Date?
    var gracePeriodEnd: Date?
    var retentionEnd: Date?
    var stripeCustomerID: String?
    var stripeSubscriptionID: String?
    /// The subscription that ended last. Stripe never revives an ended subscription, so its
    /// events delivered late change nothing, even one stamped the same second as its end.
    var endedStripeSubscriptionID: String?
    var stripePriceID: String?
    /// The tier of a subscription whose first payment is still due; `tier` until it is paid.
    var pendingTier: PlanTier?
    /// Where the subscription's unpaid invoice is paid (Stripe's hosted invoice page), while one
    /// is due: a first payment, or one that failed.
    var paymentURL: String?
    var currentPeriodEnd: Date?
    var statusReason: String
    /// The tenant is suspended by platform staff (for abuse, say), not for want of payment:
    /// paying lifts no such suspension, and no plan can be bought meanwhile. Staff lift it.
    var suspendedByStaff = false
    var statusChangeTime: Date
    /// When the latest event applied happened at Stripe: an event from before it cannot change
    /// the tenant's status.
    var lastStripeEventTime: Date?
    /// When the latest event of the subscription itself happened: an event of the subscription
    /// from before the last event but after this one (delivered after a newer invoice's, say)
    /// still brings its plan.
    var lastSubscriptionEventTime: Date?
    var updateTime: Date
    /// The `tenant_billing` row's revision: the etag, and the guard against lost updates.
    var revision: Int64

    var name: String { Self.name(tenantID) }

    static func name(_ tenantID: String) -> String { "tenants/\(tenantID)/billing" }

    var message: TenantBilling {
        TenantBilling.with {
            $0.name = name
            $0.tier = tier
            $0.status = status
            $0.features = PlanOffers.features(of: tier.catalogTier)
            if let trialEnd { $0.trialEndTime = Google_Protobuf_Timestamp(date: trialEnd) }
            if let gracePeriodEnd { $0.gracePeriodEndTime = Google_Protobuf_Timestamp(date: gracePeriodEnd) }
            if let retentionEnd { $0.retentionEndTime = Google_Protobuf_Timestamp(date: retentionEnd) }
            $0.stripeCustomerID = stripeCustomerID ?? ""
            $0.stripeSubscriptionID = stripeSubscriptionID ?? ""
            $0.stripePriceID = stripePriceID ?? ""
            if let pendingTier { $0.pendingTier = pendingTier }
            $0.paymentURL = paymentURL ?? ""
            if let currentPeriodEnd { $0.currentPeriodEndTime = Google_Protobuf_Timestamp(date: currentPeriodEnd) }
            $0.statusReason = statusReason
            $0.suspendedByStaff = suspendedByStaff
            $0.statusChangeTime = Google_Protobuf_Timestamp(date: statusChangeTime)
            if let lastStripeEventTime { $0.lastStripeEventTime = Google_Protobuf_Timestamp(date: lastStripeEventTime) }
            $0.updateTime = Google_Protobuf_Timestamp(date: updateTime)
            $0.etag = Etag.make(revision: revision)
        }
    }

    /// The tenant's subscription is gone (ended at Stripe, or withdrawn before its first
    /// payment): its next paid plan starts a new one, and no tier waits for it any more.
    mutating func forgetSubscription() {
        if let stripeSubscriptionID { endedStripeSubscriptionID = stripeSubscriptionID }
        stripeSubscriptionID = nil
        stripePriceID = nil
        currentPeriodEnd = nil
        pendingTier = nil
        paymentURL = nil
    }

    /// Moves to `newStatus` along a valid transition and sets the windows the new status runs
    /// on: a trial end while trialing, a grace period while past due, the retention window while
    /// cancelled. Nothing else changes: a status only gates, it never deletes.
    ///
    /// The transition is checked from `decidedFrom` when given: the status a change already made
    /// at Stripe was decided on, which a webhook may have moved since.
    mutating func move(
        to newStatus: TenantStatus, decidedFrom: TenantStatus? = nil, reason: String, at now: Date, settings: BillingSettings,
        trialEnd requestedTrialEnd: Date? = nil
    ) throws {
        let from = decidedFrom ?? status
        guard StatusTransitions.isValid(from: from, to: newStatus) else {
            throw ServiceError.failedPrecondition(
                reason: "invalid_status_transition",
                message: "\(name) cannot go from \(from.storedName) to \(newStatus.storedName); valid next statuses: \(StatusTransitions.next(from: from).map(\.storedName).sorted().joined(separator: ", "))",
                metadata: ["from": from.storedName, "to": newStatus.storedName])
        }
        if tenantID == TenantRecords.rootID, [.pastDue, .suspended, .cancelled].contains(newStatus) {
            throw ServiceError.failedPrecondition(reason: "root_tenant_protected", message: "the root tenant is never past due, suspended or cancelled")
        }
        let previous = status
        status = newStatus
        statusReason = reason
        // Any move ends a staff suspension; staff make one by moving to suspended themselves.
        suspendedByStaff = false
        statusChangeTime = now
        trialEnd = newStatus == .trialing ? (requestedTrialEnd ?? trialEnd ?? PlanOffers.trialEnd(from: now)) : nil
        if newStatus != .pastDue {
            gracePeriodEnd = nil
        } else if previous != .pastDue {
            gracePeriodEnd = now.addingTimeInterval(settings.gracePeriod)
        }
        // Only a cancellation starts the window at whose end the tenant's data goes. Non-payment
        // never deletes data (product plan, section 8): a suspension, for want of payment or by
        // staff, only gates, and its tenant keeps its data, and exports it, for as long as it lasts.
        retentionEnd = newStatus == .cancelled ? now.addingTimeInterval(settings.retentionWindow) : nil
    }
}

/// The billing status lifecycle. Trialing → active → past due → suspended → cancelled, with the
/// ways back a payment or a staff override opens: a paid invoice makes a past-due or suspended
/// tenant active again, and reactivating a cancelled tenant makes it active. Suspended →
/// suspended is staff taking a suspension for want of payment over as their own.
enum StatusTransitions {
    static let valid: [TenantStatus: Set<TenantStatus>] = [
        // Trialing → trialing extends the trial.
        .trialing: [.trialing, .active, .pastDue, .suspended, .cancelled],
        .active: [.pastDue, .suspended, .cancelled],
        .pastDue: [.active, .suspended, .cancelled],
        .suspended: [.suspended, .active, .pastDue, .cancelled],
        .cancelled: [.active],
    ]

    static func isValid(from: TenantStatus, to: TenantStatus) -> Bool {
        valid[from, default: []].contains(to)
    }

    static func next(from status: TenantStatus) -> Set<TenantStatus> {
        valid[status, default: []]
    }
}
