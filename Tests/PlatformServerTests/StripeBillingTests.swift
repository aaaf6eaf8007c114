import Foundation
import GRPCCore
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

@testable import PlatformServer

/// Plan changes through Stripe's API (a local fake that checks the requests) and Stripe's
/// webhook events: applied once, in effect order, on every store.
@Suite("Billing with Stripe")
struct StripeBillingTests {
    static let prices: [PlanCatalog.Tier: String] = [.starter: "price_starter", .pro: "price_pro", .elite: "price_elite"]

    static func settings(apiURL: String = "http://127.0.0.1:9") -> BillingSettings {
        BillingSettings(
            stripe: StripeSettings(secretKey: FakeStripe.secretKey, apiURL: apiURL, priceIDs: prices),
            webhookSecrets: ["whsec_test_previous_fedcba9876543210", StripeTestEvents.webhookSecret])
    }

    /// How the ledger recorded event `id` ("applied", "ignored", ...), nil before it arrived.
    static func recordedOutcome(of id: String, _ platform: TestPlatform) async throws -> String? {
        try await platform.database.transaction(.platform) { tx in
            try await tx.first("SELECT outcome FROM stripe_events WHERE event_id = \(id)")?.string("outcome")
        }
    }

    /// Hands `payload` to the platform as the bridge does with Stripe's webhook, signed with `secret`.
    static func deliver(_ payload: Data, to platform: TestPlatform, secret: String = StripeTestEvents.webhookSecret) async throws -> HandleStripeEventResponse {
        try await platform.billing.handleStripeEvent(.with {
            $0.payload = payload
            $0.signature = StripeTestEvents.signatureHeader(payload: payload, secret: secret)
        }, metadata: platform.metadata(platform.bridgeToken))
    }

    /// Suspends `tenant` as the billing job does when a trial or grace period runs out, for want
    /// of payment: unlike a staff suspension, paying lifts it.
    static func lapse(_ tenant: String, reason: String, on platform: TestPlatform) async throws {
        try await platform.database.withTenant(tenant) { tx in
            var state = try await BillingRecords.get(tx)
            try state.move(to: .suspended, reason: reason, at: Date(), settings: BillingSettings())
            try await BillingRecords.save(state, tx)
        }
    }

    @Test("a plan change subscribes through Stripe once per request_id, then swaps the subscription's price", arguments: TestBackend.available)
    func planChangeThroughStripe(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                try await platform.createTenant("acme", displayName: "Acme Detailing")
                let owner = platform.metadata(platform.ownerToken)
                let upgrade = ChangePlanRequest.with { $0.name = "tenants/acme/billing"; $0.tier = .pro; $0.requestID = "up-1" }
                let changed = try await platform.billing.changePlan(upgrade, metadata: owner)
                #expect(!changed.appliedDirectly)
                #expect(changed.billing.tier == .pro)
                #expect(changed.billing.stripeCustomerID == "cus_fake1")
                #expect(changed.billing.stripeSubscriptionID == "sub_fake2")
                #expect(changed.billing.stripePriceID == "price_pro")
                #expect(changed.billing.currentPeriodEndTime.seconds == stripe.periodEnd)

                let first = stripe.requests
                #expect(first.map { "\($0.method) \($0.path)" } == ["POST /v1/customers", "POST /v1/subscriptions"])
                #expect(first[0].form["name"] == "Acme Detailing")
                #expect(first[0].form["metadata[tenant]"] == "acme")
                #expect(first[1].form["customer"] == "cus_fake1")
                #expect(first[1].form["items[0][price]"] == "price_pro")
                #expect(first[1].form["trial_end"].flatMap { Int64($0) } == Int64(changed.billing.trialEndTime.seconds), "the trial carries over")
                #expect(first.allSatisfy { $0.idempotencyKey?.hasPrefix("servicepro-acme-change-plan-") == true && $0.idempotencyKey?.contains("-up-1-") == true })

                // A retry is answered from the record: Stripe is not asked again.
                #expect(try await platform.billing.changePlan(upgrade, metadata: owner) == changed)
                #expect(stripe.requests.count == 2)

                let elite = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .elite }, metadata: owner)
                #expect(elite.billing.stripePriceID == "price_elite")
                #expect(elite.billing.stripeSubscriptionID == "sub_fake2")
                let swap = Array(stripe.requests.dropFirst(2))
                #expect(swap.map { "\($0.method) \($0.path)" } == ["GET /v1/subscriptions/sub_fake2", "POST /v1/subscriptions/sub_fake2"])
                #expect(swap[1].form["items[0][id]"] == "si_fake2")
                #expect(swap[1].form["items[0][price]"] == "price_elite")
                #expect(swap[1].form["proration_behavior"] == "create_prorations")

                // Ended at Stripe without its webhook reaching us: the next plan starts a new one.
                stripe.cancel(subscription: "sub_fake2")
                let again = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner)
                #expect(again.billing.stripeSubscriptionID != "sub_fake2")
                #expect(again.billing.stripeCustomerID == "cus_fake1", "the same customer")
                #expect(stripe.requests.dropFirst(4).map { "\($0.method) \($0.path)" } == ["GET /v1/subscriptions/sub_fake2", "POST /v1/subscriptions"])
            }
        }
    }

    @Test("a tenant on a trial, or suspended after one, starts paying for the tier it is on by asking for it", arguments: TestBackend.available)
    func subscribeToCurrentTier(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                func stay(_ tenant: String) async throws -> ChangePlanResponse {
                    try await platform.billing.changePlan(.with { $0.name = "tenants/\(tenant)/billing"; $0.tier = .starter }, metadata: owner)
                }
                try await platform.createTenant("acme")
                let trial = try await stay("acme")
                #expect(!trial.appliedDirectly)
                #expect(trial.billing.tier == .starter)
                #expect(trial.billing.status == .trialing)
                #expect(!trial.billing.stripeSubscriptionID.isEmpty)
                #expect(stripe.requests.last?.form["items[0][price]"] == "price_starter")
                #expect(stripe.requests.last?.form["trial_end"].flatMap { Int64($0) } == trial.billing.trialEndTime.seconds, "billing starts when the trial ends")
                let again = await failure { try await stay("acme") }
                #expect(again?.reason == "plan_unchanged", "subscribed, it is on its plan")

                // Suspended when its trial ran out: its first invoice is due at once, and paying it
                // makes the tenant active.
                try await platform.createTenant("bravo")
                try await Self.lapse("bravo", reason: "trial ended", on: platform)
                let lapsed = try await stay("bravo")
                #expect(lapsed.billing.pendingTier == .starter)
                #expect(lapsed.billing.status == .suspended)
                #expect(!lapsed.paymentURL.isEmpty)
                #expect(stripe.requests.last?.form["trial_end"] == nil)
                let page = try await stay("bravo")
                #expect(page.paymentURL == lapsed.paymentURL, "asking again shows the same page")
                #expect(page.billing.stripeSubscriptionID == lapsed.billing.stripeSubscriptionID)
                let payload = StripeTestEvents.invoice(
                    id: "evt_paid", type: "invoice.paid", created: Int64(Date().timeIntervalSince1970),
                    subscription: lapsed.billing.stripeSubscriptionID, customer: lapsed.billing.stripeCustomerID)
                _ = try await Self.deliver(payload, to: platform)
                let paid = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/bravo/billing" }, metadata: owner)
                #expect(paid.status == .active)
                #expect(paid.tier == .starter)
                #expect(paid.pendingTier == .unspecified)
            }
        }
    }

    @Test("a tenant that owes a renewal may move to a lower plan, not a higher one", arguments: TestBackend.available)
    func overdueUpgradeRefused(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                func change(to tier: PlanTier) async throws -> ChangePlanResponse {
                    try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = tier }, metadata: owner)
                }
                try await platform.createTenant("acme")
                let pro = try await change(to: .pro)
                stripe.failRenewal(of: pro.billing.stripeSubscriptionID)
                let requests = stripe.requests.count
                let upgrade = await failure { try await change(to: .elite) }
                #expect(upgrade?.code == .failedPrecondition)
                #expect(upgrade?.reason == "payment_overdue")
                #expect(stripe.requests.dropFirst(requests).allSatisfy { $0.method == "GET" }, "nothing changed at Stripe")
                #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner).tier == .pro)
                let downgrade = try await change(to: .starter)
                #expect(downgrade.billing.tier == .starter)
            }
        }
    }

    /// A platform whose tenants are past their trials, so a new subscription has no free days and
    /// Stripe leaves it incomplete until its first invoice is paid.
    private static func withTenantsPastTrial(
        _ tenants: [String], backend: TestBackend,
        _ body: @escaping @Sendable (FakeStripe, TestPlatform, _ deliver: @escaping @Sendable (Data) async throws -> HandleStripeEventResponse) async throws -> Void
    ) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                for tenant in tenants {
                    try await platform.createTenant(tenant)
                    _ = try await platform.billing.setTenantStatus(.with {
                        $0.name = "tenants/\(tenant)/billing"; $0.status = .active; $0.reason = "paid by invoice"
                    }, metadata: platform.metadata(platform.ownerToken))
                }
                try await body(stripe, platform) { try await Self.deliver($0, to: platform) }
            }
        }
    }

    @Test("a paid plan that starts without a trial waits for its first payment; a change meanwhile replaces its subscription", arguments: TestBackend.available)
    func tierWaitsForFirstPayment(backend: TestBackend) async throws {
        try await Self.withTenantsPastTrial(["acme"], backend: backend) { stripe, platform, deliver in
            let owner = platform.metadata(platform.ownerToken)
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            func billing() async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
            }
            func change(to tier: PlanTier) async throws -> ChangePlanResponse {
                try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = tier }, metadata: owner)
            }
            let starterFeatures = try await billing().features

            let elite = try await change(to: .elite)
            #expect(elite.billing.tier == .starter, "nothing granted before payment")
            #expect(elite.billing.features == starterFeatures)
            #expect(elite.billing.pendingTier == .elite)
            #expect(elite.paymentURL == FakeStripe.invoicePage("in_fake2"))
            #expect(elite.billing.paymentURL == elite.paymentURL, "the record keeps the page, for a later look")
            #expect(elite.billing.stripeSubscriptionID == "sub_fake2")
            #expect(stripe.requests.last?.form["trial_end"] == nil)

            // Stripe reports the subscription made, still unpaid: the tier still waits.
            let made = try await deliver(StripeTestEvents.subscription(
                id: "evt_1", type: "customer.subscription.created", created: t0, subscription: "sub_fake2", customer: "cus_fake1",
                status: "incomplete", price: "price_elite"))
            #expect(made.outcome == .applied)
            #expect(try await billing().tier == .starter)
            #expect(try await billing().pendingTier == .elite)

            // An unpaid subscription takes no change at Stripe: another tier replaces it...
            let pro = try await change(to: .pro)
            #expect(pro.billing.pendingTier == .pro)
            #expect(stripe.status(of: "sub_fake2") == "canceled")
            #expect(stripe.status(ofInvoice: "in_fake2") == "void", "its page can no longer take a payment")
            let replacement = pro.billing.stripeSubscriptionID
            #expect(replacement != "sub_fake2")
            #expect(pro.paymentURL.hasPrefix("https://invoice.stripe.com/"))
            // ...and asking again for the tier that waits gives its payment page again.
            let requests = stripe.requests.count
            let again = try await change(to: .pro)
            #expect(again.paymentURL == pro.paymentURL)
            #expect(again.billing.stripeSubscriptionID == replacement)
            #expect(stripe.requests.dropFirst(requests).map { "\($0.method) \($0.path)" } == ["GET /v1/subscriptions/\(replacement)"])

            // The replaced subscription's end changes nothing.
            let ended = try await deliver(StripeTestEvents.subscription(
                id: "evt_2", type: "customer.subscription.deleted", created: t0 + 5, subscription: "sub_fake2", customer: "cus_fake1", status: "canceled"))
            #expect(ended.reason == "other_subscription")

            // Paid. The invoice arrives first; the subscription's update, a second older, then
            // brings its plan but not its status. The tier is granted all the same.
            _ = try await deliver(StripeTestEvents.invoice(
                id: "evt_4", type: "invoice.paid", created: t0 + 11, subscription: replacement, customer: "cus_fake1"))
            let stale = try await deliver(StripeTestEvents.subscription(
                id: "evt_3", type: "customer.subscription.updated", created: t0 + 10, subscription: replacement, customer: "cus_fake1",
                status: "active", price: "price_pro"))
            #expect(stale.outcome == .applied)
            #expect(stale.reason == "stale_status")
            let paid = try await billing()
            #expect(paid.tier == .pro)
            #expect(paid.paymentURL.isEmpty, "nothing due")
            #expect(paid.pendingTier == .unspecified)
            #expect(paid.status == .active)
            #expect(paid.features != starterFeatures)
        }
    }

    @Test("a tier that waits for payment is withdrawn by staying, dropped when its subscription ends unpaid, survives a declined card, keeps no trial alive, and stands when paid before the void", arguments: TestBackend.available)
    func pendingTierEnds(backend: TestBackend) async throws {
        try await Self.withTenantsPastTrial(["bravo", "carol", "dave", "erin", "frank", "greta", "hana", "ivan", "jo", "kim"], backend: backend) { stripe, platform, deliver in
            let owner = platform.metadata(platform.ownerToken)
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            func billing(_ tenant: String) async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(tenant)/billing" }, metadata: owner)
            }
            func change(_ tenant: String, to tier: PlanTier) async throws -> ChangePlanResponse {
                try await platform.billing.changePlan(.with { $0.name = "tenants/\(tenant)/billing"; $0.tier = tier }, metadata: owner)
            }

            // bravo stays on its plan: the unpaid invoice is voided and the subscription
            // cancelled. Stripe's word of the cancellation changes nothing, and an older event of
            // that subscription, delivered late, does not bring it back.
            let pending = try await change("bravo", to: .pro)
            let withdrawn = try await change("bravo", to: .starter)
            #expect(withdrawn.billing.pendingTier == .unspecified)
            #expect(withdrawn.billing.stripeSubscriptionID.isEmpty)
            #expect(stripe.status(of: pending.billing.stripeSubscriptionID) == "canceled")
            #expect(stripe.status(ofInvoice: String(pending.paymentURL.split(separator: "/").last ?? "")) == "void")
            let cancelled = try await deliver(StripeTestEvents.subscription(
                id: "evt_b1", type: "customer.subscription.deleted", created: t0, subscription: pending.billing.stripeSubscriptionID,
                customer: pending.billing.stripeCustomerID, status: "canceled"))
            #expect(cancelled.outcome == .ignored)
            let late = try await deliver(StripeTestEvents.subscription(
                id: "evt_b0", type: "customer.subscription.created", created: t0 - 5, subscription: pending.billing.stripeSubscriptionID,
                customer: pending.billing.stripeCustomerID, status: "incomplete", price: "price_pro"))
            #expect(late.reason == "stale")
            let bravo = try await billing("bravo")
            #expect(bravo.status == .active)
            #expect(bravo.pendingTier == .unspecified)
            #expect(bravo.stripeSubscriptionID.isEmpty)
            let unchanged = await failure { try await change("bravo", to: .starter) }
            #expect(unchanged?.reason == "plan_unchanged")

            // carol's unpaid subscription is cancelled in Stripe's dashboard: the tier stops
            // waiting, carol stays active on her plan, and the event's price grants nothing.
            let carol = try await change("carol", to: .pro).billing
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_c1", type: "customer.subscription.deleted", created: t0, subscription: carol.stripeSubscriptionID,
                customer: carol.stripeCustomerID, status: "canceled", price: "price_pro"))
            let carolNow = try await billing("carol")
            #expect(carolNow.status == .active)
            #expect(carolNow.tier == .starter)
            #expect(carolNow.pendingTier == .unspecified)
            #expect(carolNow.stripeSubscriptionID.isEmpty)

            // kim's card is declined on the payment page: her standing never rested on that
            // subscription, so she stays active, and the tier still waits for a payment.
            let kim = try await change("kim", to: .pro).billing
            let declined = try await deliver(StripeTestEvents.invoice(
                id: "evt_k1", type: "invoice.payment_failed", created: t0, subscription: kim.stripeSubscriptionID, customer: kim.stripeCustomerID))
            #expect(declined.outcome == .applied)
            let kimNow = try await billing("kim")
            #expect(kimNow.status == .active)
            #expect(!kimNow.hasGracePeriodEndTime)
            #expect(kimNow.tier == .starter)
            #expect(kimNow.pendingTier == .pro)
            // A one-off invoice of hers that fails says nothing of her plan either.
            let oneOff = try await deliver(StripeTestEvents.event(id: "evt_k2", type: "invoice.payment_failed", created: t0 + 1, object: [
                "object": "invoice", "id": "in_oneoff", "customer": kim.stripeCustomerID,
            ]))
            #expect(oneOff.outcome == .ignored && oneOff.reason == "other_subscription")
            #expect(try await billing("kim").status == .active)

            // dave never pays: Stripe expires the subscription; the next change starts anew.
            let dave = try await change("dave", to: .pro).billing
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_d1", type: "customer.subscription.updated", created: t0, subscription: dave.stripeSubscriptionID, customer: dave.stripeCustomerID,
                status: "incomplete_expired", price: "price_pro"))
            let expired = try await billing("dave")
            #expect(expired.status == .active)
            #expect(expired.tier == .starter)
            #expect(expired.pendingTier == .unspecified)
            #expect(expired.stripeSubscriptionID.isEmpty)
            let retry = try await change("dave", to: .pro)
            #expect(retry.billing.pendingTier == .pro)
            #expect(retry.billing.stripeSubscriptionID != dave.stripeSubscriptionID)
            #expect(stripe.requests.last.map { "\($0.method) \($0.path)" } == "POST /v1/subscriptions")

            // An unpaid subscription keeps no trial alive: dave's trial ends as if it had none.
            let past = Date().addingTimeInterval(-60)
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE tenants SET status = 'trialing', trial_end_time = \(past) WHERE tenant_id = 'dave'")
            }
            let job = BillingLifecycleJob(database: platform.database, settings: Self.settings(), logger: .init(label: "test"))
            #expect(try await job.runOnce() == 1)
            #expect(try await billing("dave").status == .suspended)

            // erin pays just before staying on her plan: the payment stands, and the withdrawal
            // is refused.
            let erin = try await change("erin", to: .pro).billing
            stripe.payFirstInvoice(of: erin.stripeSubscriptionID)
            let tooLate = await failure { try await change("erin", to: .starter) }
            #expect(tooLate?.reason == "pending_tier_paid")
            #expect(try await billing("erin").pendingTier == .pro, "the webhook of the payment grants it")
            #expect(stripe.status(of: erin.stripeSubscriptionID) == "active")

            // greta pays while she switches to another plan, after the platform read her
            // subscription as unpaid and before the void reached Stripe: erin's answer, and
            // nothing is cancelled.
            let greta = try await change("greta", to: .pro).billing
            stripe.beforeNextVoid(.paid)
            let raced = await failure { try await change("greta", to: .elite) }
            #expect(raced?.reason == "pending_tier_paid", "\(String(describing: raced))")
            #expect(stripe.status(of: greta.stripeSubscriptionID) == "active")
            let gretaNow = try await billing("greta")
            #expect(gretaNow.pendingTier == .pro)
            #expect(gretaNow.stripeSubscriptionID == greta.stripeSubscriptionID)
            // hana the same, staying on her plan.
            let hana = try await change("hana", to: .pro).billing
            stripe.beforeNextVoid(.paid)
            let racedBack = await failure { try await change("hana", to: .starter) }
            #expect(racedBack?.reason == "pending_tier_paid", "\(String(describing: racedBack))")
            #expect(stripe.status(of: hana.stripeSubscriptionID) == "active")

            // ivan's subscription expires unpaid just before he stays on his plan: nothing is left
            // to end, and the withdrawal goes through.
            let ivan = try await change("ivan", to: .pro).billing
            stripe.beforeNextVoid(.expired)
            let stayed = try await change("ivan", to: .starter).billing
            #expect(stayed.pendingTier == .unspecified)
            #expect(stayed.stripeSubscriptionID.isEmpty)
            #expect(stripe.status(of: ivan.stripeSubscriptionID) == "incomplete_expired")
            #expect(!stripe.requests.contains { $0.method == "DELETE" && $0.path.hasSuffix(ivan.stripeSubscriptionID) })

            // jo's withdrawal voids the invoice, then Stripe fails the cancellation: the retry
            // finds the invoice void already and finishes the job.
            let jo = try await change("jo", to: .pro).billing
            stripe.failNext("DELETE", status: 503, type: "api_error", code: "", message: "try again")
            let interrupted = await failure { try await change("jo", to: .starter) }
            #expect(interrupted?.reason == "stripe_unavailable")
            let retried = try await change("jo", to: .starter).billing
            #expect(retried.pendingTier == .unspecified)
            #expect(stripe.status(of: jo.stripeSubscriptionID) == "canceled")

            // frank's trial has ended but the job has not run: his first payment makes him a
            // paying tenant on the tier he bought.
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE tenants SET status = 'trialing', trial_end_time = \(past) WHERE tenant_id = 'frank'")
            }
            let frank = try await change("frank", to: .elite).billing
            #expect(frank.pendingTier == .elite)
            _ = try await deliver(StripeTestEvents.invoice(
                id: "evt_f1", type: "invoice.paid", created: t0, subscription: frank.stripeSubscriptionID, customer: frank.stripeCustomerID))
            let paid = try await billing("frank")
            #expect(paid.tier == .elite)
            #expect(paid.status == .active)
            #expect(paid.pendingTier == .unspecified)
        }
    }

    @Test("two plan changes at once: one goes through Stripe, the other is ABORTED, and only one subscription exists", arguments: TestBackend.available)
    func concurrentPlanChanges(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                try await platform.createTenant("acme")
                let owner = platform.metadata(platform.ownerToken)
                stripe.respondSlowly(.seconds(1))
                let billingClient = platform.billing
                async let pro = failure { try await billingClient.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro; $0.requestID = "a" }, metadata: owner) }
                async let elite = failure { try await billingClient.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .elite; $0.requestID = "b" }, metadata: owner) }
                let outcomes = await [pro, elite]
                // The one that found the lease taken is ABORTED (a loaded machine may keep them
                // from overlapping at all; then both go through, one after the other).
                #expect(outcomes.compactMap { $0 }.allSatisfy { $0.code == .aborted }, "\(outcomes)")
                #expect(stripe.requests.filter { $0.method == "POST" && $0.path == "/v1/customers" }.count == 1)
                #expect(stripe.requests.filter { $0.method == "POST" && $0.path == "/v1/subscriptions" }.count == 1)
                // The lease is given back: the next change goes through.
                stripe.respondSlowly(.zero)
                let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
                let next: PlanTier = billing.tier == .pro ? .elite : .pro
                #expect(try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = next }, metadata: owner).billing.tier == next)
            }
        }
    }

    @Test("a retry without a request_id repeats nothing at Stripe: the customer made before a failure is the one used", arguments: TestBackend.available)
    func retryWithoutRequestID(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let revision = try #require(Etag.revision(try await platform.createTenant("acme").etag))
                let owner = platform.metadata(platform.ownerToken)
                let upgrade = ChangePlanRequest.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }
                stripe.failNext("POST", path: "/v1/subscriptions", status: 503, type: "api_error", code: "", message: "try again")
                let failed = await failure { try await platform.billing.changePlan(upgrade, metadata: owner) }
                #expect(failed?.code == .unavailable)
                let changed = try await platform.billing.changePlan(upgrade, metadata: owner)
                #expect(changed.billing.tier == .pro)
                let customers = stripe.requests.filter { $0.method == "POST" && $0.path == "/v1/customers" }
                #expect(customers.count == 2)
                #expect(customers.map(\.idempotencyKey) == Array(repeating: "servicepro-acme-change-plan-\(revision)-pro-customer", count: 2),
                        "Stripe answers the retry with the customer it made")
                #expect(changed.billing.stripeCustomerID == "cus_fake1")

                // A 500 Stripe keeps for the key: a plain retry gets it again, and the advice to
                // send a request_id, which makes a key of its own, gets the change through.
                let elite = ChangePlanRequest.with { $0.name = "tenants/acme/billing"; $0.tier = .elite }
                stripe.failNext("POST", path: "/v1/subscriptions/\(changed.billing.stripeSubscriptionID)", status: 500, type: "api_error", code: "", message: "Something went wrong", kept: true)
                let kept = await failure { try await platform.billing.changePlan(elite, metadata: owner) }
                #expect(kept?.message.contains("retry with a new request_id") == true, "\(String(describing: kept))")
                let again = await failure { try await platform.billing.changePlan(elite, metadata: owner) }
                #expect(again?.code == .unavailable)
                var named = elite
                named.requestID = "after-500"
                #expect(try await platform.billing.changePlan(named, metadata: owner).billing.tier == .elite)
            }
        }
    }

    @Test("a change that outlasts its lease records nothing: another may have begun", arguments: TestBackend.available)
    func planChangeOutlastsLease(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                try await platform.createTenant("acme")
                let owner = platform.metadata(platform.ownerToken)
                stripe.respondSlowly(.seconds(1))
                let billingClient = platform.billing
                let change = Task {
                    await failure { try await billingClient.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner) }
                }
                func leased() async throws -> Bool {
                    try await platform.database.transaction(.platform) { tx in
                        try await tx.first("SELECT COUNT(*) AS n FROM tenant_billing WHERE tenant_id = 'acme' AND lease_owner IS NOT NULL")!.int("n") == 1
                    }
                }
                while try await !leased() { try await Task.sleep(for: .milliseconds(20)) }
                // The lease runs out while Stripe is still answering.
                try await platform.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE tenant_billing SET lease_expire_time = \(Date().addingTimeInterval(-1)) WHERE tenant_id = 'acme'")
                }
                let outcome = await change.value
                #expect(outcome?.code == .aborted)
                let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
                #expect(billing.tier == .starter)
                #expect(billing.stripeSubscriptionID.isEmpty)
            }
        }
    }

    @Test("an event whose status the record cannot take still brings its plan: a staff override keeps its status", arguments: TestBackend.available)
    func eventStatusKeptAfterOverride(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                try await platform.createTenant("acme")
                let owner = platform.metadata(platform.ownerToken)
                let pro = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner)
                #expect(pro.billing.status == .trialing)
                _ = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .active; $0.reason = "paid the year by invoice"
                }, metadata: owner)
                // The tenant moves to elite in Stripe's portal, its subscription still trialing there.
                let payload = StripeTestEvents.subscription(
                    id: "evt_portal", type: "customer.subscription.updated", created: Int64(Date().timeIntervalSince1970),
                    subscription: pro.billing.stripeSubscriptionID, customer: pro.billing.stripeCustomerID, status: "trialing", price: "price_elite")
                let applied = try await Self.deliver(payload, to: platform)
                #expect(applied.outcome == .applied)
                #expect(applied.reason == "invalid_status_transition")
                let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
                #expect(billing.tier == .elite)
                #expect(billing.stripePriceID == "price_elite")
                #expect(billing.status == .active, "active by staff stays active")
                #expect(billing.statusReason == "paid the year by invoice")
            }
        }
    }

    @Test("staff overrides are made at Stripe too: a cancelled tenant's subscription ends, an extended trial moves its end, a refused one changes nothing", arguments: TestBackend.available)
    func staffOverridesAtStripe(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                func setStatus(_ tenant: String, _ status: TenantStatus, trialEnd: Date? = nil) async throws -> TenantBilling {
                    try await platform.billing.setTenantStatus(.with {
                        $0.name = "tenants/\(tenant)/billing"; $0.status = status; $0.reason = "by staff"
                        if let trialEnd { $0.trialEndTime = .init(date: trialEnd) }
                    }, metadata: owner)
                }
                for tenant in ["acme", "bravo"] { try await platform.createTenant(tenant) }
                let acme = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
                let bravo = try await platform.billing.changePlan(.with { $0.name = "tenants/bravo/billing"; $0.tier = .pro }, metadata: owner).billing

                let extended = Date().addingTimeInterval(40 * 86_400)
                let longer = try await setStatus("acme", .trialing, trialEnd: extended)
                #expect(stripe.trialEnd(of: acme.stripeSubscriptionID) == Int64(extended.timeIntervalSince1970))
                #expect(longer.trialEndTime.seconds == Int64(extended.timeIntervalSince1970))

                let cancelled = try await setStatus("bravo", .cancelled)
                #expect(stripe.status(of: bravo.stripeSubscriptionID) == "canceled", "a cancelled tenant is charged no more")
                #expect(cancelled.stripeSubscriptionID.isEmpty)
                #expect(cancelled.status == .cancelled)
                // Stripe's word of it changes nothing more.
                let payload = StripeTestEvents.subscription(
                    id: "evt_bravo_end", type: "customer.subscription.deleted", created: Int64(Date().timeIntervalSince1970),
                    subscription: bravo.stripeSubscriptionID, customer: bravo.stripeCustomerID, status: "canceled")
                let told = try await Self.deliver(payload, to: platform)
                #expect(told.outcome == .ignored)

                // Refused here, so not made at Stripe either.
                let requests = stripe.requests.count
                _ = try await setStatus("acme", .active)
                let refused = await failure { try await setStatus("acme", .trialing, trialEnd: extended.addingTimeInterval(86_400)) }
                #expect(refused?.reason == "invalid_status_transition")
                #expect(stripe.requests.count == requests)
                #expect(stripe.trialEnd(of: acme.stripeSubscriptionID) == Int64(extended.timeIntervalSince1970))
            }
        }
    }

    @Test("a trial extended at Stripe as the trial ends is recorded, with the staff's reason: the transition is checked from the status it was decided on", arguments: TestBackend.available)
    func trialExtendedAsItIsPaid(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                try await platform.createTenant("acme")
                let acme = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
                #expect(acme.status == .trialing)
                // The trial ends, and Stripe says the subscription is active, as staff move the
                // trial's end there.
                stripe.beforeNext("POST") {
                    _ = try? await Self.deliver(StripeTestEvents.subscription(
                        id: "evt_active", type: "customer.subscription.updated", created: Int64(Date().timeIntervalSince1970),
                        subscription: acme.stripeSubscriptionID, customer: acme.stripeCustomerID, status: "active", price: "price_pro"), to: platform)
                }
                let extended = Date().addingTimeInterval(40 * 86_400)
                let longer = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .trialing; $0.reason = "sales extension"; $0.etag = acme.etag
                    $0.trialEndTime = .init(date: extended)
                }, metadata: owner)
                #expect(stripe.trialEnd(of: acme.stripeSubscriptionID) == Int64(extended.timeIntervalSince1970))
                #expect(longer.status == .trialing && longer.statusReason == "sales extension")
                #expect(longer.trialEndTime.seconds == Int64(extended.timeIntervalSince1970))
                let applied = try await Self.recordedOutcome(of: "evt_active", platform)
                #expect(applied == "applied", "Stripe's word of the trial's end was applied first")
            }
        }
    }

    @Test("a staff suspension is staff's to lift: no payment or Stripe event lifts it, and no plan can be bought meanwhile", arguments: TestBackend.available)
    func staffSuspension(backend: TestBackend) async throws {
        try await FakeStripe.with { _, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                try await platform.createTenant("acme")
                let acme = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
                #expect(!acme.suspendedByStaff)
                let admin = platform.metadata(try await platform.token(role: .tenantAdmin, tenant: "acme"))
                let suspended = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .suspended; $0.reason = "abuse reported"
                }, metadata: owner)
                #expect(suspended.status == .suspended && suspended.suspendedByStaff)

                let bought = await failure { try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .elite }, metadata: admin) }
                #expect(bought?.code == .failedPrecondition && bought?.reason == "suspended_by_staff")

                // A renewal paid, the subscription active at Stripe: the plan's, not the status.
                let now = Int64(Date().timeIntervalSince1970)
                let paid = try await Self.deliver(StripeTestEvents.invoice(
                    id: "evt_renewal", type: "invoice.paid", created: now + 1, subscription: acme.stripeSubscriptionID, customer: acme.stripeCustomerID), to: platform)
                #expect(paid.outcome == .applied && paid.reason == "suspended_by_staff")
                let active = try await Self.deliver(StripeTestEvents.subscription(
                    id: "evt_active", type: "customer.subscription.updated", created: now + 2,
                    subscription: acme.stripeSubscriptionID, customer: acme.stripeCustomerID, status: "active", price: "price_pro"), to: platform)
                #expect(active.outcome == .applied && active.reason == "suspended_by_staff")
                let held = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
                #expect(held.status == .suspended && held.suspendedByStaff && held.tier == .pro)

                let lifted = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .active; $0.reason = "resolved"
                }, metadata: owner)
                #expect(lifted.status == .active && !lifted.suspendedByStaff)
            }
        }
    }

    @Test("a suspended tenant keeps its data past any window, whether staff hold it suspended while Stripe still bills it or it lapsed unpaid; only a cancelled one is purged", arguments: TestBackend.available)
    func purgeSparesSuspendedTenants(backend: TestBackend) async throws {
        try await FakeStripe.with { _, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                for tenant in ["acme", "bravo", "cairo"] { try await platform.createTenant(tenant) }
                _ = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner)
                let held = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .suspended; $0.reason = "abuse review"
                }, metadata: owner)
                #expect(held.suspendedByStaff && !held.stripeSubscriptionID.isEmpty, "Stripe still bills it")
                #expect(!held.hasRetentionEndTime, "a suspension starts no window")
                try await Self.lapse("bravo", reason: "trial ended", on: platform)
                let lapsed = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/bravo/billing" }, metadata: owner)
                #expect(lapsed.status == .suspended && !lapsed.suspendedByStaff)
                #expect(!lapsed.hasRetentionEndTime, "non-payment never deletes data")
                let cancelled = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/cairo/billing"; $0.status = .cancelled; $0.reason = "closed the business"
                }, metadata: owner)
                #expect(cancelled.hasRetentionEndTime)
                let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: .init(label: "test"))
                let purged = try await purger.runOnce(now: Date().addingTimeInterval(BillingSettings().retentionWindow + 86_400))
                #expect(purged == ["cairo"], "acme and bravo are suspended: they keep their data")
                #expect(try await purger.runOnce(now: Date().addingTimeInterval(10 * BillingSettings().retentionWindow)).isEmpty, "however long they stay so")
            }
        }
    }

    @Test("a subscription Stripe ended for want of payment suspends its tenant, with no retention window; one ended for any other reason cancels it, and starts one", arguments: TestBackend.available)
    func subscriptionEndedUnpaid(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            func deliver(_ payload: Data) async throws -> HandleStripeEventResponse { try await Self.deliver(payload, to: platform) }
            func billing(_ tenant: String) async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(tenant)/billing" }, metadata: platform.metadata(platform.ownerToken))
            }
            // Each tenant pays with its own subscription, and its renewal fails: past due.
            for (tenant, why) in [("acme", "payment_failed"), ("bravo", "payment_disputed"), ("cairo", "cancellation_requested")] {
                try await platform.createTenant(tenant)
                _ = try await deliver(StripeTestEvents.subscription(
                    id: "evt_\(tenant)_1", type: "customer.subscription.created", created: t0, subscription: "sub_\(tenant)", customer: "cus_\(tenant)",
                    status: "active", price: "price_pro", tenant: tenant))
                _ = try await deliver(StripeTestEvents.invoice(
                    id: "evt_\(tenant)_2", type: "invoice.payment_failed", created: t0 + 10, subscription: "sub_\(tenant)", customer: "cus_\(tenant)"))
                #expect(try await billing(tenant).status == .pastDue, "\(tenant)")
                // The subscription's end, as Stripe sends it: why it ended is in `cancellation_details`.
                let ended = try await deliver(StripeTestEvents.event(id: "evt_\(tenant)_3", type: "customer.subscription.deleted", created: t0 + 20, object: [
                    "object": "subscription", "id": "sub_\(tenant)", "customer": "cus_\(tenant)", "status": "canceled",
                    "cancellation_details": ["comment": NSNull(), "feedback": NSNull(), "reason": why] as [String: Any],
                ]))
                #expect(ended.outcome == .applied && ended.reason.isEmpty, "\(tenant): \(ended.reason)")
            }

            for unpaid in ["acme", "bravo"] {
                let suspended = try await billing(unpaid)
                #expect(suspended.status == .suspended, "\(unpaid): Stripe gave up collecting, which suspends, not cancels")
                #expect(suspended.statusReason == "customer.subscription.deleted", "\(unpaid)")
                #expect(!suspended.suspendedByStaff, "\(unpaid): suspended for want of payment, not by staff")
                #expect(suspended.stripeSubscriptionID.isEmpty, "\(unpaid): its subscription is over; the next paid plan starts a new one")
                #expect(suspended.stripeCustomerID == "cus_\(unpaid)")
                #expect(!suspended.hasGracePeriodEndTime, "\(unpaid)")
                #expect(!suspended.hasRetentionEndTime, "\(unpaid): non-payment never deletes data")
            }
            let cancelled = try await billing("cairo")
            #expect(cancelled.status == .cancelled, "the tenant asked for it")
            #expect(cancelled.stripeSubscriptionID.isEmpty)
            #expect(!cancelled.hasGracePeriodEndTime)
            #expect(abs(cancelled.retentionEndTime.date.timeIntervalSince(cancelled.statusChangeTime.date) - BillingSettings().retentionWindow) < 1,
                    "its window starts with the cancellation")

            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: .init(label: "test"))
            #expect(try await purger.runOnce(now: Date().addingTimeInterval(BillingSettings().retentionWindow + 86_400)) == ["cairo"])
        }
    }

    @Test("a staff suspension withdraws a plan waiting for its first payment, and takes over a suspension for want of payment", arguments: TestBackend.available)
    func staffSuspensionOfAWaitingPlan(backend: TestBackend) async throws {
        try await Self.withTenantsPastTrial(["acme", "bravo"], backend: backend) { stripe, platform, _ in
            let owner = platform.metadata(platform.ownerToken)
            let waiting = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
            #expect(waiting.pendingTier == .pro && !waiting.paymentURL.isEmpty)
            let suspended = try await platform.billing.setTenantStatus(.with {
                $0.name = "tenants/acme/billing"; $0.status = .suspended; $0.reason = "abuse reported"
            }, metadata: owner)
            #expect(suspended.pendingTier == .unspecified && suspended.paymentURL.isEmpty && suspended.stripeSubscriptionID.isEmpty)
            #expect(stripe.status(of: waiting.stripeSubscriptionID) == "canceled", "its invoice can no longer be paid")

            try await Self.lapse("bravo", reason: "grace period over", on: platform)
            let takenOver = try await platform.billing.setTenantStatus(.with {
                $0.name = "tenants/bravo/billing"; $0.status = .suspended; $0.reason = "abuse reported"
            }, metadata: owner)
            #expect(takenOver.status == .suspended && takenOver.suspendedByStaff && takenOver.statusReason == "abuse reported")
        }
    }

    @Test("a staff override Stripe makes nothing of keeps its etag until the write: a waiting plan paid while it is decided on stands, and the suspension is ABORTED", arguments: TestBackend.available)
    func overrideEtagHoldsUntilTheWrite(backend: TestBackend) async throws {
        try await Self.withTenantsPastTrial(["acme"], backend: backend) { stripe, platform, deliver in
            let owner = platform.metadata(platform.ownerToken)
            let waiting = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
            #expect(waiting.pendingTier == .pro)
            // The customer pays as the platform asks Stripe whether the plan still waits.
            let subscription = waiting.stripeSubscriptionID
            stripe.beforeNext("GET") {
                stripe.payFirstInvoice(of: subscription)
                _ = try? await deliver(StripeTestEvents.invoice(
                    id: "evt_paid", type: "invoice.paid", created: Int64(Date().timeIntervalSince1970),
                    subscription: subscription, customer: waiting.stripeCustomerID))
            }
            let refused = await failure {
                try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .suspended; $0.reason = "abuse reported"; $0.etag = waiting.etag
                }, metadata: owner)
            }
            #expect(refused?.code == .aborted, "\(String(describing: refused))")
            let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
            #expect(billing.tier == .pro && billing.pendingTier == .unspecified, "the payment stands")
            #expect(billing.status == .active && !billing.suspendedByStaff)
            #expect(stripe.status(of: subscription) == "active")
        }
    }

    @Test("a staff override waits for a plan change that holds the tenant's billing (ABORTED), so a tenant being cancelled is not subscribed meanwhile", arguments: TestBackend.available)
    func staffOverrideTakesTheLease(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            try await platform.database.withTenant("acme") { tx in
                try await BillingRecords.takeLease(for: "change-plan/in-flight", duration: 60, tx)
            }
            let override = SetTenantStatusRequest.with { $0.name = "tenants/acme/billing"; $0.status = .cancelled; $0.reason = "closed" }
            let refused = await failure { try await platform.billing.setTenantStatus(override, metadata: platform.metadata(platform.ownerToken)) }
            #expect(refused?.code == .aborted)
            let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
            #expect(billing.status == .trialing)
            try await platform.database.withTenant("acme") { tx in try await BillingRecords.releaseLease(heldBy: "change-plan/in-flight", tx) }
            let cancelled = try await platform.billing.setTenantStatus(override, metadata: platform.metadata(platform.ownerToken))
            #expect(cancelled.status == .cancelled)
        }
    }

    @Test("a withdrawal whose cancellation Stripe reports before it answers is done, not ABORTED", arguments: TestBackend.available)
    func withdrawalOvertakenByItsWebhook(backend: TestBackend) async throws {
        try await Self.withTenantsPastTrial(["acme"], backend: backend) { stripe, platform, deliver in
            let owner = platform.metadata(platform.ownerToken)
            let pending = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
            let ended = StripeTestEvents.subscription(
                id: "evt_ended", type: "customer.subscription.deleted", created: Int64(Date().timeIntervalSince1970),
                subscription: pending.stripeSubscriptionID, customer: pending.stripeCustomerID, status: "canceled")
            stripe.afterNextCancel { _ = try? await deliver(ended) }
            let stayed = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .starter }, metadata: owner)
            let webhook = try await Self.recordedOutcome(of: "evt_ended", platform)
            #expect(webhook == "applied", "Stripe's word of the end was applied before the call wrote")
            #expect(stayed.billing.tier == .starter)
            #expect(stayed.billing.pendingTier == .unspecified)
            #expect(stayed.billing.stripeSubscriptionID.isEmpty)
            #expect(stayed.billing.status == .active)
            #expect(stripe.status(of: pending.stripeSubscriptionID) == "canceled")
        }
    }

    @Test("a staff cancellation whose end Stripe reports before it answers is done, with the staff's reason and audit entry, and its etag still holds", arguments: TestBackend.available)
    func cancellationOvertakenByItsWebhook(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                try await platform.createTenant("acme")
                let acme = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
                let ended = StripeTestEvents.subscription(
                    id: "evt_ended", type: "customer.subscription.deleted", created: Int64(Date().timeIntervalSince1970),
                    subscription: acme.stripeSubscriptionID, customer: acme.stripeCustomerID, status: "canceled")
                stripe.afterNextCancel { _ = try? await Self.deliver(ended, to: platform) }
                // The etag read before the call: the end Stripe reports is the call's own doing,
                // not a change the caller has not seen.
                let cancelled = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .cancelled; $0.reason = "closed the business"; $0.etag = acme.etag
                }, metadata: owner)
                let webhook = try await Self.recordedOutcome(of: "evt_ended", platform)
                #expect(webhook == "applied", "Stripe's word of the end was applied before the call wrote")
                #expect(cancelled.status == .cancelled)
                #expect(cancelled.statusReason == "closed the business")
                #expect(cancelled.stripeSubscriptionID.isEmpty)
                #expect(stripe.status(of: acme.stripeSubscriptionID) == "canceled")
                let audited = try await platform.database.transaction(.platform) { tx in
                    try await tx.query("SELECT details FROM audit_events WHERE tenant_id = 'acme' AND method LIKE '%SetTenantStatus' AND outcome = 'OK'")
                }
                #expect(audited.count == 1)
                let details = try audited.first?.string("details") ?? ""
                #expect(details.contains("\"from_status\":\"trialing\"") && details.contains("\"reason\":\"closed the business\""), "\(details)")
            }
        }
    }

    @Test("a staff cancellation that a payment overtakes while Stripe ends the subscription is still recorded, etag and all: Stripe has ended it, and the record says so", arguments: TestBackend.available)
    func overrideMadeAtStripeStands(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                try await platform.createTenant("acme")
                let acme = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
                let (subscription, customer) = (acme.stripeSubscriptionID, acme.stripeCustomerID)
                let t0 = Int64(Date().timeIntervalSince1970) - 100
                _ = try await Self.deliver(StripeTestEvents.invoice(
                    id: "evt_failed", type: "invoice.payment_failed", created: t0, subscription: subscription, customer: customer), to: platform)
                try await Self.lapse("acme", reason: "grace period over", on: platform)
                let suspended = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
                #expect(suspended.status == .suspended)

                // Staff decide to cancel the unpaid tenant; it pays while Stripe ends its subscription.
                let paid = StripeTestEvents.invoice(id: "evt_paid", type: "invoice.paid", created: t0 + 10, subscription: subscription, customer: customer)
                stripe.afterNextCancel { _ = try? await Self.deliver(paid, to: platform) }
                let cancelled = try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .cancelled; $0.reason = "never paid"; $0.etag = suspended.etag
                }, metadata: owner)
                let payment = try await Self.recordedOutcome(of: "evt_paid", platform)
                #expect(payment == "applied", "the payment was applied before the call wrote")
                #expect(stripe.status(of: subscription) == "canceled")
                #expect(cancelled.status == .cancelled, "the payment was applied first, and the cancellation Stripe made stands")
                #expect(cancelled.statusReason == "never paid")
                #expect(cancelled.stripeSubscriptionID.isEmpty)
                let audited = try await platform.database.transaction(.platform) { tx in
                    try await tx.first("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = 'acme' AND method LIKE '%SetTenantStatus' AND outcome = 'OK'")!.int("n")
                }
                #expect(audited == 1)
            }
        }
    }

    @Test("a plan change in Stripe's portal delivered after its invoice still changes the plan, never the status", arguments: TestBackend.available)
    func subscriptionEventAfterNewerInvoice(backend: TestBackend) async throws {
        try await Self.withTenantsPastTrial(["acme"], backend: backend) { stripe, platform, deliver in
            let owner = platform.metadata(platform.ownerToken)
            func billing() async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
            }
            let pro = try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner).billing
            let (subscription, customer) = (pro.stripeSubscriptionID, pro.stripeCustomerID)
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            _ = try await deliver(StripeTestEvents.invoice(id: "evt_1", type: "invoice.paid", created: t0, subscription: subscription, customer: customer))
            #expect(try await billing().tier == .pro)

            // Moved to elite in the portal: its prorated invoice's event overtakes the update's.
            _ = try await deliver(StripeTestEvents.invoice(id: "evt_3", type: "invoice.paid", created: t0 + 11, subscription: subscription, customer: customer))
            let upgrade = try await deliver(StripeTestEvents.subscription(
                id: "evt_2", type: "customer.subscription.updated", created: t0 + 10, subscription: subscription, customer: customer,
                status: "active", price: "price_elite"))
            #expect(upgrade.outcome == .applied)
            #expect(upgrade.reason == "stale_status")
            #expect(try await billing().tier == .elite, "the tenant pays for elite, and has it")

            // A payment fails; an update of the subscription from before the failure brings no
            // status back, and one older than the elite update brings no plan back.
            _ = try await deliver(StripeTestEvents.invoice(id: "evt_5", type: "invoice.payment_failed", created: t0 + 21, subscription: subscription, customer: customer))
            #expect(try await billing().status == .pastDue)
            let beforeFailure = try await deliver(StripeTestEvents.subscription(
                id: "evt_4", type: "customer.subscription.updated", created: t0 + 20, subscription: subscription, customer: customer,
                status: "active", price: "price_elite"))
            #expect(beforeFailure.reason == "stale_status")
            #expect(try await billing().status == .pastDue)
            let older = try await deliver(StripeTestEvents.subscription(
                id: "evt_0", type: "customer.subscription.updated", created: t0 + 5, subscription: subscription, customer: customer,
                status: "active", price: "price_pro"))
            #expect(older.outcome == .ignored)
            #expect(older.reason == "stale")
            #expect(try await billing().tier == .elite)
            #expect(try await billing().lastStripeEventTime.seconds == t0 + 21, "a late event moves the order back no further")
        }
    }

    @Test("Stripe refusing or failing changes nothing and says what to do", arguments: TestBackend.available)
    func stripeFailures(backend: TestBackend) async throws {
        try await FakeStripe.with { stripe, base in
            try await TestPlatform.with(backend, billing: Self.settings(apiURL: base)) { platform in
                try await platform.createTenant("acme")
                let owner = platform.metadata(platform.ownerToken)
                let request = ChangePlanRequest.with { $0.name = "tenants/acme/billing"; $0.tier = .pro; $0.requestID = "up-1" }
                stripe.failNext(status: 402, type: "card_error", code: "card_declined", message: "Your card was declined.")
                let declined = await failure { try await platform.billing.changePlan(request, metadata: owner) }
                #expect(declined?.code == .failedPrecondition)
                #expect(declined?.reason == "stripe_request_failed")
                #expect(declined?.metadata["stripe_error"] == "card_declined")
                // A 500 once the request began to run: Stripe answers its idempotency key so for
                // a day, so the caller is told to come back with a new request_id.
                stripe.failNext(status: 500, type: "api_error", code: "", message: "Something went wrong", kept: true)
                let down = await failure { try await platform.billing.changePlan(request, metadata: owner) }
                #expect(down?.code == .unavailable)
                #expect(down?.reason == "stripe_unavailable")
                #expect(down?.message.contains("retry with a new request_id") == true, "\(String(describing: down))")
                let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
                #expect(billing.tier == .starter)
                #expect(billing.stripeCustomerID.isEmpty)
                let replayed = await failure { try await platform.billing.changePlan(request, metadata: owner) }
                #expect(replayed?.reason == "stripe_unavailable", "the same request_id gets Stripe's same answer")
                // Rate limited: Stripe keeps no answer, and the same request_id goes through.
                var retried = request
                retried.requestID = "up-2"
                stripe.failNext(status: 429, type: "invalid_request_error", code: "rate_limit", message: "Too many requests")
                let limited = await failure { try await platform.billing.changePlan(retried, metadata: owner) }
                #expect(limited?.message.contains("retry with the same request_id") == true, "\(String(describing: limited))")
                #expect(try await platform.billing.changePlan(retried, metadata: owner).billing.tier == .pro)
            }
        }
        var noElitePrice = Self.settings()
        noElitePrice.stripe?.priceIDs[.elite] = nil
        try await TestPlatform.with(backend, billing: noElitePrice) { platform in
            try await platform.createTenant("acme")
            let missing = await failure { try await platform.setPlan("acme", .elite) }
            #expect(missing?.reason == "stripe_price_missing")
        }
    }

    @Test("the end of the tenant's subscription, delivered after a newer event of it, still ends it", arguments: TestBackend.available)
    func lateEndOfOwnSubscription(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            let sub = "sub_acme1", customer = "cus_acme1"
            _ = try await Self.deliver(StripeTestEvents.subscription(
                id: "evt_1", type: "customer.subscription.created", created: t0, subscription: sub, customer: customer,
                status: "active", price: "price_pro", tenant: "acme"), to: platform)
            // The final invoice's event arrives first; the deletion, retried by Stripe, after it.
            _ = try await Self.deliver(StripeTestEvents.invoice(id: "evt_3", type: "invoice.paid", created: t0 + 20, subscription: sub, customer: customer), to: platform)
            let ended = try await Self.deliver(StripeTestEvents.subscription(
                id: "evt_2", type: "customer.subscription.deleted", created: t0 + 10, subscription: sub, customer: customer, status: "canceled"), to: platform)
            #expect(ended.outcome == .applied, "\(ended.reason)")
            let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
            #expect(billing.status == .cancelled)
            #expect(billing.stripeSubscriptionID.isEmpty, "the next paid plan starts a new subscription")
        }
    }

    @Test("a payment delivered after a newer event still says its invoice is paid, and leaves a newer invoice's page alone", arguments: TestBackend.available)
    func latePayment(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            let sub = "sub_acme1", customer = "cus_acme1"
            func deliver(_ payload: Data) async throws -> HandleStripeEventResponse { try await Self.deliver(payload, to: platform) }
            func billing() async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
            }
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_1", type: "customer.subscription.created", created: t0, subscription: sub, customer: customer,
                status: "active", price: "price_pro", tenant: "acme"))
            _ = try await deliver(StripeTestEvents.invoice(
                id: "evt_2", type: "invoice.payment_failed", created: t0 + 5, subscription: sub, customer: customer, invoice: "renewal1"))
            #expect(try await billing().paymentURL == StripeTestEvents.invoicePage("renewal1"))
            // The subscription's "active" arrives before the payment that made it so.
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_4", type: "customer.subscription.updated", created: t0 + 11, subscription: sub, customer: customer, status: "active", price: "price_pro"))
            let paid = try await deliver(StripeTestEvents.invoice(
                id: "evt_3", type: "invoice.paid", created: t0 + 10, subscription: sub, customer: customer, invoice: "renewal1"))
            #expect(paid.outcome == .applied && paid.reason == "stale_status")
            var now = try await billing()
            #expect(now.status == .active)
            #expect(now.paymentURL.isEmpty, "nothing is due at the paid invoice's page")

            // A newer invoice fails; a late word that an older one was paid leaves its page.
            _ = try await deliver(StripeTestEvents.invoice(
                id: "evt_5", type: "invoice.payment_failed", created: t0 + 30, subscription: sub, customer: customer, invoice: "renewal2"))
            _ = try await deliver(StripeTestEvents.invoice(
                id: "evt_6", type: "invoice.paid", created: t0 + 12, subscription: sub, customer: customer, invoice: "renewal1"))
            now = try await billing()
            #expect(now.paymentURL == StripeTestEvents.invoicePage("renewal2"))
            #expect(now.status == .pastDue)
        }
    }

    @Test("an invoice of no subscription (a one-off charge made in Stripe's dashboard) changes no tenant's status or payment page", arguments: TestBackend.available)
    func invoiceOfNoSubscription(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            for tenant in ["acme", "bravo"] { try await platform.createTenant(tenant) }
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            func deliver(_ payload: Data) async throws -> HandleStripeEventResponse { try await Self.deliver(payload, to: platform) }
            func billing(_ tenant: String) async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(tenant)/billing" }, metadata: platform.metadata(platform.ownerToken))
            }
            // An `invoice.*` event of an invoice billed on its own: neither `subscription` nor `parent`.
            func oneOff(_ id: String, _ type: String, created: Int64, customer: String) -> Data {
                StripeTestEvents.event(id: id, type: type, created: created, object: [
                    "object": "invoice", "id": "in_\(id)", "customer": customer, "hosted_invoice_url": StripeTestEvents.invoicePage(id),
                ])
            }
            let sub = "sub_acme1", customer = "cus_acme1"
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_1", type: "customer.subscription.created", created: t0, subscription: sub, customer: customer,
                status: "active", price: "price_pro", tenant: "acme"))
            let setupFeeFailed = try await deliver(oneOff("evt_2", "invoice.payment_failed", created: t0 + 10, customer: customer))
            #expect(setupFeeFailed.outcome == .ignored && setupFeeFailed.reason == "other_subscription")
            #expect(setupFeeFailed.tenant == "tenants/acme")
            var acme = try await billing("acme")
            #expect(acme.status == .active, "the subscription is paid")
            #expect(acme.paymentURL.isEmpty)

            // Suspended for an unpaid renewal: paying something else lifts nothing.
            _ = try await deliver(StripeTestEvents.invoice(
                id: "evt_3", type: "invoice.payment_failed", created: t0 + 20, subscription: sub, customer: customer, invoice: "renewal1"))
            try await Self.lapse("acme", reason: "grace period over", on: platform)
            let setupFeePaid = try await deliver(oneOff("evt_4", "invoice.paid", created: t0 + 30, customer: customer))
            #expect(setupFeePaid.outcome == .ignored && setupFeePaid.reason == "other_subscription")
            acme = try await billing("acme")
            #expect(acme.status == .suspended, "the renewal is still unpaid")
            #expect(acme.paymentURL == StripeTestEvents.invoicePage("renewal1"))

            // A customer at Stripe with no subscription: a one-off invoice's page is not where it pays its plan.
            try await platform.database.withTenant("bravo") { tx in
                var state = try await BillingRecords.get(tx)
                state.stripeCustomerID = "cus_bravo1"
                try await BillingRecords.save(state, tx)
            }
            let unpaid = try await deliver(oneOff("evt_5", "invoice.payment_failed", created: t0 + 40, customer: "cus_bravo1"))
            #expect(unpaid.outcome == .ignored && unpaid.tenant == "tenants/bravo")
            let bravo = try await billing("bravo")
            #expect(bravo.status == .trialing)
            #expect(bravo.paymentURL.isEmpty)
        }
    }

    @Test("webhook events apply once and in effect order; stale, replayed and foreign ones are ignored", arguments: TestBackend.available)
    func webhookEvents(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            let bridge = platform.metadata(platform.bridgeToken)
            let owner = platform.metadata(platform.ownerToken)
            let t0 = Int64(Date().timeIntervalSince1970) - 1000
            func deliver(_ payload: Data, secret: String = StripeTestEvents.webhookSecret) async throws -> HandleStripeEventResponse {
                try await Self.deliver(payload, to: platform, secret: secret)
            }
            func billing() async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
            }
            let sub = "sub_acme1", customer = "cus_acme1"
            // A subscription made in a Stripe Checkout names its tenant in metadata.
            let created = StripeTestEvents.subscription(
                id: "evt_1", type: "customer.subscription.created", created: t0, subscription: sub, customer: customer,
                status: "active", price: "price_pro", tenant: "acme")
            let applied = try await deliver(created)
            #expect(applied.outcome == .applied)
            #expect(applied.tenant == "tenants/acme")
            var now = try await billing()
            #expect(now.status == .active)
            #expect(now.tier == .pro)
            #expect(now.stripeSubscriptionID == sub)
            #expect(now.stripeCustomerID == customer)

            let replay = try await deliver(created)
            #expect(replay.outcome == .ignored)
            #expect(replay.reason == "duplicate")

            // Signed with the secret being rotated out: still accepted.
            let failed = StripeTestEvents.invoice(id: "evt_3", type: "invoice.payment_failed", created: t0 + 20, subscription: sub, customer: customer)
            #expect(try await deliver(failed, secret: "whsec_test_previous_fedcba9876543210").outcome == .applied)
            now = try await billing()
            #expect(now.status == .pastDue)
            #expect(now.hasGracePeriodEndTime)

            // Delivered late: created before the failure, so it must not undo it. Its plan, the
            // newest the subscription has reported, still counts.
            let late = StripeTestEvents.subscription(
                id: "evt_2", type: "customer.subscription.updated", created: t0 + 10, subscription: sub, customer: customer, status: "active", price: "price_pro")
            let stale = try await deliver(late)
            #expect(stale.reason == "stale_status")
            #expect(try await billing().status == .pastDue)

            let paid = StripeTestEvents.invoice(id: "evt_4", type: "invoice.paid", created: t0 + 30, subscription: sub, customer: customer)
            #expect(try await deliver(paid).outcome == .applied)
            #expect(try await billing().status == .active)

            // Another subscription of the same customer says nothing about the one the tenant pays with.
            let stray = StripeTestEvents.subscription(
                id: "evt_4b", type: "customer.subscription.deleted", created: t0 + 35, subscription: "sub_stray", customer: customer, status: "canceled")
            #expect(try await deliver(stray).reason == "other_subscription")
            #expect(try await billing().status == .active)

            let downgrade = StripeTestEvents.subscription(
                id: "evt_5", type: "customer.subscription.updated", created: t0 + 40, subscription: sub, customer: customer, status: "active", price: "price_starter")
            #expect(try await deliver(downgrade).outcome == .applied)
            #expect(try await billing().tier == .starter)

            let deleted = StripeTestEvents.subscription(
                id: "evt_6", type: "customer.subscription.deleted", created: t0 + 50, subscription: sub, customer: customer, status: "canceled")
            #expect(try await deliver(deleted).outcome == .applied)
            now = try await billing()
            #expect(now.status == .cancelled)
            #expect(now.hasRetentionEndTime)
            #expect(now.lastStripeEventTime.seconds == t0 + 50)
            #expect(now.stripeSubscriptionID.isEmpty, "ended: the next paid plan starts a new subscription")
            #expect(now.stripeCustomerID == customer)
            // An update of the ended subscription stamped the same second as its end, delivered
            // after it: Stripe never revives an ended subscription, so it changes nothing.
            let sameSecond = StripeTestEvents.subscription(
                id: "evt_6b", type: "customer.subscription.updated", created: t0 + 50, subscription: sub, customer: customer, status: "active", price: "price_pro")
            #expect(try await deliver(sameSecond).reason == "other_subscription")
            now = try await billing()
            #expect(now.status == .cancelled)
            #expect(now.stripeSubscriptionID.isEmpty)

            let stranger = StripeTestEvents.subscription(
                id: "evt_7", type: "customer.subscription.updated", created: t0 + 60, subscription: "sub_other", customer: "cus_other", status: "active")
            #expect(try await deliver(stranger).reason == "unknown_customer")
            let other = StripeTestEvents.event(id: "evt_8", type: "charge.refunded", created: t0 + 60, object: ["object": "charge", "id": "ch_1"])
            #expect(try await deliver(other).reason == "unhandled_type")

            // Bad and stale signatures: refused, nothing recorded.
            let recorded = try await platform.database.transaction(.platform) { try await $0.first("SELECT COUNT(*) AS n FROM stripe_events")!.int("n") }
            let forged = StripeTestEvents.subscription(
                id: "evt_9", type: "customer.subscription.updated", created: t0 + 70, subscription: sub, customer: customer, status: "active")
            let wrongSecret = await failure { try await deliver(forged, secret: "whsec_someone_else") }
            #expect(wrongSecret?.code == .invalidArgument)
            #expect(wrongSecret?.reason == "stripe_signature_invalid")
            #expect(wrongSecret?.fields == ["signature"])
            let old = await failure {
                try await platform.billing.handleStripeEvent(.with {
                    $0.payload = forged
                    $0.signature = StripeTestEvents.signatureHeader(payload: forged, time: Date().addingTimeInterval(-301))
                }, metadata: bridge)
            }
            #expect(old?.reason == "stripe_signature_invalid")
            // A signed payload that is no Stripe event says what is wrong with it, in words.
            let shapeless = Data(#"{"id":"evt_10","type":"customer.subscription.updated","created":1}"#.utf8)
            let unreadable = await failure {
                try await platform.billing.handleStripeEvent(.with {
                    $0.payload = shapeless
                    $0.signature = StripeTestEvents.signatureHeader(payload: shapeless, time: Date())
                }, metadata: bridge)
            }
            #expect(unreadable?.fields == ["payload"])
            #expect(unreadable?.message == "payload: is not a Stripe event: data is missing", "\(String(describing: unreadable))")
            #expect(try await platform.database.transaction(.platform) { try await $0.first("SELECT COUNT(*) AS n FROM stripe_events")!.int("n") } == recorded)
            #expect(try await billing().status == .cancelled)

            // Only the bridge forwards webhooks.
            let notBridge = await failure {
                try await platform.billing.handleStripeEvent(.with { $0.payload = forged; $0.signature = "t=1,v1=00" }, metadata: owner)
            }
            #expect(notBridge?.code == .permissionDenied)

            // Event ids are kept for their retention, long past Stripe's retries, then swept.
            let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: .init(label: "test"))
            let eventCount = { try await platform.database.transaction(.platform) { try await $0.first("SELECT COUNT(*) AS n FROM stripe_events")!.int("n") } }
            try await purger.runOnce(now: Date().addingTimeInterval(StripeEventLedger.retention - 60))
            #expect(try await eventCount() == recorded)
            try await purger.runOnce(now: Date().addingTimeInterval(StripeEventLedger.retention + 60))
            #expect(try await eventCount() == 0)
        }
    }

    @Test("a suspended tenant stays suspended while Stripe retries its payment: past_due buys no fresh grace period", arguments: TestBackend.available)
    func suspendedStaysSuspended(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            let t0 = Int64(Date().timeIntervalSince1970) - 100
            func deliver(_ payload: Data) async throws -> HandleStripeEventResponse { try await Self.deliver(payload, to: platform) }
            let sub = "sub_acme1", customer = "cus_acme1"
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_1", type: "customer.subscription.created", created: t0, subscription: sub, customer: customer,
                status: "past_due", price: "price_pro", tenant: "acme"))
            try await Self.lapse("acme", reason: "grace period over", on: platform)
            _ = try await deliver(StripeTestEvents.subscription(
                id: "evt_2", type: "customer.subscription.updated", created: t0 + 10, subscription: sub, customer: customer, status: "past_due", price: "price_pro"))
            // Stripe's retry fails again: the record shows where the tenant pays the invoice.
            _ = try await deliver(StripeTestEvents.invoice(id: "evt_21", type: "invoice.payment_failed", created: t0 + 15, subscription: sub, customer: customer))
            let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
            #expect(billing.status == .suspended)
            #expect(!billing.hasGracePeriodEndTime)
            #expect(billing.paymentURL == StripeTestEvents.invoicePage("evt_21"))
            // Paying is what brings it back.
            _ = try await deliver(StripeTestEvents.invoice(id: "evt_3", type: "invoice.paid", created: t0 + 20, subscription: sub, customer: customer))
            let paid = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
            #expect(paid.status == .active)
            #expect(paid.paymentURL.isEmpty)
        }
    }

    @Test("trial_will_end moves the trial end; paused suspends and resumed reactivates", arguments: TestBackend.available)
    func pauseAndTrialEvents(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            let t0 = Int64(Date().timeIntervalSince1970) - 100
            let trialEnd = t0 + 3 * 86_400
            func deliver(_ payload: Data) async throws -> HandleStripeEventResponse { try await Self.deliver(payload, to: platform) }
            func billing() async throws -> TenantBilling {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(platform.ownerToken))
            }
            let willEnd = StripeTestEvents.subscription(
                id: "evt_t1", type: "customer.subscription.trial_will_end", created: t0, subscription: "sub_p", customer: "cus_p",
                status: "trialing", price: "price_pro", trialEnd: trialEnd, tenant: "acme")
            #expect(try await deliver(willEnd).outcome == .applied)
            var now = try await billing()
            #expect(now.status == .trialing)
            #expect(now.trialEndTime.seconds == trialEnd)

            let paused = StripeTestEvents.subscription(
                id: "evt_t2", type: "customer.subscription.paused", created: t0 + 10, subscription: "sub_p", customer: "cus_p", status: "paused")
            #expect(try await deliver(paused).outcome == .applied)
            now = try await billing()
            #expect(now.status == .suspended)
            #expect(now.statusReason == "customer.subscription.paused")

            let resumed = StripeTestEvents.subscription(
                id: "evt_t3", type: "customer.subscription.resumed", created: t0 + 20, subscription: "sub_p", customer: "cus_p", status: "active")
            #expect(try await deliver(resumed).outcome == .applied)
            #expect(try await billing().status == .active)
        }
    }

    @Test("the same event delivered concurrently is applied once", arguments: TestBackend.available)
    func concurrentDelivery(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: Self.settings()) { platform in
            try await platform.createTenant("acme")
            let payload = StripeTestEvents.subscription(
                id: "evt_once", type: "customer.subscription.created", created: Int64(Date().timeIntervalSince1970),
                subscription: "sub_1", customer: "cus_1", status: "active", price: "price_elite", tenant: "acme")
            let request = HandleStripeEventRequest.with {
                $0.payload = payload
                $0.signature = StripeTestEvents.signatureHeader(payload: payload)
            }
            let outcomes = try await withThrowingTaskGroup(of: HandleStripeEventResponse.self) { group in
                for _ in 0..<5 {
                    group.addTask { try await platform.billing.handleStripeEvent(request, metadata: platform.metadata(platform.bridgeToken)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0.outcome == .applied }.count == 1)
            #expect(outcomes.filter { $0.reason == "duplicate" }.count == 4)
            let audited = try await platform.database.transaction(.platform) { tx in
                try await tx.first("SELECT COUNT(*) AS n FROM audit_events WHERE method LIKE '%HandleStripeEvent' AND outcome = 'OK'")!.int("n")
            }
            #expect(audited == 1)
        }
    }
}
