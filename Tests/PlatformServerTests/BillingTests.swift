import Foundation
import GRPCCore
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

@testable import PlatformServer

/// Plans, the billing record, the status lifecycle and the feature gates, on every store.
@Suite("Billing")
struct BillingTests {
    @Test("plans list their features from the one table, cheapest first, a page at a time", arguments: TestBackend.available)
    func plansListing(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let admin = try await platform.token(role: .tenantMember, tenant: "root")
            let all = try await platform.billing.listPlans(ListPlansRequest(), metadata: platform.metadata(admin))
            #expect(all.plans.map(\.name) == ["plans/starter", "plans/pro", "plans/elite"])
            #expect(all.plans.map(\.monthlyPriceCents) == all.plans.map(\.monthlyPriceCents).sorted())
            for plan in all.plans {
                let tier = try #require(PlanCatalog.Tier(rawValue: String(plan.name.dropFirst("plans/".count))))
                #expect(Set(plan.features.map(\.rawValue)) == Set(Feature.allCases.filter { PlanCatalog.hasFeature(tier, $0) }.map { Servicepro_Options_V1_Feature($0).rawValue }))
                #expect(plan.trialDays == 14)
            }
            #expect(all.plans[0].features.contains(.aiVoice) == false)
            #expect(all.plans[2].features.contains(.aiVoice))
            let first = try await platform.billing.listPlans(.with { $0.pageSize = 2 }, metadata: platform.metadata(admin))
            #expect(first.plans.count == 2)
            let second = try await platform.billing.listPlans(.with { $0.pageSize = 2; $0.pageToken = first.nextPageToken }, metadata: platform.metadata(admin))
            #expect(second.plans.map(\.name) == ["plans/elite"])
            #expect(second.nextPageToken.isEmpty)
            let bad = await failure { try await platform.billing.listPlans(.with { $0.pageToken = "nope" }, metadata: platform.metadata(admin)) }
            #expect(bad?.fields == ["page_token"])
            #expect(try await platform.billing.getPlan(.with { $0.name = "plans/pro" }, metadata: platform.metadata(admin)) == all.plans[1])
            #expect(await failure { try await platform.billing.getPlan(.with { $0.name = "plans/gold" }, metadata: platform.metadata(admin)) }?.code == .notFound)
        }
    }

    @Test("a new tenant trials the starter plan; its billing record says so to its admin", arguments: TestBackend.available)
    func newTenantBilling(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(admin))
            #expect(billing.tier == .starter)
            #expect(billing.status == .trialing)
            #expect(abs(billing.trialEndTime.date.timeIntervalSinceNow - 14 * 86_400) < 120)
            #expect(billing.features == [.sms, .callForwarding, .dataExport])
            #expect(!billing.etag.isEmpty)
            let other = await failure {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/bravo/billing" }, metadata: platform.metadata(admin))
            }
            #expect(other?.code == .notFound)
            let member = try await platform.token(role: .tenantMember, tenant: "acme")
            let denied = await failure {
                try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: platform.metadata(member))
            }
            #expect(denied?.code == .permissionDenied)
        }
    }

    @Test("without Stripe a plan change applies directly, once per request_id, audited, and the gates follow it", arguments: TestBackend.available)
    func directPlanChange(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = platform.metadata(platform.ownerToken)
            let configs = PhoneConfigService.Client(wrapping: platform.client)
            let ivr = CreatePhoneConfigRequest.with {
                $0.parent = "tenants/acme"
                $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.ivrMode = .ivr }
            }
            let gated = await failure { try await configs.createPhoneConfig(ivr, metadata: owner) }
            #expect(gated?.code == .failedPrecondition)
            #expect(gated?.reason == "feature_not_in_plan")
            #expect(gated?.metadata == ["feature": "ivr", "current_tier": "starter", "required_tier": "pro"])

            let before = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
            let stale = await failure {
                try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro; $0.etag = "\"999\"" }, metadata: owner)
            }
            #expect(stale?.code == .aborted)
            // With no Stripe to pay, a tenant's own admin would pick any plan for free: staff set it.
            let admin = platform.metadata(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let free = await failure { try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .elite }, metadata: admin) }
            #expect(free?.code == .failedPrecondition && free?.reason == "billing_not_configured")
            let change = ChangePlanRequest.with {
                $0.name = "tenants/acme/billing"
                $0.tier = .pro
                $0.etag = before.etag
                $0.requestID = "upgrade-1"
            }
            let changed = try await platform.billing.changePlan(change, metadata: owner)
            #expect(changed.appliedDirectly)
            #expect(changed.billing.tier == .pro)
            #expect(changed.billing.features.contains(.ivr))
            #expect(changed.billing.status == .trialing, "a plan change leaves the status alone")
            #expect(try await platform.billing.changePlan(change, metadata: owner) == changed, "a retry returns the first answer")
            #expect(try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/acme" }).planTier == .pro)
            _ = try await configs.createPhoneConfig(ivr, metadata: owner)

            let same = await failure { try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing"; $0.tier = .pro }, metadata: owner) }
            #expect(same?.reason == "plan_unchanged")
            let unknown = await failure { try await platform.billing.changePlan(.with { $0.name = "tenants/acme/billing" }, metadata: owner) }
            #expect(unknown?.code == .invalidArgument)
            #expect(unknown?.fields == ["tier"])
            let events = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT details FROM audit_events WHERE tenant_id = 'acme' AND method LIKE '%ChangePlan' AND outcome = 'OK'")
            }
            #expect(events.count == 1)
            #expect(try events.first?.string("details").contains("\"to_tier\":\"pro\"") == true)
        }
    }

    @Test("retries of one plan change or status override racing its first attempt get its answer, or are told to wait; never that the plan is unchanged", arguments: TestBackend.available)
    func racingRetries(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = platform.metadata(platform.ownerToken)
            let change = ChangePlanRequest.with { $0.name = "tenants/acme/billing"; $0.tier = .elite; $0.requestID = "race-1" }
            let override = SetTenantStatusRequest.with {
                $0.name = "tenants/acme/billing"; $0.status = .active; $0.reason = "paid by cheque"; $0.requestID = "race-2"
            }
            // Attempts a fraction of a millisecond apart, so that some arrive while the first
            // one writes its result.
            func race(_ attempt: @escaping @Sendable () async throws -> Void) async -> [CallFailure] {
                await withTaskGroup(of: CallFailure?.self) { group in
                    for index in 0..<40 {
                        group.addTask {
                            try? await Task.sleep(for: .microseconds(500 * index))
                            do {
                                try await attempt()
                                return nil
                            } catch {
                                return await failure { throw error }
                            }
                        }
                    }
                    return await group.reduce(into: []) { if let refusal = $1 { $0.append(refusal) } }
                }
            }
            let planRefusals = await race { _ = try await platform.billing.changePlan(change, metadata: owner) }
            #expect(planRefusals.allSatisfy { $0.code == .aborted && $0.reason == "billing_change_in_progress" }, "\(planRefusals)")
            let statusRefusals = await race { _ = try await platform.billing.setTenantStatus(override, metadata: owner) }
            #expect(statusRefusals.allSatisfy { $0.code == .aborted && $0.reason == "billing_change_in_progress" }, "\(statusRefusals)")
            let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: owner)
            #expect(billing.tier == .elite && billing.status == .active)
        }
    }

    @Test("status changes follow the transition table; an invalid one changes nothing", arguments: TestBackend.available)
    func transitionTable(backend: TestBackend) async throws {
        let statuses: [TenantStatus] = [.trialing, .active, .pastDue, .suspended, .cancelled]
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            for from in statuses {
                for to in statuses {
                    let id = "t-\(from.storedName.replacingOccurrences(of: "_", with: "-"))-\(to.storedName.replacingOccurrences(of: "_", with: "-"))"
                    try await platform.createTenant(id)
                    if from != .trialing { try await platform.setStatus(id, from) }
                    let before = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(id)/billing" }, metadata: owner)
                    let outcome = await failure { try await platform.setStatus(id, to, reason: "table test") }
                    let after = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(id)/billing" }, metadata: owner)
                    if StatusTransitions.isValid(from: from, to: to) {
                        #expect(outcome == nil, "\(from) → \(to) is valid: \(outcome.map(\.description) ?? "")")
                        #expect(after.status == to)
                        #expect(after.statusReason == "table test")
                    } else {
                        #expect(outcome?.code == .failedPrecondition, "\(from) → \(to) is invalid")
                        #expect(outcome?.reason == "invalid_status_transition")
                        #expect(after == before, "a refused transition changes nothing")
                    }
                }
            }
            // The table itself: every status can leave, and cancelled only by reactivation.
            #expect(StatusTransitions.next(from: .cancelled) == [.active])
            #expect(!StatusTransitions.isValid(from: .active, to: .trialing))
            let root = await failure { try await platform.setStatus("root", .suspended) }
            #expect(root?.reason == "root_tenant_protected")
            let noReason = await failure { try await platform.setStatus("t-active-active", .suspended, reason: "  ") }
            #expect(noReason?.fields == ["reason"])
        }
    }

    @Test("past due keeps full access for the grace period; suspended and cancelled gate calls and keep every row", arguments: TestBackend.available)
    func suspensionKeepsData(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            let adminMeta = platform.metadata(admin)
            let configs = PhoneConfigService.Client(wrapping: platform.client)
            _ = try await configs.createPhoneConfig(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.forwardNumber = "+19185550199" }
            }, metadata: platform.metadata(platform.ownerToken))
            let inbound = InboundService.Client(wrapping: platform.client)
            _ = try await inbound.handleInboundMessage(.with {
                $0.messageSid = "SM" + String(repeating: "a", count: 32)
                $0.from = "+19185551234"
                $0.to = "+19185550100"
                $0.body = "Do you detail boats?"
            }, metadata: platform.metadata(platform.bridgeToken))
            func counts() async throws -> [Int64] {
                try await platform.database.transaction(.platform) { tx in
                    var counts: [Int64] = []
                    for table in ["phone_configs", "customers", "text_messages", "api_keys", "tenants"] {
                        counts.append(try await tx.first("SELECT COUNT(*) AS n FROM \(raw: table) WHERE tenant_id = 'acme'")!.int("n"))
                    }
                    return counts
                }
            }
            let rows = try await counts()
            #expect(rows == [1, 1, 1, 1, 1])
            let rename = UpdateTenantRequest.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Tulsa" }
                $0.updateMask = .init(protoPaths: ["city"])
            }

            let pastDue = try await platform.setStatus("acme", .pastDue)
            #expect(abs(pastDue.gracePeriodEndTime.date.timeIntervalSinceNow - 7 * 86_400) < 120)
            _ = try await platform.tenants(admin).updateTenant(rename)

            // A decision taken on a record that has changed since it was read is refused.
            let stale = await failure {
                try await platform.billing.setTenantStatus(.with {
                    $0.name = "tenants/acme/billing"; $0.status = .suspended; $0.reason = "late"; $0.etag = "\"1\""
                }, metadata: platform.metadata(platform.ownerToken))
            }
            #expect(stale?.code == .aborted)
            #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: adminMeta).status == .pastDue)
            let suspended = try await platform.billing.setTenantStatus(.with {
                $0.name = "tenants/acme/billing"; $0.status = .suspended; $0.reason = "set by a test"; $0.etag = pastDue.etag
            }, metadata: platform.metadata(platform.ownerToken))
            #expect(!suspended.hasGracePeriodEndTime)
            #expect(!suspended.hasRetentionEndTime, "a suspension starts no retention window: non-payment never deletes data")
            #expect(await failure { try await platform.tenants(admin).updateTenant(rename) }?.reason == "tenant_suspended")
            var badRename = rename
            badRename.tenant.city = String(repeating: "x", count: 10_000)
            #expect(await failure { try await platform.tenants(admin).updateTenant(badRename) }?.reason == "tenant_suspended",
                    "the gate comes before the fields, as the pipeline's order says")
            #expect(try await platform.tenants(admin).getTenant(.with { $0.name = "tenants/acme" }).city == "Tulsa")
            _ = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: adminMeta)

            let cancelling = try await platform.setStatus("acme", .cancelled)
            #expect(abs(cancelling.retentionEndTime.date.timeIntervalSinceNow - 90 * 86_400) < 120, "only a cancellation starts one")
            #expect(await failure { try await platform.tenants(admin).updateTenant(rename) }?.reason == "tenant_cancelled")
            // What the tenant was, and its trail, stay readable: an operator answering for it, or
            // the tenant itself, can still see them.
            #expect(try await platform.tenants(admin).getTenant(.with { $0.name = "tenants/acme" }).city == "Tulsa")
            #expect(try await !platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/acme" }).auditEvents.isEmpty)
            let cancelled = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: adminMeta)
            #expect(cancelled.status == .cancelled)
            // Its keys still export its data, so they can still be seen and revoked.
            let keys = try await platform.apiKeys(platform.ownerToken).listApiKeys(.with { $0.parent = "tenants/acme" }).apiKeys
            let adminKey = try #require(keys.first)
            _ = try await platform.apiKeys(platform.ownerToken).revokeApiKey(.with { $0.name = adminKey.name })
            #expect(await failure { try await platform.billing.getTenantBilling(.with { $0.name = "tenants/acme/billing" }, metadata: adminMeta) }?.code == .unauthenticated)
            #expect(try await counts() == rows, "no billing transition deletes data")

            let reactivated = try await platform.setStatus("acme", .active, reason: "paid by cheque")
            #expect(!reactivated.hasRetentionEndTime)
            #expect(try await counts() == rows)
            _ = try await platform.tenants(platform.ownerToken).updateTenant(rename)
        }
    }

    @Test("partner integrations need the partner API in the tenant's plan", arguments: TestBackend.available)
    func partnerGate(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let refused = await failure { try await platform.token(role: .partner, tenant: "acme") }
            #expect(refused?.reason == "feature_not_in_plan")
            #expect(refused?.metadata["feature"] == "partner_api")
            #expect(refused?.metadata["required_tier"] == "pro")
            try await platform.setPlan("acme", .pro)
            let partner = try await platform.token(role: .partner, tenant: "acme")
            _ = try await CommunicationLogService.Client(wrapping: platform.client).listMessages(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(partner))
            try await platform.setPlan("acme", .starter)
            let downgraded = await failure {
                try await CommunicationLogService.Client(wrapping: platform.client).listMessages(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(partner))
            }
            #expect(downgraded?.reason == "feature_not_in_plan")
            #expect(downgraded?.metadata == ["feature": "partner_api", "current_tier": "starter", "required_tier": "pro"])
        }
    }

    @Test("the gate table: each gated action is allowed exactly on the tiers whose features include it", arguments: TestBackend.available)
    func gateTable(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            let configs = PhoneConfigService.Client(wrapping: platform.client)
            // Each gated action, the feature it needs, and how to attempt it on a tenant.
            let actions: [(String, Feature, (String, Int) async throws -> Void)] = [
                ("IVR phone config", .ivr, { tenant, n in
                    _ = try await configs.createPhoneConfig(.with {
                        $0.parent = "tenants/\(tenant)"; $0.phoneConfigID = "ivr"
                        $0.phoneConfig = .with { $0.phoneNumber = "+1918555\(String(format: "%04d", n))"; $0.ivrMode = .ivr }
                    }, metadata: owner)
                }),
                ("AI voice phone config", .aiVoice, { tenant, n in
                    _ = try await configs.createPhoneConfig(.with {
                        $0.parent = "tenants/\(tenant)"; $0.phoneConfigID = "ai"
                        $0.phoneConfig = .with { $0.phoneNumber = "+1918556\(String(format: "%04d", n))"; $0.ivrMode = .aiVoice }
                    }, metadata: owner)
                }),
                ("partner key", .partnerAPI, { tenant, _ in _ = try await platform.token(role: .partner, tenant: tenant) }),
            ]
            var n = 0
            for tier in PlanCatalog.Tier.allCases {
                let tenant = "shop-\(tier.rawValue)"
                try await platform.createTenant(tenant)
                if tier != .starter { try await platform.setPlan(tenant, PlanTier(tier)) }
                for (name, feature, attempt) in actions {
                    n += 1
                    let refusal = await failure { try await attempt(tenant, n) }
                    if PlanCatalog.hasFeature(tier, feature) {
                        #expect(refusal == nil, "\(name) on \(tier): \(refusal.map(\.description) ?? "")")
                    } else {
                        #expect(refusal?.code == .failedPrecondition, "\(name) on \(tier)")
                        #expect(refusal?.metadata == [
                            "feature": feature.rawValue, "current_tier": tier.rawValue,
                            "required_tier": PlanCatalog.lowestTier(with: feature)!.rawValue,
                        ])
                    }
                }
            }
        }
    }

    @Test("expired trials and grace periods move once, however many workers run the job", arguments: TestBackend.available)
    func lifecycleJob(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let expired = (1...6).map { "trial-\($0)" }
            let graceOver = (1...3).map { "late-\($0)" }
            for id in expired + graceOver + ["fresh"] { try await platform.createTenant(id) }
            for id in graceOver { try await platform.setStatus(id, .pastDue) }
            let past = Date().addingTimeInterval(-60)
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE tenants SET trial_end_time = \(past) WHERE tenant_id LIKE 'trial-%'")
                try await tx.execute("UPDATE tenant_billing SET grace_period_end_time = \(past) WHERE tenant_id LIKE 'late-%'")
            }
            let settings = BillingSettings()
            let workers = ["worker-a", "worker-b"].map {
                BillingLifecycleJob(database: platform.database, settings: settings, logger: .init(label: "test"), worker: $0, batchSize: 2)
            }
            // Both workers pass until neither finds anything, racing for the same rows.
            var moved = 0
            while true {
                async let a = workers[0].runOnce()
                async let b = workers[1].runOnce()
                let pass = try await a + b
                if pass == 0 { break }
                moved += pass
            }
            #expect(moved == expired.count + graceOver.count)
            let owner = platform.metadata(platform.ownerToken)
            for id in expired + graceOver {
                let billing = try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(id)/billing" }, metadata: owner)
                #expect(billing.status == .suspended, "\(id)")
                #expect(!billing.hasRetentionEndTime, "\(id): suspended for want of payment, it keeps its data with no window")
            }
            #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/fresh/billing" }, metadata: owner).status == .trialing)
            let audit = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT tenant_id, method, real_actor FROM audit_events WHERE method IN ('ExpireTrial', 'EndGracePeriod')")
            }
            #expect(audit.count == expired.count + graceOver.count, "each tenant moved exactly once")
            #expect(Set(try audit.map { try $0.string("tenant_id") }) == Set(expired + graceOver))
            #expect(try audit.allSatisfy { try $0.string("real_actor") == "jobs/billing-lifecycle" })
            let leases = try await platform.database.transaction(.platform) { tx in
                try await tx.first("SELECT COUNT(*) AS n FROM tenant_billing WHERE lease_owner IS NOT NULL")!.int("n")
            }
            #expect(leases == 0)
        }
    }

    @Test("a tenant that fails to move waits out its lease, and the others move", arguments: TestBackend.available)
    func lifecycleJobGoesPastAFailure(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let expired = ["trial-a", "trial-b", "trial-c"]
            for id in expired { try await platform.createTenant(id) }
            let past = Date().addingTimeInterval(-60)
            // trial-b's row refuses every change, as a store that fails for one tenant would.
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE tenants SET trial_end_time = \(past) WHERE tenant_id LIKE 'trial-%'")
                switch backend {
                case .sqlite:
                    try await tx.execute("""
                        CREATE TRIGGER refuse_trial_b BEFORE UPDATE ON tenants WHEN NEW.tenant_id = 'trial-b'
                        BEGIN SELECT RAISE(ABORT, 'refused for the test'); END
                        """)
                case .postgres:
                    try await tx.execute("""
                        CREATE FUNCTION refuse_trial_b() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN IF NEW.tenant_id = 'trial-b' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$
                        """)
                    try await tx.execute("CREATE TRIGGER refuse_trial_b BEFORE UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION refuse_trial_b()")
                }
            }
            let job = BillingLifecycleJob(database: platform.database, settings: BillingSettings(), logger: .init(label: "test"), leaseDuration: 120)
            #expect(try await job.runOnce() == 2)
            let leased = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT tenant_id FROM tenant_billing WHERE lease_owner IS NOT NULL").map { try $0.string("tenant_id") }
            }
            #expect(leased == ["trial-b"], "the others' leases are released as they move")

            try await platform.database.transaction(.platform) { tx in
                try await tx.execute(backend == .postgres ? "DROP TRIGGER refuse_trial_b ON tenants" : "DROP TRIGGER refuse_trial_b")
            }
            #expect(try await job.runOnce() == 0, "trial-b waits until its lease expires")
            #expect(try await job.runOnce(now: Date().addingTimeInterval(121)) == 1)
            let owner = platform.metadata(platform.ownerToken)
            for id in expired {
                #expect(try await platform.billing.getTenantBilling(.with { $0.name = "tenants/\(id)/billing" }, metadata: owner).status == .suspended, "\(id)")
            }
        }
    }

    @Test("a pass that outlived its lease leaves the tenant to whoever holds it now", arguments: TestBackend.available)
    func lifecycleJobMovesOnlyUnderItsLease(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("trial-a")
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE tenants SET trial_end_time = \(Date().addingTimeInterval(-60)) WHERE tenant_id = 'trial-a'")
            }
            let billing = { try await platform.billing.getTenantBilling(.with { $0.name = "tenants/trial-a/billing" }, metadata: platform.metadata(platform.ownerToken)) }
            // A lease of 100 µs has run out before the move's transaction begins.
            let slow = BillingLifecycleJob(database: platform.database, settings: BillingSettings(), logger: .init(label: "test"), leaseDuration: 0.000_1)
            #expect(try await slow.runOnce() == 0)
            #expect(try await billing().status == .trialing)

            let job = BillingLifecycleJob(database: platform.database, settings: BillingSettings(), logger: .init(label: "test"))
            #expect(try await job.runOnce() == 1)
            #expect(try await billing().status == .suspended)
        }
    }
}
