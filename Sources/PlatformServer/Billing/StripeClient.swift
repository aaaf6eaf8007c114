import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RPCRuntime

/// The part of Stripe's REST API that plan changes use: customers and subscriptions. Requests
/// are form-encoded with an `Idempotency-Key`, so a retried plan change never charges twice.
struct StripeClient: Sendable {
    let settings: StripeSettings
    var api = ProviderAPI(name: "Stripe", keepsFailedAnswers: true)

    struct Customer: Decodable, Sendable {
        var id: String
    }

    struct Subscription: Decodable, Sendable {
        var id: String
        var customer: String
        var status: String
        var items: StripeList<SubscriptionItem>
        /// On the subscription until API version 2025-03-31, on each item after it.
        var currentPeriodEnd: Int64?
        var latestInvoice: InvoiceReference?

        var periodEnd: Int64? { currentPeriodEnd ?? items.data.first?.currentPeriodEnd }

        /// A new subscription whose first invoice is not paid yet: it grants nothing until it is.
        var awaitsFirstPayment: Bool { status == "incomplete" }

        /// A renewal is unpaid: Stripe is retrying the card (past_due), or has given up (unpaid).
        var isOverdue: Bool { ["past_due", "unpaid"].contains(status) }

        /// Ended at Stripe (cancelled, or never paid): it takes no change any more.
        var hasEnded: Bool { ["canceled", "incomplete_expired"].contains(status) }
    }

    /// A subscription's `latest_invoice`: its id, or the invoice itself when the request
    /// expanded it.
    struct InvoiceReference: Decodable, Sendable {
        var id: String
        /// Where the customer pays it.
        var hostedInvoiceUrl: String?
        /// draft, open, paid, uncollectible or void; nil when only the id was sent.
        var status: String?

        private enum CodingKeys: String, CodingKey { case id, hostedInvoiceUrl, status }

        init(from decoder: any Decoder) throws {
            if let id = try? decoder.singleValueContainer().decode(String.self) {
                self.id = id
                return
            }
            let invoice = try decoder.container(keyedBy: CodingKeys.self)
            id = try invoice.decode(String.self, forKey: .id)
            hostedInvoiceUrl = try invoice.decodeIfPresent(String.self, forKey: .hostedInvoiceUrl)
            status = try invoice.decodeIfPresent(String.self, forKey: .status)
        }
    }

    struct SubscriptionItem: Decodable, Sendable {
        var id: String
        var price: Price
        var currentPeriodEnd: Int64?
    }

    struct Price: Decodable, Sendable {
        var id: String
    }

    struct StripeList<Element: Decodable & Sendable>: Decodable, Sendable {
        var data: [Element]
    }

    func createCustomer(tenantID: String, name: String, email: String, idempotencyKey: String) async throws -> Customer {
        var form = [("name", name), ("metadata[tenant]", tenantID)]
        if !email.isEmpty { form.append(("email", email)) }
        return try await send(.POST, "/v1/customers", form: form, idempotencyKey: idempotencyKey)
    }

    /// A new subscription; a tenant still in its trial keeps the days it has left.
    func createSubscription(customerID: String, priceID: String, tenantID: String, trialEnd: Date?, idempotencyKey: String) async throws -> Subscription {
        var form = [
            ("customer", customerID),
            ("items[0][price]", priceID),
            ("metadata[tenant]", tenantID),
            ("payment_behavior", "default_incomplete"),
            // Its payment page, for a subscription that starts without a trial.
            ("expand[]", "latest_invoice"),
        ]
        if let trialEnd, trialEnd > Date() { form.append(("trial_end", String(Int64(trialEnd.timeIntervalSince1970)))) }
        return try await send(.POST, "/v1/subscriptions", form: form, idempotencyKey: idempotencyKey)
    }

    func subscription(id: String) async throws -> Subscription {
        try await send(.GET, "/v1/subscriptions/\(id)?expand%5B%5D=latest_invoice", form: [], idempotencyKey: nil)
    }

    /// The first payment of a subscription arrived after it was read as waiting for it.
    struct FirstPaymentArrived: Error {}

    /// Ends a subscription still waiting for its first payment, which takes no other change. Its
    /// invoice is voided first: cancelling alone would leave it payable on its hosted page.
    /// Stripe voids only open invoices. A refused void (any 4xx but 429) does not say what became
    /// of this one, so the subscription is read again:
    /// - ended meanwhile (expired, or cancelled in the dashboard): nothing is left to end;
    /// - paid meanwhile: `FirstPaymentArrived`, and the subscription stands;
    /// - its invoice void already (an earlier attempt got that far): it is cancelled.
    func cancelUnpaid(_ subscription: Subscription) async throws {
        if let invoice = subscription.latestInvoice {
            do {
                let _: InvoiceReference = try await send(.POST, "/v1/invoices/\(invoice.id)/void", form: [], idempotencyKey: nil)
            } catch let refusal as ServiceError where refusal.code == .failedPrecondition {
                let now = try await self.subscription(id: subscription.id)
                if now.hasEnded { return }
                guard now.awaitsFirstPayment else { throw FirstPaymentArrived() }
                guard now.latestInvoice?.status == "void" else { throw refusal }
            }
        }
        let _: Subscription = try await send(.DELETE, "/v1/subscriptions/\(subscription.id)", form: [], idempotencyKey: nil)
    }

    /// Ends a subscription now, so Stripe charges it no more; one already ended is left as it is.
    /// One still waiting for its first payment has its invoice voided too, as `cancelUnpaid`
    /// does, unless that payment has just arrived.
    func end(subscriptionID: String) async throws {
        let now = try await subscription(id: subscriptionID)
        if now.hasEnded { return }
        if now.awaitsFirstPayment {
            do {
                try await cancelUnpaid(now)
                return
            } catch is FirstPaymentArrived {}
        }
        let _: Subscription = try await send(.DELETE, "/v1/subscriptions/\(subscriptionID)", form: [], idempotencyKey: nil)
    }

    /// Moves a trialing subscription's trial end, so Stripe starts charging then; a subscription
    /// out of its trial is left as it is.
    func moveTrialEnd(of subscriptionID: String, to trialEnd: Date) async throws {
        let now = try await subscription(id: subscriptionID)
        guard now.status == "trialing" else { return }
        let _: Subscription = try await send(.POST, "/v1/subscriptions/\(subscriptionID)", form: [
            ("trial_end", String(Int64(trialEnd.timeIntervalSince1970))),
            ("proration_behavior", "none"),
        ], idempotencyKey: nil)
    }

    /// Swaps the subscription's one item to `priceID`, prorated.
    func changePrice(of subscription: Subscription, to priceID: String, idempotencyKey: String) async throws -> Subscription {
        guard let item = subscription.items.data.first else {
            throw ServiceError.failedPrecondition(reason: "stripe_subscription_empty", message: "Stripe subscription \(subscription.id) has no item to change")
        }
        return try await send(.POST, "/v1/subscriptions/\(subscription.id)", form: [
            ("items[0][id]", item.id),
            ("items[0][price]", priceID),
            ("proration_behavior", "create_prorations"),
        ], idempotencyKey: idempotencyKey)
    }

    /// Stripe's error body: `{"error": {"type": ..., "code": ..., "message": ...}}`.
    private struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var type: String?
            var code: String?
            var message: String?
        }
        var error: Detail
    }

    private func send<Response: Decodable>(_ method: HTTPMethod, _ path: String, form: [(String, String)], idempotencyKey: String?) async throws -> Response {
        var request = HTTPClientRequest(url: ProviderAPI.trimmedBase(settings.apiURL) + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(settings.secretKey)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        return try await api.call(request, form: method == .POST ? form : nil) { body, decoder in
            (try? decoder.decode(ErrorBody.self, from: body)).map { .init(code: $0.error.code ?? $0.error.type, message: $0.error.message) }
        }
    }
}
