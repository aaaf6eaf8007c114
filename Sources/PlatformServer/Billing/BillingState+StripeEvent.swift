import Foundation
import RPCRuntime
import ServiceProAPI

extension BillingState {
    /// What `event`, of the subscription the tenant pays with (or of none yet), does to the
    /// record: its tier, pending tier, payment page, Stripe fields and status, and the time that
    /// orders the events after it. Nothing is read or written here, so the rules read on their
    /// own. A status the record cannot take (not a valid next one, say, after a staff override)
    /// is left out and the rest applied: the reason it was left out is returned.
    mutating func apply(_ event: StripeEvent, _ effect: StripeEvent.Effect, settings: BillingSettings) throws -> String? {
        var effect = effect
        let object = event.data.object
        // The ledger answers an event of no subscription before it gets here.
        let ofOwnSubscription = event.subscriptionID == stripeSubscriptionID
        if pendingTier != nil, ofOwnSubscription, effect.endsSubscription || effect.failureOnly {
            // The subscription that ends, or whose payment failed, is one still waiting for its
            // first payment: the tenant's standing never rested on it. A declined card on the
            // payment page leaves the tier waiting and the tenant as it was.
            effect.status = nil
        }
        if ofOwnSubscription {
            // Where the tenant pays what is due: the failed invoice's page, until an invoice of
            // the subscription is paid.
            if effect.failureOnly, object.object == "invoice", let page = object.hostedInvoiceUrl { paymentURL = page }
            // A late one clears only its own invoice's page: a newer invoice's failure may have
            // put another there since.
            if effect.grantsPendingTier, !effect.isLate || paymentURL == object.hostedInvoiceUrl { paymentURL = nil }
        }
        if effect.grantsPendingTier, let pending = pendingTier, ofOwnSubscription {
            tier = pending
            pendingTier = nil
            // A first payment makes the tenant a paying one, whatever it was before.
            effect.recoveryOnly = false
        }
        if effect.updatesSubscription { takeSubscription(object, effect, settings: settings) }
        var statusKept: String?
        if let target = effect.target(from: status) {
            if suspendedByStaff, target != .cancelled {
                // Only staff lift their suspension; the subscription's end still ends it.
                statusKept = "suspended_by_staff"
            } else {
                do {
                    try move(to: target, reason: event.type, at: Date(), settings: settings)
                } catch let refused as ServiceError where refused.code == .failedPrecondition {
                    statusKept = refused.reason
                }
            }
        }
        lastStripeEventTime = max(lastStripeEventTime ?? event.time, event.time)
        if effect.updatesSubscription {
            lastSubscriptionEventTime = max(lastSubscriptionEventTime ?? event.time, event.time)
        }
        return statusKept
    }

    /// A subscription event's customer, subscription, price (and the tier it sets), period and
    /// trial end; an ending forgets the subscription.
    private mutating func takeSubscription(_ object: StripeEvent.Object, _ effect: StripeEvent.Effect, settings: BillingSettings) {
        stripeCustomerID = object.customer ?? stripeCustomerID
        stripeSubscriptionID = object.id ?? stripeSubscriptionID
        if let priceID = object.items?.data.first?.price.id {
            stripePriceID = priceID
            if let priced = settings.stripe?.tier(ofPrice: priceID).map({ PlanTier($0) }) {
                if effect.grantsTier {
                    tier = priced
                    pendingTier = nil
                } else if object.status == "incomplete" {
                    // Made elsewhere (a Checkout session), or before ChangePlan recorded it.
                    pendingTier = priced
                }
            }
        }
        if let end = object.currentPeriodEnd ?? object.items?.data.first?.currentPeriodEnd {
            currentPeriodEnd = Date(timeIntervalSince1970: TimeInterval(end))
        }
        if status == .trialing, let trialEnd = object.trialEnd {
            self.trialEnd = Date(timeIntervalSince1970: TimeInterval(trialEnd))
        }
        if effect.endsSubscription { forgetSubscription() }
    }
}
