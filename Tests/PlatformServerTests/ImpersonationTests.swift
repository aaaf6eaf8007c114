import Foundation
import GRPCCore
import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// "Login as tenant" end to end over gRPC, on every store (plan section 7).
@Suite("Impersonation")
struct ImpersonationTests {
    @Test("only the platform owner may start a session", arguments: TestBackend.available)
    func startRoleMatrix(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing", tier: .pro)
            let tokens = try await Self.roleTokens(platform)
            let owner = try await platform.impersonation(platform.ownerToken).whoAmI()
            for (role, token) in tokens.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let start = { try await platform.impersonation(token).start(.with { $0.tenant = "tenants/acme"; $0.reason = "ticket 1" }) }
                if role == .platformOwner {
                    let started = try await start()
                    #expect(started.token.hasPrefix("spi_"))
                    #expect(started.session.state == .active)
                    #expect(started.session.tenant == "tenants/acme")
                    #expect(started.session.tenantDisplayName == "Acme Detailing")
                    #expect(started.session.realActor == owner.principal)
                    #expect(started.session.reason == "ticket 1")
                    #expect(started.token.hasPrefix(started.session.tokenPrefix + "_"))
                } else {
                    let refused = await failure { try await start() }
                    #expect(refused?.code == .permissionDenied, "\(role): \(String(describing: refused))")
                    #expect(refused?.reason == "role_not_allowed")
                }
            }
        }
    }

    @Test("a reason is required, the TTL is 30 minutes by default and at most 60, and the tenant must exist", arguments: TestBackend.available)
    func startInput(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = platform.impersonation(platform.ownerToken)

            let noReason = await failure { try await owner.start(.with { $0.tenant = "tenants/acme" }) }
            #expect(noReason?.code == .invalidArgument)
            #expect(noReason?.fields == ["reason"])
            let blankReason = await failure { try await owner.start(.with { $0.tenant = "tenants/acme"; $0.reason = "   " }) }
            #expect(blankReason?.fields == ["reason"])
            for tooLong in [Google_Protobuf_Duration(seconds: 3601), Google_Protobuf_Duration(seconds: 0), Google_Protobuf_Duration(seconds: -60)] {
                let refused = await failure { try await platform.impersonate("acme", ttl: tooLong) }
                #expect(refused?.code == .invalidArgument, "\(tooLong)")
                #expect(refused?.fields == ["ttl"])
            }
            let missing = await failure { try await platform.impersonate("nosuch") }
            #expect(missing?.code == .notFound)

            let standard = try await platform.impersonate("acme").session
            #expect(standard.ttl.seconds == 30 * 60)
            #expect(standard.expireTime.seconds - standard.startTime.seconds == 30 * 60)
            let longest = try await platform.impersonate("acme", ttl: .init(seconds: 3600)).session
            #expect(longest.ttl.seconds == 3600)
            let sessions = try await owner.list(.init()).sessions
            #expect(sessions.map(\.name) == [longest.name, standard.name])
        }
    }

    @Test("a session's token acts as the tenant's admin and keeps the owner as the real actor", arguments: TestBackend.available)
    func sessionActsAsTenantAdmin(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            try await platform.createTenant("bravo")
            let owner = try await platform.impersonation(platform.ownerToken).whoAmI()
            #expect(!owner.hasImpersonation)
            #expect(owner.effectiveRole == .platformOwner)
            let started = try await platform.impersonate("acme")

            let me = try await platform.impersonation(started.token).whoAmI()
            #expect(me.principal == started.session.name)
            #expect(me.realActor == owner.principal)
            #expect(me.role == .platformOwner)
            #expect(me.effectiveRole == .tenantAdmin, "the session acts as the tenant's admin")
            #expect(me.effectiveTenant == "tenants/acme")
            #expect(me.impersonation.text == "You are viewing as Acme Detailing – Exit")
            #expect(me.impersonation.tenantDisplayName == "Acme Detailing")
            #expect(me.impersonation.expireTime == started.session.expireTime)
            #expect(me.impersonation.session == started.session.name)

            let tenants = platform.tenants(started.token)
            #expect(try await tenants.getTenant(.with { $0.name = "tenants/acme" }).slug == "acme")
            for other in ["tenants/bravo", "tenants/root"] {
                #expect(await failure { try await tenants.getTenant(.with { $0.name = other }) }?.code == .notFound)
            }
            let moved = try await tenants.updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Tulsa" }
                $0.updateMask = .init(protoPaths: ["city"])
            })
            #expect(moved.city == "Tulsa")
            // No plan changes while impersonating: the session acts as a tenant admin.
            let upgrade = await failure {
                try await platform.billing.changePlan(.with {
                    $0.name = "tenants/acme/billing"
                    $0.tier = .elite
                }, metadata: platform.metadata(started.token))
            }
            #expect(upgrade?.code == .permissionDenied)
            #expect(try await platform.apiKeys(started.token).listApiKeys(.with { $0.parent = "tenants/acme" }).apiKeys.isEmpty)
        }
    }

    @Test("every method the policy refuses while impersonating is PERMISSION_DENIED for a session's token", arguments: TestBackend.available)
    func restrictionsFromThePolicyTable(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let token = try await platform.impersonate("acme").token

            var refused: Set<String> = []
            for service in platform.server.services {
                for method in service.methods {
                    let policy = try #require(method.policy as MethodPolicy?)
                    let name = method.descriptor.method
                    guard !policy.unauthenticated, name != "StopImpersonation" else { continue }
                    let outcome = await failure { try await PolicyEnforcementTests.call(method.descriptor, on: platform, token: token) }
                    // A session acts as the tenant's admin; methods about the caller itself answer to the owner behind it.
                    let role: Role = policy.scope == .caller ? .platformOwner : .tenantAdmin
                    if !policy.allowedWhileImpersonating {
                        #expect(outcome?.code == .permissionDenied, "\(name): \(String(describing: outcome))")
                        #expect(outcome?.reason == "not_allowed_while_impersonating", "\(name)")
                        refused.insert(name)
                    } else {
                        // The generator refuses a policy that lets sessions in but not the role they are checked as.
                        #expect(policy.roles.contains(role), "\(name)")
                        #expect(outcome?.code != .permissionDenied && outcome?.code != .unauthenticated, "\(name): \(String(describing: outcome))")
                    }
                }
            }
            // The restrictions the issue names: keys, plan and billing, another impersonation, export download.
            #expect(refused.isSuperset(of: ["CreateApiKey", "ChangePlan", "SetTenantStatus", "StartImpersonation", "RevokeImpersonation", "DownloadExport"]))
            #expect(try await platform.impersonation(token).whoAmI().hasImpersonation, "the session is still active")
        }
    }

    @Test("an expired session's token is UNAUTHENTICATED impersonation_expired", arguments: TestBackend.available)
    func expiry(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let started = try await platform.impersonate("acme")
            try await Self.expire(started.session, on: platform)

            let expired = await failure { try await platform.tenants(started.token).getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(expired?.code == .unauthenticated)
            #expect(expired?.reason == "impersonation_expired")
            let owner = platform.impersonation(platform.ownerToken)
            #expect(try await owner.get(.with { $0.name = started.session.name }).state == .expired)
            #expect(try await owner.list(.with { $0.state = .expired }).sessions.map(\.name) == [started.session.name])
            #expect(try await owner.list(.with { $0.state = .active }).sessions.isEmpty)
            let stop = await failure { try await owner.stop(.with { $0.name = started.session.name }) }
            #expect(stop?.code == .failedPrecondition)
            #expect(stop?.reason == "impersonation_not_active")
        }
    }

    @Test("stop and revoke end a session at once; so does revoking the owner's key", arguments: TestBackend.available)
    func stopAndRevoke(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ownerName = try await platform.impersonation(platform.ownerToken).whoAmI().principal

            // The session stops itself with its own token. Its answer lost, the stop is retried
            // with the owner's key (the token no longer works), and gets the first answer.
            let first = try await platform.impersonate("acme")
            let stopped = try await platform.impersonation(first.token).stop(.with { $0.requestID = "stop-1" })
            #expect(stopped.state == .stopped)
            let retried = try await platform.impersonation(platform.ownerToken).stop(.with { $0.name = first.session.name; $0.requestID = "stop-1" })
            #expect(retried == stopped)
            #expect(stopped.endedBy == ownerName)
            #expect(stopped.hasEndTime)
            let afterStop = await failure { try await platform.impersonation(first.token).whoAmI() }
            #expect(afterStop?.code == .unauthenticated)
            #expect(afterStop?.reason == "impersonation_ended")

            // Another owner cannot stop it, only revoke it.
            let otherOwner = try await platform.token(role: .platformOwner, tenant: "root")
            let otherName = try await platform.impersonation(otherOwner).whoAmI().principal
            let second = try await platform.impersonate("acme")
            let notTheirs = await failure { try await platform.impersonation(otherOwner).stop(.with { $0.name = second.session.name }) }
            #expect(notTheirs?.code == .permissionDenied)
            #expect(notTheirs?.reason == "not_session_owner")
            let revoked = try await platform.impersonation(otherOwner).revoke(.with {
                $0.name = second.session.name
                $0.reason = "token pasted in a chat"
            })
            #expect(revoked.state == .revoked)
            #expect(revoked.endedBy == otherName)
            #expect(revoked.endReason == "token pasted in a chat")
            let afterRevoke = await failure { try await platform.tenants(second.token).getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(afterRevoke?.reason == "impersonation_ended")
            let again = await failure { try await platform.impersonation(otherOwner).revoke(.with { $0.name = second.session.name }) }
            #expect(again?.code == .failedPrecondition)
            let unknown = await failure { try await platform.impersonation(otherOwner).revoke(.with { $0.name = "impersonationSessions/nosuch" }) }
            #expect(unknown?.code == .notFound)

            // The owner stops their own session by name, with their own key.
            let third = try await platform.impersonate("acme")
            #expect(try await platform.impersonation(platform.ownerToken).stop(.with { $0.name = third.session.name }).state == .stopped)

            // A session dies with the key that started it.
            let fourth = try await platform.impersonation(otherOwner).start(.with { $0.tenant = "tenants/acme"; $0.reason = "ticket 2" })
            _ = try await platform.apiKeys(platform.ownerToken).revokeApiKey(.with { $0.name = otherName })
            let orphaned = await failure { try await platform.impersonation(fourth.token).whoAmI() }
            #expect(orphaned?.code == .unauthenticated)
            #expect(orphaned?.reason == "impersonation_ended")
            // ...and reads as revoked, by whoever revoked the key, with an event on the tenant's trail.
            let ended = try await platform.impersonation(platform.ownerToken).get(.with { $0.name = fourth.session.name })
            #expect(ended.state == .revoked)
            #expect(ended.endedBy == ownerName)
            #expect(ended.endReason == "\(otherName), which made it, was revoked")
            let trail = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/acme" }).auditEvents
            let event = try #require(trail.first { $0.resourceName == fourth.session.name && $0.method.hasSuffix("RevokeApiKey") }, "\(trail.map(\.method))")
            #expect(event.realActor == ownerName)
            #expect(event.details["reason"] == ended.endReason)
        }
    }

    @Test("a retried start returns the same session and token; the store never holds the token", arguments: TestBackend.available)
    func idempotentStartAndHashedToken(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = platform.impersonation(platform.ownerToken)
            let request = StartImpersonationRequest.with { $0.tenant = "tenants/acme"; $0.reason = "ticket 3"; $0.requestID = "retry-1" }
            let first = try await owner.start(request)
            let retried = try await owner.start(request)
            #expect(retried.session.name == first.session.name)
            #expect(retried.token == first.token)
            #expect(try await owner.list(.init()).sessions.count == 1)
            #expect(try await platform.impersonation(retried.token).whoAmI().principal == first.session.name)

            let secret = try #require(first.token.split(separator: "_").last.map(String.init))
            let stored = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT * FROM impersonation_sessions") + tx.query("SELECT * FROM idempotency_records")
            }
            #expect(!stored.isEmpty)
            #expect(!stored.contains { $0.holds(secret) })
            let hash = try await platform.database.withTenant("acme") { tx in
                try await tx.select("token_hash", from: "impersonation_sessions").first?.data("token_hash")
            }
            #expect(hash?.count == 32)
        }
    }

    @Test("sessions list newest first with filters and pages", arguments: TestBackend.available)
    func listSessions(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            try await platform.createTenant("bravo")
            let acme = try await platform.impersonate("acme").session
            let bravo = try await platform.impersonate("bravo").session
            _ = try await platform.impersonation(platform.ownerToken).stop(.with { $0.name = bravo.name })
            let owner = platform.impersonation(platform.ownerToken)

            #expect(try await owner.list(.init()).sessions.map(\.name) == [bravo.name, acme.name])
            #expect(try await owner.list(.with { $0.tenant = "tenants/acme" }).sessions.map(\.tenantDisplayName) == ["Acme Detailing"])
            #expect(try await owner.list(.with { $0.state = .stopped }).sessions.map(\.name) == [bravo.name])
            #expect(try await owner.list(.with { $0.realActor = acme.realActor }).sessions.count == 2)
            #expect(try await owner.list(.with { $0.realActor = "tenants/root/apiKeys/nobody" }).sessions.isEmpty)

            let page = try await owner.list(.with { $0.pageSize = 1 })
            #expect(page.sessions.map(\.name) == [bravo.name])
            let next = try await owner.list(.with { $0.pageSize = 1; $0.pageToken = page.nextPageToken })
            #expect(next.sessions.map(\.name) == [acme.name])
            #expect(next.nextPageToken.isEmpty)
            let replayed = await failure { try await owner.list(.with { $0.pageToken = page.nextPageToken; $0.state = .active }) }
            #expect(replayed?.fields == ["page_token"])

            #expect(try await owner.get(.with { $0.name = acme.name }) == acme)
            #expect(await failure { try await owner.get(.with { $0.name = "impersonationSessions/nosuch" }) }?.code == .notFound)
        }
    }

    /// A token per role: the owner's, staff and bridge on root, the tenant roles on acme.
    static func roleTokens(_ platform: TestPlatform) async throws -> [Role: String] {
        var tokens: [Role: String] = [.platformOwner: platform.ownerToken, .telephonyBridge: platform.bridgeToken]
        tokens[.platformStaff] = try await platform.token(role: .platformStaff, tenant: "root")
        for role in [Role.tenantAdmin, .tenantMember, .partner] {
            tokens[role] = try await platform.token(role: PolicyEnforcementTests.roles[role]!, tenant: "acme")
        }
        return tokens
    }

    /// Moves the session's expiry into the past, as if its TTL had run out.
    static func expire(_ session: ImpersonationSession, on platform: TestPlatform) async throws {
        let sessionID = try #require(ResourceName.id(of: session.name, after: "impersonationSessions"))
        let tenantID = try #require(ResourceName.tenantID(of: session.tenant))
        let changed = try await platform.database.withTenant(tenantID) { tx in
            try await tx.update("impersonation_sessions", set: [("expire_time", Date().addingTimeInterval(-1))], where: "session_id = \(sessionID)")
        }
        #expect(changed == 1)
    }
}
