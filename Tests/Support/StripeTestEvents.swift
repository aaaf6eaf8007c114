import Crypto
import Foundation

/// Stripe webhook events as Stripe sends them, signed as Stripe signs them (the signature tests
/// check this signer against stripe-python's).
public enum StripeTestEvents {
    public static let webhookSecret = "whsec_test_current_0123456789abcdef"

    public static func signatureHeader(payload: Data, secret: String = webhookSecret, time: Date = Date()) -> String {
        let timestamp = Int64(time.timeIntervalSince1970)
        var signed = Data("\(timestamp).".utf8)
        signed.append(payload)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=\(Data(mac).map { String(format: "%02x", $0) }.joined())"
    }

    /// A `customer.subscription.*` event.
    public static func subscription(
        id: String, type: String, created: Int64, subscription: String, customer: String,
        status: String, price: String? = nil, trialEnd: Int64? = nil, tenant: String? = nil
    ) -> Data {
        var object: [String: Any] = ["object": "subscription", "id": subscription, "customer": customer, "status": status]
        if let price {
            object["items"] = ["object": "list", "data": [["id": "si_\(subscription)", "price": ["id": price], "current_period_end": created + 30 * 86_400]]]
        }
        if let trialEnd { object["trial_end"] = trialEnd }
        if let tenant { object["metadata"] = ["tenant": tenant] }
        return event(id: id, type: type, created: created, object: object)
    }

    /// An `invoice.*` event, in the newer API shape (subscription under `parent`), of invoice
    /// `in_<invoice>`: by default one of its own, named after the event.
    public static func invoice(id: String, type: String, created: Int64, subscription: String, customer: String, invoice: String? = nil) -> Data {
        event(id: id, type: type, created: created, object: [
            "object": "invoice", "id": "in_\(invoice ?? id)", "customer": customer,
            "parent": ["type": "subscription_details", "subscription_details": ["subscription": subscription]],
            "period_end": created,
            "hosted_invoice_url": invoicePage(invoice ?? id),
        ])
    }

    /// The hosted page of invoice `in_<invoice>` (by default, the one an `invoice.*` event of
    /// that id carries).
    public static func invoicePage(_ invoice: String) -> String {
        "https://invoice.stripe.com/i/acct_test/in_\(invoice)"
    }

    public static func event(id: String, type: String, created: Int64, object: [String: Any]) -> Data {
        let event: [String: Any] = [
            "id": id, "object": "event", "api_version": "2025-03-31.basil", "type": type, "created": created,
            "livemode": false, "data": ["object": object],
        ]
        return try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])
    }
}
