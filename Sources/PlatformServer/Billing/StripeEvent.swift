import Foundation
import ServiceProAPI

/// The fields of a Stripe webhook event that billing reads. Subscription and invoice events
/// carry the object in `data.object`; everything else about them is ignored.
struct StripeEvent: Decodable, Sendable {
    var id: String
    var type: String
    /// Unix seconds: when the event happened at Stripe, which orders reordered deliveries.
    var created: Int64
    var data: Payload

    struct Payload: Decodable, Sendable {
        var object: Object
    }

    struct Object: Decodable, Sendable {
        /// "subscription", "invoice", ...
        var object: String
        var id: String?
        var customer: String?
        var status: String?
        /// A subscription's item list, for its price and (newer API versions) its period end.
        var items: StripeClient.StripeList<StripeClient.SubscriptionItem>?
        var currentPeriodEnd: Int64?
        var trialEnd: Int64?
        var metadata: [String: String]?
        /// An invoice's subscription: top level until API version 2025-03-31, under `parent` after.
        var subscription: String?
        var parent: InvoiceParent?
        /// An invoice's payment page.
        var hostedInvoiceUrl: String?
        /// Why a subscription ended: `payment_failed` when Stripe gave up collecting it.
        var cancellationDetails: CancellationDetails?

        struct CancellationDetails: Decodable, Sendable {
            var reason: String?
        }

        struct InvoiceParent: Decodable, Sendable {
            var subscriptionDetails: SubscriptionDetails?
        }

        struct SubscriptionDetails: Decodable, Sendable {
            var subscription: String?
        }
    }

    static func decode(_ payload: Data) throws -> StripeEvent {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(StripeEvent.self, from: payload)
    }

    /// Why `decode` refused a payload, in words: a `DecodingError` prints as its coding keys.
    static func explain(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "the event" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?: return "\(path(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context)?: return context.codingPath.isEmpty ? "it is not JSON" : "\(path(context.codingPath)) is malformed"
        default: return "it could not be read"
        }
    }

    var time: Date { Date(timeIntervalSince1970: TimeInterval(created)) }

    var subscriptionID: String? {
        let object = data.object
        return object.object == "subscription" ? object.id : object.subscription ?? object.parent?.subscriptionDetails?.subscription
    }

    /// What the event means for the tenant's billing, or nil for a type billing does not handle.
    var effect: Effect? {
        let object = data.object
        switch type {
        case "customer.subscription.created", "customer.subscription.updated",
             "customer.subscription.paused", "customer.subscription.resumed":
            if object.status == "incomplete_expired" {
                // Its first payment never came: the subscription is over, and the tier that
                // waited for it with it.
                return .endsUnpaid
            }
            let status = object.status.flatMap(Self.status(ofSubscription:))
            // Past due is where a failing payment takes a paying tenant. A suspended one stays
            // suspended until it pays, as with a failed invoice: Stripe keeps saying `past_due`
            // while it retries, and that must not buy a fresh grace period.
            return Effect(status: status, updatesSubscription: true, failureOnly: status == .pastDue, grantsTier: object.status != "incomplete")
        case "customer.subscription.deleted":
            if ["incomplete", "incomplete_expired"].contains(object.status) { return .endsUnpaid }
            // An ending never grants the tier of the price it names: a subscription cancelled
            // before its first payment would otherwise leave the tenant on a tier never paid for.
            // One Stripe ended for want of payment suspends rather than cancels: non-payment never
            // deletes data, and a cancelled tenant's data goes when its retention window ends.
            let unpaid = ["payment_failed", "payment_disputed"].contains(object.cancellationDetails?.reason)
            return Effect(status: unpaid ? .suspended : .cancelled, updatesSubscription: true, endsSubscription: true, grantsTier: false)
        case "customer.subscription.trial_will_end":
            return Effect(status: nil, updatesSubscription: true)
        case "invoice.paid", "invoice.payment_succeeded":
            // A payment brings a past-due or suspended tenant back; a trial or active one stays.
            // The first invoice of a subscription also grants the tier that waited for it, even
            // when the subscription's own update arrives later, and is then too old to apply.
            return Effect(status: .active, recoveryOnly: true, grantsPendingTier: true)
        case "invoice.payment_failed":
            return Effect(status: .pastDue, updatesSubscription: false, failureOnly: true)
        default:
            return nil
        }
    }

    struct Effect: Sendable {
        /// The status the event asks for; nil when it leaves the status alone.
        var status: TenantStatus?
        /// Whether the object is a subscription whose price, period and trial are to be read.
        var updatesSubscription = false
        /// Applies only to past-due and suspended tenants (a paid invoice).
        var recoveryOnly = false
        /// Applies only to trialing and active tenants (a failed payment): a suspended tenant
        /// whose retry fails again stays suspended.
        var failureOnly = false
        /// The subscription is gone for good: the tenant's next paid plan starts a new one.
        var endsSubscription = false
        /// The subscription's price sets the tier: not while its first payment is due.
        var grantsTier = true
        /// A paid invoice of the tenant's subscription: the tier waiting for it is granted.
        var grantsPendingTier = false
        /// Older than the last event applied: it brings what it alone knows (a plan, a paid
        /// invoice), never a status.
        var isLate = false

        /// A subscription whose first payment never came has ended: it leaves the tenant's
        /// status alone, since its standing never rested on it.
        static let endsUnpaid = Effect(status: nil, updatesSubscription: true, endsSubscription: true, grantsTier: false)

        func target(from current: TenantStatus) -> TenantStatus? {
            guard let status, status != current else { return nil }
            if recoveryOnly, ![.pastDue, .suspended].contains(current) { return nil }
            if failureOnly, ![.trialing, .active].contains(current) { return nil }
            return status
        }
    }

    /// Stripe's subscription statuses in ours. "incomplete" and "incomplete_expired" describe a
    /// first payment still being made; they leave the tenant's status alone.
    static func status(ofSubscription status: String) -> TenantStatus? {
        switch status {
        case "trialing": return .trialing
        case "active": return .active
        case "past_due": return .pastDue
        case "unpaid", "paused": return .suspended
        case "canceled": return .cancelled
        default: return nil
        }
    }
}
