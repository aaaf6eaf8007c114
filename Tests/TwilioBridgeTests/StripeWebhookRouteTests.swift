import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PlatformServer
import PlatformTestSupport
import ServiceProAPI
import Testing

/// Stripe's webhook over real HTTP to the bridge, which hands the raw bytes to the platform.
@Suite("Stripe webhook route")
struct StripeWebhookRouteTests {
    static func post(_ bridge: TestBridge, _ payload: Data, signature: String?) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: bridge.base + "/stripe/webhook")!)
        request.httpMethod = "POST"
        request.setValue("application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        if let signature { request.setValue(signature, forHTTPHeaderField: "Stripe-Signature") }
        request.httpBody = payload
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("a signed event is applied and answered 200; a bad or missing signature is 400 and applies nothing", arguments: TestBackend.available)
    func signedEvents(backend: TestBackend) async throws {
        let settings = BillingSettings(webhookSecrets: [StripeTestEvents.webhookSecret])
        try await TestPlatform.with(backend, billing: settings) { platform in
            try await platform.createTenant("acme")
            let spool = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).sqlite").path
            defer { try? FileManager.default.removeItem(atPath: spool) }
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: spool) { bridge in
                try await bridge.waitForPlatform()
                // Pretty-printed with non-ASCII text: the signature covers these exact bytes.
                let payload = Data("""
                    {
                      "id": "evt_route1", "object": "event", "type": "customer.subscription.created",
                      "created": \(Int64(Date().timeIntervalSince1970)),
                      "data": {"object": {"object": "subscription", "id": "sub_route", "customer": "cus_route",
                                          "status": "active", "metadata": {"tenant": "acme", "note": "Café ✓"}}}
                    }
                    """.utf8)
                let forged = try await Self.post(bridge, payload, signature: StripeTestEvents.signatureHeader(payload: payload, secret: "whsec_wrong"))
                #expect(forged.status == 400)
                let unsigned = try await Self.post(bridge, payload, signature: nil)
                #expect(unsigned.status == 400)
                let owner = platform.metadata(platform.ownerToken)
                #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner).status == .trialing)

                let accepted = try await Self.post(bridge, payload, signature: StripeTestEvents.signatureHeader(payload: payload))
                #expect(accepted.status == 200)
                #expect(accepted.body.contains("\"outcome\":\"applied\""))
                #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner).status == .active)
                let again = try await Self.post(bridge, payload, signature: StripeTestEvents.signatureHeader(payload: payload))
                #expect(again.status == 200, "a redelivery is acknowledged, so Stripe stops retrying")
                #expect(again.body.contains("\"reason\":\"duplicate\""))
            }
        }
    }

    @Test("a bridge given Stripe's secrets refuses a forged webhook itself: the platform hears nothing, not even in its audit log", arguments: TestBackend.available)
    func forgedStopsAtTheBridge(backend: TestBackend) async throws {
        let settings = BillingSettings(webhookSecrets: [StripeTestEvents.webhookSecret])
        try await TestPlatform.with(backend, billing: settings) { platform in
            try await platform.createTenant("acme")
            func refusals() async throws -> Int {
                try await platform.database.transaction(.platform) { tx in
                    try await tx.query("SELECT event_id FROM audit_events WHERE method LIKE '%HandleStripeEvent' AND outcome <> 'OK'").count
                }
            }
            let payload = Data(#"{"id":"evt_edge","object":"event","type":"invoice.paid","created":1,"data":{"object":{"object":"invoice"}}}"#.utf8)
            let forgery = StripeTestEvents.signatureHeader(payload: payload, secret: "whsec_wrong")
            for secrets in [[], [StripeTestEvents.webhookSecret]] {
                let spool = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).sqlite").path
                defer { try? FileManager.default.removeItem(atPath: spool) }
                try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: spool, stripeWebhookSecrets: secrets) { bridge in
                    try await bridge.waitForPlatform()
                    let before = try await refusals()
                    let forged = try await Self.post(bridge, payload, signature: forgery)
                    #expect(forged.status == 400)
                    #expect(forged.body.contains("no v1 signature matches"))
                    // Without the secrets the platform refuses it, and audits the attempt; with
                    // them the bridge refuses it first.
                    #expect(try await refusals() == before + (secrets.isEmpty ? 1 : 0))
                    let signed = try await Self.post(bridge, payload, signature: StripeTestEvents.signatureHeader(payload: payload))
                    #expect(signed.status == 200, "a genuine event still reaches the platform")
                }
            }
        }
    }
}
