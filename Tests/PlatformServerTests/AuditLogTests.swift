import Foundation
import GRPCCore
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// The audit log end to end over gRPC, on every store: what audited calls leave behind, and
/// who may read it.
@Suite("Audit log")
struct AuditLogTests {
    @Test("a session's trail: its start, the changes made through it, its stop", arguments: TestBackend.available)
    func sessionTrail(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            let owner = try await platform.impersonation(platform.ownerToken).whoAmI().principal
            let started = try await platform.impersonate("acme", reason: "ticket 4711: wrong city")
            let session = started.session.name
            _ = try await platform.tenants(started.token).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Tulsa" }
                $0.updateMask = .init(protoPaths: ["city"])
            })
            _ = try await platform.impersonation(started.token).stop()

            let trail = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/acme" }).auditEvents
            #expect(trail.map(\.method) == [
                "/servicepro.impersonation.v1.ImpersonationService/StopImpersonation",
                "/servicepro.tenancy.v1.TenantService/UpdateTenant",
                "/servicepro.impersonation.v1.ImpersonationService/StartImpersonation",
                "/servicepro.tenancy.v1.TenantService/CreateTenant",
            ])
            #expect(trail.allSatisfy { $0.realActor == owner && $0.actorRole == .platformOwner })
            #expect(trail.allSatisfy { $0.effectiveTenant == "tenants/acme" && $0.outcomeCode == "OK" && !$0.requestID.isEmpty })
            #expect(trail.allSatisfy { $0.name.hasPrefix("tenants/acme/auditEvents/") })
            let (stop, update, start) = (trail[0], trail[1], trail[2])
            // Started with the owner's key; changed and stopped through the session.
            #expect(start.impersonationSession == "")
            #expect(start.resourceName == session)
            #expect(start.details["reason"] == "ticket 4711: wrong city")
            #expect(start.details["ttl"] == "1800s")
            #expect(update.impersonationSession == session)
            #expect(update.resourceName == "tenants/acme")
            #expect(update.details["update_mask"] == "city")
            #expect(stop.impersonationSession == session)
            #expect(stop.resourceName == session)

            let throughSession = try await platform.audit(platform.ownerToken).list(.with {
                $0.parent = "tenants/acme"
                $0.impersonationSession = session
            }).auditEvents
            #expect(throughSession.map(\.name) == [stop.name, update.name])

            // The tenant's admin reads its own tenant's log, and nobody else's.
            let admin = platform.audit(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let seenByAdmin = try await admin.list(.with { $0.parent = "tenants/acme" }).auditEvents
            #expect(seenByAdmin.first?.method == "/servicepro.tenancy.v1.ApiKeyService/CreateApiKey")
            #expect(seenByAdmin.dropFirst().map(\.name) == trail.map(\.name))
            #expect(try await admin.get(.with { $0.name = update.name }) == update)
            #expect(await failure { try await admin.list(.with { $0.parent = "tenants/-" }) }?.code == .notFound)
            #expect(await failure { try await admin.list(.with { $0.parent = "tenants/root" }) }?.code == .notFound)
            let member = platform.audit(try await platform.token(role: .tenantMember, tenant: "acme"))
            #expect(await failure { try await member.list(.with { $0.parent = "tenants/acme" }) }?.code == .permissionDenied)
        }
    }

    @Test("a refused attempt to impersonate is audited too", arguments: TestBackend.available)
    func refusedStartIsAudited(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let staff = try await platform.token(role: .platformStaff, tenant: "root")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            for token in [staff, admin] {
                let refused = await failure { try await platform.impersonation(token).start(.with { $0.tenant = "tenants/acme"; $0.reason = "curious" }) }
                #expect(refused?.code == .permissionDenied)
            }
            let session = try await platform.impersonate("acme")
            let chained = await failure { try await platform.impersonation(session.token).start(.with { $0.tenant = "tenants/acme"; $0.reason = "chain" }) }
            #expect(chained?.reason == "not_allowed_while_impersonating")
            let missing = await failure { try await platform.impersonate("nosuch") }
            #expect(missing?.code == .notFound)

            let staffName = try await platform.impersonation(staff).whoAmI().principal
            let adminName = try await platform.impersonation(admin).whoAmI().principal
            let attempts = try await platform.auditEvents(.with {
                $0.method = "servicepro.impersonation.v1.ImpersonationService/StartImpersonation"
            })
            #expect(attempts.map(\.outcomeCode) == ["NOT_FOUND", "PERMISSION_DENIED", "OK", "PERMISSION_DENIED", "PERMISSION_DENIED"])
            let (notFound, fromSession, _, byAdmin, byStaff) = (attempts[0], attempts[1], attempts[2], attempts[3], attempts[4])
            #expect(byStaff.realActor == staffName)
            #expect(byStaff.actorRole == .platformStaff)
            #expect(byStaff.outcomeReason == "role_not_allowed")
            #expect(byStaff.effectiveTenant == "tenants/root")
            #expect(byAdmin.realActor == adminName)
            #expect(byAdmin.effectiveTenant == "tenants/acme")
            #expect(fromSession.outcomeReason == "not_allowed_while_impersonating")
            #expect(fromSession.impersonationSession == session.session.name)
            #expect(notFound.outcomeReason == "not_found")
            #expect(notFound.effectiveTenant == "tenants/root")
            // Each names the tenant it was for, refused before its handler ran or not.
            #expect(attempts.filter { $0.outcomeCode != "OK" }.map(\.resourceName) == ["tenants/nosuch", "tenants/acme", "tenants/acme", "tenants/acme"])

            // A name the store could not keep as sent (a NUL) is kept without it: the refusal is
            // still on the record.
            let garbled = await failure { try await platform.impersonation(staff).start(.with { $0.tenant = "tenants/acme\0"; $0.reason = "x" }) }
            #expect(garbled?.code == .permissionDenied)
            let latest = try await platform.auditEvents(.with {
                $0.method = "servicepro.impersonation.v1.ImpersonationService/StartImpersonation"
            }).first
            #expect(latest?.outcomeCode == "PERMISSION_DENIED")
            #expect(latest?.resourceName == "tenants/acme")

            // As do the other audited platform methods, refused by role.
            let revoked = await failure { try await platform.impersonation(staff).revoke(.with { $0.name = session.session.name; $0.reason = "no" }) }
            #expect(revoked?.code == .permissionDenied)
            let revokeAttempt = try await platform.auditEvents(.with {
                $0.method = "servicepro.impersonation.v1.ImpersonationService/RevokeImpersonation"
            }).first
            #expect(revokeAttempt?.resourceName == session.session.name)
        }
    }

    @Test("every audited method that succeeds appends exactly one event, in its own tenant", arguments: TestBackend.available)
    func everyAuditedMethodLeavesOneEvent(backend: TestBackend) async throws {
        try await TestPlatform.with(backend, billing: BillingSettings(webhookSecrets: [StripeTestEvents.webhookSecret])) { platform in
            // From the policy table: every audited method.
            var audited: [MethodDescriptor] = []
            for service in platform.server.services {
                for method in service.methods where method.policy?.audited == true { audited.append(method.descriptor) }
            }
            let implemented = Dictionary(uniqueKeysWithValues: audited.map { ($0.method, $0) })
            let scenarios = Self.successfulCalls(platform)
            #expect(Set(implemented.keys) == Set(scenarios.map(\.method)), "every implemented audited method needs a scenario here")
            #expect(implemented.count == 34)

            for (name, scenario) in scenarios {
                let descriptor = try #require(implemented[name], "\(name) is not an implemented audited method")
                try await scenario.prepare()
                let before = try await platform.auditEvents()
                let resource = try await scenario.act()
                let after = try await platform.auditEvents()
                #expect(after.count == before.count + 1, "\(name)")
                let event = try #require(after.first, "\(name)")
                #expect(event.method == "/" + descriptor.fullyQualifiedMethod)
                #expect(event.outcomeCode == "OK", "\(name)")
                #expect(event.resourceName == resource, "\(name)")
                #expect(event.effectiveTenant == "tenants/" + (ResourceName.tenantID(of: resource) ?? scenario.tenant), "\(name)")
            }
        }
    }

    @Test("events list newest first with filters and pages", arguments: TestBackend.available)
    func listFilters(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let staff = try await platform.token(role: .platformStaff, tenant: "root")
            let staffName = try await platform.impersonation(staff).whoAmI().principal
            let beforeAll = Date()
            try await platform.createTenant("acme")
            try await Task.sleep(for: .milliseconds(20))
            let middle = Date()
            _ = try await platform.tenants(staff).createTenant(.with { $0.tenantID = "bravo"; $0.tenant = .with { $0.displayName = "Bravo" } })
            _ = try await platform.tenants(staff).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/bravo"; $0.city = "Tulsa" }
                $0.updateMask = .init(protoPaths: ["city"])
            })

            let everything = try await platform.auditEvents(.with { $0.startTime = .init(date: beforeAll) })
            // The staff key's own creation came before `beforeAll`.
            #expect(everything.map { $0.resourceName } == ["tenants/bravo", "tenants/bravo", "tenants/acme"])
            #expect(try await platform.auditEvents(.with { $0.realActor = staffName }).count == 2)
            #expect(try await platform.auditEvents(.with { $0.method = "/servicepro.tenancy.v1.TenantService/CreateTenant" }).count == 2)
            #expect(try await platform.auditEvents(.with { $0.startTime = .init(date: middle) }).count == 2)
            #expect(try await platform.auditEvents(.with { $0.startTime = .init(date: beforeAll); $0.endTime = .init(date: middle) }).map(\.resourceName) == ["tenants/acme"])
            let backwards = await failure { try await platform.auditEvents(.with { $0.startTime = .init(date: middle); $0.endTime = .init(date: beforeAll) }) }
            #expect(backwards?.fields == ["end_time"])
            // A time past year 9999 is refused by name; it once overflowed the store's
            // microseconds and took the server down.
            let admin = platform.audit(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let farFuture = await failure { try await admin.list(.with { $0.parent = "tenants/acme"; $0.startTime = .with { $0.seconds = 10_000_000_000_000 } }) }
            #expect(farFuture?.code == .invalidArgument)
            #expect(farFuture?.fields == ["start_time"])
            #expect(try await admin.list(.with { $0.parent = "tenants/acme" }).auditEvents.isEmpty == false)

            let owner = platform.audit(platform.ownerToken)
            var names: [String] = []
            var token = ""
            repeat {
                let page = try await owner.list(.with { $0.parent = "tenants/-"; $0.pageSize = 2; $0.pageToken = token })
                #expect(page.auditEvents.count <= 2)
                names += page.auditEvents.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(names == (try await platform.auditEvents()).map(\.name))
            let bravoOnly = try await owner.list(.with { $0.parent = "tenants/bravo" }).auditEvents
            #expect(bravoOnly.count == 2)
            #expect(await failure { try await owner.get(.with { $0.name = "tenants/acme/auditEvents/nosuch" }) }?.code == .notFound)
        }
    }

    @Test("a deleted tenant's audit trail survives it", arguments: TestBackend.available)
    func trailOutlivesTenant(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            _ = try await platform.tenants(platform.ownerToken).deleteTenant(.with { $0.name = "tenants/acme" })
            let acme = try await platform.auditEvents().filter { $0.effectiveTenant == "tenants/acme" }
            #expect(acme.map(\.method) == [
                "/servicepro.tenancy.v1.TenantService/DeleteTenant",
                "/servicepro.tenancy.v1.TenantService/CreateTenant",
            ])
            // The id is retired with it: a new business taking it would read this trail as its own.
            let again = await failure { try await platform.createTenant("acme") }
            #expect(again?.code == .alreadyExists)
            #expect(again?.reason == "tenant_id_retired")
            #expect(again?.fields == ["tenant_id"])

            // The owner reads it under the tenant's own name, as before the deletion.
            let owner = platform.audit(platform.ownerToken)
            let listed = try await owner.list(.with { $0.parent = "tenants/acme" }).auditEvents
            #expect(listed.map(\.name) == acme.map(\.name))
            let deletion = try #require(listed.first)
            #expect(try await owner.get(.with { $0.name = deletion.name }) == deletion)
            // Nothing else of it answers, and a tenant that never was is still not found.
            #expect(await failure { try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/acme" }) }?.code == .notFound)
            #expect(await failure { try await owner.list(.with { $0.parent = "tenants/never" }) }?.code == .notFound)
        }
    }

    @Test("churned tenants can be deleted; one still paying through Stripe cannot", arguments: TestBackend.available)
    func deletingChurnedTenants(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = platform.tenants(platform.ownerToken)
            for (tenant, status) in [("gone", TenantStatus.cancelled), ("late", .suspended)] {
                try await platform.createTenant(tenant)
                try await platform.setStatus(tenant, status)
                _ = try await tenants.deleteTenant(.with { $0.name = "tenants/\(tenant)" })
            }
            try await platform.createTenant("paying")
            _ = try await platform.database.withTenant("paying") { tx in
                try await tx.update("tenant_billing", set: [("stripe_subscription_id", "sub_live")], where: "1 = 1")
            }
            let refused = await failure { try await tenants.deleteTenant(.with { $0.name = "tenants/paying" }) }
            #expect(refused?.code == .failedPrecondition)
            #expect(refused?.reason == "stripe_subscription_active")
            #expect(try await tenants.getTenant(.with { $0.name = "tenants/paying" }).name == "tenants/paying")
            #expect(await failure { try await platform.createTenant("gone") }?.reason == "tenant_id_retired")
            // A refused deletion (audited too) retires nothing: a typo's id stays free.
            #expect(await failure { try await tenants.deleteTenant(.with { $0.name = "tenants/ghost" }) }?.code == .notFound)
            try await platform.createTenant("ghost")
        }
    }

    @Test("a subscription recorded while a deletion checks for one stops the deletion", arguments: TestBackend.available)
    func deletionRacingASubscription(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("signing")
            let tenants = platform.tenants(platform.ownerToken)
            // A Stripe webhook's transaction, still open when the deletion starts: the deletion
            // waits for word that the subscription is written, not for a guess at how long that takes.
            let (recording, recorded) = AsyncStream<Void>.makeStream()
            async let webhook: Void = platform.database.withTenant("signing") { tx in
                // Failing before the signal, it ends the wait rather than leaving the test hanging.
                defer { recorded.finish() }
                _ = try await tx.update("tenant_billing", set: [("stripe_subscription_id", "sub_new")], where: "1 = 1")
                recorded.yield()
                try await Task.sleep(for: .milliseconds(600))
            }
            for await _ in recording { break }
            let refused = await failure { try await tenants.deleteTenant(.with { $0.name = "tenants/signing" }) }
            try await webhook
            #expect(refused?.reason == "stripe_subscription_active", "\(String(describing: refused))")
            #expect(try await tenants.getTenant(.with { $0.name = "tenants/signing" }).name == "tenants/signing")
        }
    }

    @Test("a tenant whose plan change is talking to Stripe is not deleted under it", arguments: TestBackend.available)
    func deletionDuringAPlanChange(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("upgrading")
            let tenants = platform.tenants(platform.ownerToken)
            // What ChangePlan holds from reading the billing record until it records what Stripe did.
            try await platform.database.withTenant("upgrading") { tx in
                try await BillingRecords.takeLease(for: "change-plan/test", duration: BillingHandler.planChangeLease, tx)
            }
            let refused = await failure { try await tenants.deleteTenant(.with { $0.name = "tenants/upgrading" }) }
            #expect(refused?.code == .aborted)
            #expect(refused?.reason == "billing_change_in_progress", "\(String(describing: refused))")
            #expect(try await tenants.getTenant(.with { $0.name = "tenants/upgrading" }).name == "tenants/upgrading")
            try await platform.database.withTenant("upgrading") { tx in
                try await BillingRecords.releaseLease(heldBy: "change-plan/test", tx)
            }
            _ = try await tenants.deleteTenant(.with { $0.name = "tenants/upgrading" })
        }
    }

    @Test("a deleted tenant's numbers stop routing to it at once: the next text goes to the root tenant", arguments: TestBackend.available)
    func deletedTenantsNumbers(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("closing")
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/closing"; $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550171" }
            }, metadata: platform.metadata(platform.ownerToken))
            let inbound = InboundTests.InboundClient(client: InboundService.Client(wrapping: platform.client), metadata: platform.metadata(platform.bridgeToken))
            #expect(try await inbound.text(InboundTests.sid("SM", 1), to: "+19185550171").tenant == "tenants/closing")
            _ = try await platform.tenants(platform.ownerToken).deleteTenant(.with { $0.name = "tenants/closing" })
            #expect(try await inbound.text(InboundTests.sid("SM", 2), to: "+19185550171").tenant == "tenants/root")
        }
    }

    /// One successful call of an audited method, returning the resource its event should name.
    /// `prepare` makes what the call needs, with events of its own.
    struct Scenario {
        var method: String
        /// Where an event whose resource is not under a tenant is filed: the tenant it concerns.
        var tenant = "audited"
        var prepare: () async throws -> Void = {}
        var act: () async throws -> String
    }

    /// Covers CreateTenant, UpdateTenant, DeleteTenant, ChangePlan, SetTenantStatus,
    /// HandleStripeEvent, CreateApiKey, RevokeApiKey, CreatePhoneConfig, UpdatePhoneConfig,
    /// DeletePhoneConfig, StartImpersonation, StopImpersonation, RevokeImpersonation, the
    /// creates, updates and deletes of customers, appointments, invoices and catalog items, and
    /// the concierge's, exports' and login links' methods, in an order where each finds what it
    /// needs.
    static func successfulCalls(_ platform: TestPlatform) -> [(method: String, scenario: Scenario)] {
        let owner = platform.ownerToken
        let configs = PhoneConfigService.Client(wrapping: platform.client)
        let customers = CustomerService.Client(wrapping: platform.client)
        let appointments = AppointmentService.Client(wrapping: platform.client)
        let invoices = InvoiceService.Client(wrapping: platform.client)
        let keys = platform.apiKeys(owner)
        let sessions = platform.impersonation(owner)
        let session = LastSession()
        let link = LastLink()
        let scenarios = [
            Scenario(method: "CreateTenant") { try await platform.createTenant("audited").name },
            Scenario(method: "UpdateTenant") {
                try await platform.tenants(owner).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/audited"; $0.city = "Tulsa" }
                    $0.updateMask = .init(protoPaths: ["city"])
                }).name
            },
            Scenario(method: "DeleteTenant", prepare: { try await platform.createTenant("doomed") }) {
                _ = try await platform.tenants(owner).deleteTenant(.with { $0.name = "tenants/doomed" })
                return "tenants/doomed"
            },
            // Pro, so the partner key below is within the plan.
            Scenario(method: "ChangePlan") {
                try await platform.setPlan("audited", .pro).name
            },
            Scenario(method: "SetTenantStatus") {
                try await platform.setStatus("audited", .pastDue).name
            },
            Scenario(method: "HandleStripeEvent") {
                let payload = StripeTestEvents.invoice(
                    id: "evt_audited", type: "invoice.paid", created: Int64(Date().timeIntervalSince1970),
                    subscription: "sub_audited", customer: "cus_audited")
                try await platform.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE tenant_billing SET stripe_customer_id = 'cus_audited' WHERE tenant_id = 'audited'")
                }
                let outcome = try await platform.billing.handleStripeEvent(.with {
                    $0.payload = payload
                    $0.signature = StripeTestEvents.signatureHeader(payload: payload)
                }, metadata: platform.metadata(platform.bridgeToken))
                #expect(outcome.outcome == .applied)
                return outcome.tenant + "/billing"
            },
            Scenario(method: "CreateApiKey") {
                try await keys.createApiKey(.with { $0.parent = "tenants/audited"; $0.displayName = "site"; $0.role = .partner }).apiKey.name
            },
            Scenario(method: "RevokeApiKey") {
                let key = try await keys.listApiKeys(.with { $0.parent = "tenants/audited" }).apiKeys[0].name
                return try await keys.revokeApiKey(.with { $0.name = key }).name
            },
            Scenario(method: "CreatePhoneConfig") {
                try await configs.createPhoneConfig(.with {
                    $0.parent = "tenants/audited"; $0.phoneConfigID = "main"
                    $0.phoneConfig = .with { $0.phoneNumber = "+19185550101" }
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "UpdatePhoneConfig") {
                try await configs.updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = "tenants/audited/phoneConfigs/main"; $0.displayName = "Main" }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "DeletePhoneConfig") {
                _ = try await configs.deletePhoneConfig(.with { $0.name = "tenants/audited/phoneConfigs/main" }, metadata: platform.metadata(owner))
                return "tenants/audited/phoneConfigs/main"
            },
            Scenario(method: "StartImpersonation") {
                session.name = try await platform.impersonate("audited").session.name
                return session.name
            },
            Scenario(method: "StopImpersonation") {
                try await sessions.stop(.with { $0.name = session.name }).name
            },
            Scenario(method: "RevokeImpersonation", prepare: { session.name = try await platform.impersonate("audited").session.name }) {
                try await sessions.revoke(.with { $0.name = session.name }).name
            },
            Scenario(method: "StartExport") {
                try await ExportService.Client(wrapping: platform.client).startExport(
                    .with { $0.parent = "tenants/audited" }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "DownloadExport", prepare: { try await platform.exportWorker().runOnce() }) {
                let export = try await ExportService.Client(wrapping: platform.client).listExports(
                    .with { $0.parent = "tenants/audited" }, metadata: platform.metadata(owner)).exports[0].name
                try await ExportService.Client(wrapping: platform.client).downloadExport(
                    .with { $0.name = export }, metadata: platform.metadata(owner)) { response in
                    for try await _ in response.messages {}
                }
                return export
            },
            Scenario(method: "CreateCustomer") {
                try await customers.createCustomer(.with {
                    $0.parent = "tenants/audited"; $0.customerID = "jane"
                    $0.customer = .with { $0.displayName = "Jane Doe" }
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "UpdateCustomer") {
                try await customers.updateCustomer(.with {
                    $0.customer = .with { $0.name = "tenants/audited/customers/jane"; $0.notes = "Gate code 4711" }
                    $0.updateMask = .init(protoPaths: ["notes"])
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "CreateAppointment") {
                try await appointments.createAppointment(.with {
                    $0.parent = "tenants/audited"; $0.appointmentID = "detail"
                    $0.appointment = .with {
                        $0.customer = "tenants/audited/customers/jane"
                        $0.serviceName = "Full detail"
                        $0.startTime = .init(seconds: 1_900_000_000)
                    }
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "UpdateAppointment") {
                try await appointments.updateAppointment(.with {
                    $0.appointment = .with { $0.name = "tenants/audited/appointments/detail"; $0.status = .confirmed }
                    $0.updateMask = .init(protoPaths: ["status"])
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "CreateInvoice") {
                try await invoices.createInvoice(.with {
                    $0.parent = "tenants/audited"; $0.invoiceID = "first"
                    $0.invoice = .with {
                        $0.customer = "tenants/audited/customers/jane"
                        $0.currencyCode = "USD"
                        $0.lines = [.with { $0.label = "Full detail"; $0.quantity = 1; $0.unitPriceCents = 15_000 }]
                    }
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "UpdateInvoice") {
                try await invoices.updateInvoice(.with {
                    $0.invoice = .with { $0.name = "tenants/audited/invoices/first"; $0.status = .issued }
                    $0.updateMask = .init(protoPaths: ["status"])
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "DeleteInvoice", prepare: {
                _ = try await invoices.createInvoice(.with {
                    $0.parent = "tenants/audited"; $0.invoiceID = "draft"
                    $0.invoice = .with { $0.customer = "tenants/audited/customers/jane"; $0.currencyCode = "USD" }
                }, metadata: platform.metadata(owner))
            }) {
                _ = try await invoices.deleteInvoice(.with { $0.name = "tenants/audited/invoices/draft" }, metadata: platform.metadata(owner))
                return "tenants/audited/invoices/draft"
            },
            Scenario(method: "DeleteAppointment", prepare: {
                _ = try await appointments.createAppointment(.with {
                    $0.parent = "tenants/audited"; $0.appointmentID = "spare"
                    $0.appointment = .with { $0.customer = "tenants/audited/customers/jane"; $0.serviceName = "Wax"; $0.startTime = .init(seconds: 1_900_000_000) }
                }, metadata: platform.metadata(owner))
            }) {
                _ = try await appointments.deleteAppointment(.with { $0.name = "tenants/audited/appointments/spare" }, metadata: platform.metadata(owner))
                return "tenants/audited/appointments/spare"
            },
            Scenario(method: "DeleteCustomer", prepare: {
                _ = try await customers.createCustomer(.with {
                    $0.parent = "tenants/audited"; $0.customerID = "walk-in"; $0.customer = .with { $0.displayName = "Walk-in" }
                }, metadata: platform.metadata(owner))
            }) {
                _ = try await customers.deleteCustomer(.with { $0.name = "tenants/audited/customers/walk-in" }, metadata: platform.metadata(owner))
                return "tenants/audited/customers/walk-in"
            },
            Scenario(method: "CreateConciergeTenant", tenant: "concierged") {
                try await ConciergeService.Client(wrapping: platform.client).createConciergeTenant(.with {
                    $0.basics = .with { $0.displayName = "Concierged"; $0.slug = "concierged"; $0.contactEmail = "owner@concierged.example" }
                    $0.plan = .with { $0.tier = .pro; $0.industryPack = "industryPacks/generic" }
                    $0.telephony = .with { $0.mode = .noNumber }
                }, metadata: platform.metadata(owner)).tenant.name
            },
            Scenario(method: "ApplyIndustryPack") {
                _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                    .with { $0.name = "tenants/audited"; $0.industryPack = "industryPacks/lawn_care" }, metadata: platform.metadata(owner))
                return "tenants/audited"
            },
            Scenario(method: "CreateCatalogItem") {
                try await CatalogService.Client(wrapping: platform.client).createCatalogItem(.with {
                    $0.parent = "tenants/audited"
                    $0.catalogItem = .with { $0.faq = .with { $0.question = "Do you bag clippings?"; $0.answer = "Yes, at no charge." } }
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "UpdateCatalogItem") {
                let faq = try await CatalogService.Client(wrapping: platform.client).listCatalogItems(
                    .with { $0.parent = "tenants/audited"; $0.kind = .faq }, metadata: platform.metadata(owner)).catalogItems.last!
                return try await CatalogService.Client(wrapping: platform.client).updateCatalogItem(.with {
                    $0.catalogItem = .with { $0.name = faq.name; $0.faq = .with { $0.answer = "Yes, and we compost them." } }
                    $0.updateMask = .init(protoPaths: ["faq.answer"])
                }, metadata: platform.metadata(owner)).name
            },
            Scenario(method: "DeleteCatalogItem") {
                let faq = try await CatalogService.Client(wrapping: platform.client).listCatalogItems(
                    .with { $0.parent = "tenants/audited"; $0.kind = .faq }, metadata: platform.metadata(owner)).catalogItems.last!
                _ = try await CatalogService.Client(wrapping: platform.client).deleteCatalogItem(.with { $0.name = faq.name }, metadata: platform.metadata(owner))
                return faq.name
            },
            Scenario(method: "SendOnboarding") {
                _ = try await ConciergeService.Client(wrapping: platform.client).sendOnboarding(
                    .with { $0.name = "tenants/concierged"; $0.channels = [.email] }, metadata: platform.metadata(owner))
                return "tenants/concierged"
            },
            Scenario(method: "CreateLoginLink") {
                let created = try await LoginLinkService.Client(wrapping: platform.client).createLoginLink(
                    .with { $0.parent = "tenants/audited"; $0.role = .tenantAdmin; $0.recipient = "owner@audited.example" }, metadata: platform.metadata(owner))
                link.token = created.token
                return created.loginLink.name
            },
            Scenario(method: "RedeemLoginLink") {
                _ = try await LoginLinkService.Client(wrapping: platform.client).redeemLoginLink(.with { $0.token = link.token }, metadata: [:])
                return try await LoginLinkService.Client(wrapping: platform.client).listLoginLinks(
                    .with { $0.parent = "tenants/audited" }, metadata: platform.metadata(owner)).loginLinks[0].name
            },
            Scenario(method: "RevokeLoginLink") {
                let name = try await LoginLinkService.Client(wrapping: platform.client).listLoginLinks(
                    .with { $0.parent = "tenants/audited" }, metadata: platform.metadata(owner)).loginLinks[0].name
                return try await LoginLinkService.Client(wrapping: platform.client).revokeLoginLink(.with { $0.name = name }, metadata: platform.metadata(owner)).name
            },
        ]
        return scenarios.map { ($0.method, $0) }
    }

    /// The session one scenario starts and the next ends.
    final class LastSession {
        var name = ""
    }

    /// The login link one scenario creates and the next redeems.
    final class LastLink {
        var token = ""
    }
}

/// The audit log is append-only on PostgreSQL even for the application role, which owns the table.
@Suite("PostgreSQL audit log", .enabled(if: TestBackend.postgresURL != nil, "needs SERVICEPRO_TEST_DATABASE_URL"))
struct AuditAppendOnlyTests {
    @Test("UPDATE, DELETE and TRUNCATE on audit_events fail for the application role")
    func appendOnly() async throws {
        try await TestPlatform.with(.postgres) { platform in
            try await platform.createTenant("acme")
            let owner = try await platform.database.transaction(.platform) { tx in
                try await tx.first("SELECT tableowner = current_user AS owns FROM pg_tables WHERE tablename = 'audit_events'")?.bool("owns")
            }
            #expect(owner == true, "the application role owns the table, so only the trigger stops it")

            for statement: SQLStatement in [
                "UPDATE audit_events SET outcome = 'OK_REALLY'",
                "DELETE FROM audit_events",
                "TRUNCATE audit_events",
            ] {
                for scope in [DataScope.platform, .tenant("acme")] {
                    do {
                        try await platform.database.transaction(scope) { tx in try await tx.execute(statement) }
                        Issue.record("\(statement.sql) in \(scope) succeeded")
                    } catch {
                        #expect(String(reflecting: error).contains("audit events are append-only"), "\(String(reflecting: error))")
                    }
                }
            }
            let events = try await platform.auditEvents()
            #expect(events.map(\.resourceName) == ["tenants/acme"])
            #expect(events.first?.outcomeCode == "OK")
        }
    }
}
