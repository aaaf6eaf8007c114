import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// Quick login links end to end over gRPC, on every store: shown once, stored hashed, single use,
/// expiring, revocable, and redeemed without a bearer token for a session of the link's role.
@Suite("Login links")
struct LoginLinkTests {
    typealias LinkClient = LoginLinkService.Client<HTTP2ClientTransport.Posix>

    @Test("create shows the token and URL once; lists never do; the store keeps only hashes", arguments: TestBackend.available)
    func tokenShownOnceAndStoredHashed(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = try await platform.impersonation(platform.ownerToken).whoAmI().principal
            let links = Self.links(platform)
            let request = CreateLoginLinkRequest.with {
                $0.parent = "tenants/acme"
                $0.role = .tenantAdmin
                $0.recipient = "owner@acme.example"
                $0.requestID = "create-1"
            }
            let created = try await links.createLoginLink(request, metadata: platform.metadata(platform.ownerToken))
            let link = created.loginLink
            #expect(link.name.hasPrefix("tenants/acme/loginLinks/"))
            #expect(link.role == .tenantAdmin)
            #expect(link.recipient == "owner@acme.example")
            #expect(link.state == .active)
            #expect(link.creator == owner)
            #expect(link.expireTime.seconds - link.createTime.seconds == 24 * 3600)
            #expect(!link.hasRedeemTime && !link.hasRevokeTime)
            #expect(created.token.hasPrefix("spl_"))
            #expect(created.token.hasPrefix(link.tokenPrefix + "_"))
            #expect(created.url.hasSuffix("token=\(created.token)"))
            #expect(created.url.hasPrefix("https://"))

            // A retry with the same request id gets the same link and token back.
            let retried = try await links.createLoginLink(request, metadata: platform.metadata(platform.ownerToken))
            #expect(retried.loginLink.name == link.name)
            #expect(retried.token == created.token)
            #expect(retried.url == created.url)

            let secret = try #require(created.token.split(separator: "_").last.map(String.init))
            let listed = try await links.listLoginLinks(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken))
            #expect(listed.loginLinks.map(\.name) == [link.name])
            #expect(try await links.getLoginLink(.with { $0.name = link.name }, metadata: platform.metadata(platform.ownerToken)) == listed.loginLinks[0])
            let missing = await failure {
                try await links.getLoginLink(.with { $0.name = "tenants/acme/loginLinks/nosuch" }, metadata: platform.metadata(platform.ownerToken))
            }
            #expect(missing?.code == .notFound)
            #expect(listed.loginLinks.first?.tokenPrefix == link.tokenPrefix)
            let listedBytes: [UInt8] = try listed.serializedBytes()
            #expect(Data(listedBytes).range(of: Data(secret.utf8)) == nil)

            let stored = try await platform.database.transaction(.platform) { tx -> [SQLRow] in
                var rows = try await tx.query("SELECT * FROM login_links")
                rows += try await tx.query("SELECT * FROM idempotency_records")
                rows += try await tx.query("SELECT * FROM audit_events")
                return rows
            }
            #expect(stored.count >= 3)
            #expect(!stored.contains { $0.holds(secret) })
            let hash = try await platform.database.withTenant("acme") { tx in
                try await tx.select("token_hash", from: "login_links").first?.data("token_hash")
            }
            #expect(hash?.count == 32)
            #expect(hash == Tokens.hash(secret))
        }
    }

    @Test("the TTL is 24 hours by default and at most 7 days; only tenant roles; the tenant must exist", arguments: TestBackend.available)
    func createInput(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let links = Self.links(platform)
            let owner = platform.metadata(platform.ownerToken)
            for ttl in [Google_Protobuf_Duration(seconds: 7 * 86_400 + 1), Google_Protobuf_Duration(seconds: 0), Google_Protobuf_Duration(seconds: -60)] {
                let refused = await failure {
                    try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = .tenantAdmin; $0.ttl = ttl }, metadata: owner)
                }
                #expect(refused?.code == .invalidArgument, "\(ttl)")
                #expect(refused?.fields == ["ttl"])
            }
            for role in [Servicepro_Options_V1_Role.platformOwner, .platformStaff, .partner, .telephonyBridge, .unspecified] {
                let refused = await failure {
                    try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = role }, metadata: owner)
                }
                #expect(refused?.code == .invalidArgument, "\(role)")
                #expect(refused?.fields == ["role"], "\(role)")
            }
            let missing = await failure {
                try await links.createLoginLink(.with { $0.parent = "tenants/nosuch"; $0.role = .tenantAdmin }, metadata: owner)
            }
            #expect(missing?.code == .notFound)

            let week = try await links.createLoginLink(.with {
                $0.parent = "tenants/acme"
                $0.role = .tenantMember
                $0.ttl = .init(seconds: 7 * 86_400)
            }, metadata: owner).loginLink
            #expect(week.expireTime.seconds - week.createTime.seconds == 7 * 86_400)
            #expect(week.role == .tenantMember)
        }
    }

    @Test("a link redeems once, without a bearer token, for a session of its tenant and role", arguments: TestBackend.available)
    func redeemOnce(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            let created = try await Self.create(platform, tenant: "acme")
            let session = try await Self.redeem(platform, created.token)
            #expect(session.tenant == "tenants/acme")
            #expect(session.role == .tenantAdmin)
            #expect(session.token.hasPrefix("sps_"))
            #expect(session.expireTime.date > Date())
            #expect(session.expireTime.date < Date().addingTimeInterval(24 * 3600))

            let me = try await platform.impersonation(session.token).whoAmI()
            #expect(me.principal == created.loginLink.name)
            #expect(me.role == .tenantAdmin)
            #expect(me.effectiveTenant == "tenants/acme")
            #expect(try await platform.tenants(session.token).getTenant(.with { $0.name = "tenants/acme" }).displayName == "Acme Detailing")
            let root = await failure { try await platform.tenants(session.token).getTenant(.with { $0.name = "tenants/root" }) }
            #expect(root?.code == .notFound)

            let again = await failure { try await Self.redeem(platform, created.token) }
            #expect(again?.code == .unauthenticated)
            #expect(again?.reason == "login_link_used")

            let listed = try await Self.links(platform).listLoginLinks(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).loginLinks
            #expect(listed.map(\.state) == [.redeemed])
            #expect(listed.first?.hasRedeemTime == true)

            // The session's secret is not in the store either.
            let secret = try #require(session.token.split(separator: "_").last.map(String.init))
            let stored = try await platform.database.transaction(.platform) { tx -> [SQLRow] in
                var rows = try await tx.query("SELECT * FROM login_links")
                rows += try await tx.query("SELECT * FROM idempotency_records")
                return rows
            }
            #expect(!stored.contains { $0.holds(secret) })

            // A member link opens a member session.
            let member = try await Self.create(platform, tenant: "acme", role: .tenantMember)
            let memberSession = try await Self.redeem(platform, member.token)
            #expect(memberSession.role == .tenantMember)
            #expect(try await platform.impersonation(memberSession.token).whoAmI().role == .tenantMember)
        }
    }

    @Test("a retried redeem with the same request id returns the first session", arguments: TestBackend.available)
    func idempotentRedeem(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let created = try await Self.create(platform, tenant: "acme")
            let first = try await Self.redeem(platform, created.token, requestID: "redeem-1")
            let retried = try await Self.redeem(platform, created.token, requestID: "redeem-1")
            #expect(retried.token == first.token)
            #expect(retried.expireTime == first.expireTime)
            #expect(try await platform.impersonation(retried.token).whoAmI().principal == created.loginLink.name)

            let other = await failure { try await Self.redeem(platform, created.token, requestID: "redeem-2") }
            #expect(other?.reason == "login_link_used")
            // The request id alone gets nothing: the token must match too.
            let wrongSecret = created.loginLink.tokenPrefix + "_" + String(repeating: "x", count: 43)
            let guessed = await failure { try await Self.redeem(platform, wrongSecret, requestID: "redeem-1") }
            #expect(guessed?.code == .unauthenticated)
            #expect(guessed?.reason == "invalid_token")
        }
    }

    @Test("an expired link is refused with login_link_expired", arguments: TestBackend.available)
    func expiry(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let created = try await Self.create(platform, tenant: "acme")
            let fresh = try await Self.create(platform, tenant: "acme")
            try await Self.expire(created.loginLink, on: platform)

            let refused = await failure { try await Self.redeem(platform, created.token) }
            #expect(refused?.code == .unauthenticated)
            #expect(refused?.reason == "login_link_expired")

            let links = Self.links(platform)
            let owner = platform.metadata(platform.ownerToken)
            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme"; $0.state = .expired }, metadata: owner)
                .loginLinks.map(\.name) == [created.loginLink.name])
            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme"; $0.state = .active }, metadata: owner)
                .loginLinks.map(\.name) == [fresh.loginLink.name])
            // Revoking an expired link changes nothing.
            let revoked = try await links.revokeLoginLink(.with { $0.name = created.loginLink.name }, metadata: owner)
            #expect(revoked.state == .expired)
            #expect(!revoked.hasRevokeTime)
            #expect(try await Self.redeem(platform, fresh.token).tenant == "tenants/acme")
        }
    }

    @Test("a revoked link is refused with login_link_revoked; revoking is idempotent", arguments: TestBackend.available)
    func revoke(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = try await platform.impersonation(platform.ownerToken).whoAmI().principal
            let links = Self.links(platform)
            let metadata = platform.metadata(platform.ownerToken)
            let created = try await Self.create(platform, tenant: "acme")

            let revoked = try await links.revokeLoginLink(.with { $0.name = created.loginLink.name }, metadata: metadata)
            #expect(revoked.state == .revoked)
            #expect(revoked.hasRevokeTime)
            let refused = await failure { try await Self.redeem(platform, created.token) }
            #expect(refused?.code == .unauthenticated)
            #expect(refused?.reason == "login_link_revoked")

            let again = try await links.revokeLoginLink(.with { $0.name = created.loginLink.name }, metadata: metadata)
            #expect(again == revoked)
            let stored = try await platform.database.withTenant("acme") { tx in
                try await tx.select("revoked_by", from: "login_links").first?.optionalString("revoked_by")
            }
            #expect(stored == owner)

            // Revoking a used link ends the session it opened; the link stays redeemed.
            let used = try await Self.create(platform, tenant: "acme")
            let session = try await Self.redeem(platform, used.token)
            #expect(try await platform.impersonation(session.token).whoAmI().principal == used.loginLink.name)
            let afterUse = try await links.revokeLoginLink(.with { $0.name = used.loginLink.name; $0.requestID = "revoke-1" }, metadata: metadata)
            #expect(afterUse.state == .redeemed)
            #expect(afterUse.hasRevokeTime)
            let ended = await failure { try await platform.impersonation(session.token).whoAmI() }
            #expect(ended?.code == .unauthenticated)
            #expect(ended?.reason == "session_revoked")
            let secondRevoke = try await links.revokeLoginLink(.with { $0.name = used.loginLink.name }, metadata: metadata)
            #expect(secondRevoke.revokeTime == afterUse.revokeTime, "revoking again changes nothing")
            // Nor does revoking a link whose session has run out.
            let lapsed = try await Self.create(platform, tenant: "acme")
            _ = try await Self.redeem(platform, lapsed.token)
            try await platform.database.withTenant("acme") { tx in
                _ = try await tx.update("login_links", set: [("session_expire_time", Date().addingTimeInterval(-1))], where: "link_id = \(lapsed.loginLink.name.split(separator: "/").last.map(String.init)!)")
            }
            #expect(!(try await links.revokeLoginLink(.with { $0.name = lapsed.loginLink.name }, metadata: metadata).hasRevokeTime))

            let unknown = await failure { try await links.revokeLoginLink(.with { $0.name = "tenants/acme/loginLinks/nosuch" }, metadata: metadata) }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test("the keys a link's session made, and the keys those made, are revoked with the link, even after its session ended", arguments: TestBackend.available)
    func keysEndWithTheirLink(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let link = try await Self.create(platform, tenant: "acme")
            let session = try await Self.redeem(platform, link.token)
            func newKey(_ token: String, _ name: String) async throws -> CreateApiKeyResponse {
                try await platform.apiKeys(token).createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = name; $0.role = .tenantAdmin })
            }
            let made = try await newKey(session.token, "made in the session")
            #expect(made.apiKey.creator == link.loginLink.name)
            // A key made before keys recorded their creator gets it from its create's audit event.
            let madeID = try #require(ResourceName.id(of: made.apiKey.name, after: "apiKeys"))
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("UPDATE api_keys SET creator = NULL WHERE key_id = \(madeID)")
                for statement in ApiKeyRecords.creatorBackfillMigration.statements { try await tx.execute(SQLStatement(sql: statement)) }
            }
            #expect(try await platform.apiKeys(platform.ownerToken).listApiKeys(.with { $0.parent = "tenants/acme" })
                .apiKeys.first { $0.name == made.apiKey.name }?.creator == link.loginLink.name)
            let madeByMade = try await newKey(made.token, "made by that key")
            #expect(madeByMade.apiKey.creator == made.apiKey.name)
            let madeByRevoked = try await newKey(madeByMade.token, "made by a key revoked on its own")
            _ = try await platform.apiKeys(platform.ownerToken).revokeApiKey(.with { $0.name = madeByMade.apiKey.name })
            // A key that leaked is revoked with the keys it made, when asked: here a key made
            // by a key made in the session, and the key that one made.
            let leaked = try await newKey(made.token, "leaked")
            let madeByLeaked = try await newKey(leaked.token, "made by the leaked key")
            let madeByThat = try await newKey(madeByLeaked.token, "made by that one")
            _ = try await platform.apiKeys(platform.ownerToken).revokeApiKey(.with { $0.name = leaked.apiKey.name; $0.revokeKeysItMade = true })
            for token in [leaked.token, madeByLeaked.token, madeByThat.token] {
                #expect(await failure { try await platform.impersonation(token).whoAmI() }?.code == .unauthenticated)
            }
            #expect(try await platform.impersonation(made.token).whoAmI().principal == made.apiKey.name, "the key that made it works on")
            let owners = try await newKey(platform.ownerToken, "the owner's")
            #expect(owners.apiKey.creator == (try await platform.impersonation(platform.ownerToken).whoAmI().principal))

            let linkID = try #require(ResourceName.id(of: link.loginLink.name, after: "loginLinks"))
            try await platform.database.withTenant("acme") { tx in
                _ = try await tx.update("login_links", set: [("session_expire_time", Date().addingTimeInterval(-1))], where: "link_id = \(linkID)")
            }
            _ = try await Self.links(platform).revokeLoginLink(.with { $0.name = link.loginLink.name }, metadata: platform.metadata(platform.ownerToken))
            for token in [made.token, madeByMade.token, madeByRevoked.token] {
                #expect(await failure { try await platform.impersonation(token).whoAmI() }?.code == .unauthenticated)
            }
            #expect(try await platform.impersonation(owners.token).whoAmI().principal == owners.apiKey.name, "another creator's key works on")
            let trail = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/acme" }).auditEvents
            for key in [made.apiKey.name, madeByRevoked.apiKey.name] {
                #expect(trail.contains { $0.resourceName == key && $0.method.hasSuffix("RevokeLoginLink")
                    && $0.details["reason"] == "\(link.loginLink.name), whose session made it, was revoked" }, "\(key)")
            }
        }
    }

    @Test("a leaked platform key is revoked with what the keys it made made, on every tenant: their keys, their links and the links' sessions", arguments: TestBackend.available)
    func leakedPlatformKeyChain(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bolt")
            func newKey(_ token: String, on tenant: String, _ role: Servicepro_Options_V1_Role, _ name: String) async throws -> CreateApiKeyResponse {
                try await platform.apiKeys(token).createApiKey(.with { $0.parent = "tenants/\(tenant)"; $0.displayName = name; $0.role = role })
            }
            // The owner key that leaks made a staff key on the root; that staff key made a key on
            // acme (which made one of its own) and a login link on bolt, which was redeemed.
            let leaked = try await newKey(platform.ownerToken, on: "root", .platformOwner, "leaked")
            let staff = try await newKey(leaked.token, on: "root", .platformStaff, "made by the leaked key")
            let onAcme = try await newKey(staff.token, on: "acme", .tenantAdmin, "made by the staff key")
            let madeOnAcme = try await newKey(onAcme.token, on: "acme", .tenantAdmin, "made by that one")
            let link = try await Self.create(platform, tenant: "bolt", token: staff.token)
            let session = try await Self.redeem(platform, link.token)
            let bystander = try await newKey(platform.ownerToken, on: "acme", .tenantAdmin, "the owner's own")

            let revoked = try await platform.apiKeys(platform.ownerToken).revokeApiKey(.with { $0.name = leaked.apiKey.name; $0.revokeKeysItMade = true })
            #expect(revoked.hasRevokeTime)
            for token in [leaked.token, staff.token, onAcme.token, madeOnAcme.token, session.token] {
                #expect(await failure { try await platform.impersonation(token).whoAmI() }?.code == .unauthenticated)
            }
            #expect(try await platform.impersonation(bystander.token).whoAmI().principal == bystander.apiKey.name, "another maker's key works on")
            let bolt = try await Self.links(platform).listLoginLinks(.with { $0.parent = "tenants/bolt" }, metadata: platform.metadata(platform.ownerToken))
            #expect(bolt.loginLinks.first { $0.name == link.loginLink.name }?.hasRevokeTime == true, "the link reads as revoked")
            let trail = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/acme" }).auditEvents
            #expect(trail.contains { $0.resourceName == onAcme.apiKey.name && $0.method.hasSuffix("RevokeApiKey")
                && $0.details["reason"] == "\(staff.apiKey.name), which made it, was revoked with the keys it made" })
        }
    }

    @Test("a key or link whose maker is revoked while the call runs makes nothing, a maker on the tenant or a platform key on the root: the maker is read again in the create's transaction")
    func creatorRevokedMidCall() async throws {
        // SQLite: the replica's key cache still takes the maker's token, as a call already past
        // authentication would, while the store says it is revoked.
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme")
            let newKey = { (token: String) in
                try await platform.apiKeys(token).createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "k"; $0.role = .tenantAdmin })
            }
            let maker = try await newKey(platform.ownerToken)
            _ = try await newKey(maker.token)  // authenticated once: cached
            let makerID = try #require(ResourceName.id(of: maker.apiKey.name, after: "apiKeys"))
            try await platform.database.withTenant("acme") { tx in
                _ = try await tx.update("api_keys", set: [("revoke_time", Date())], where: "key_id = \(makerID)")
            }
            let refused = await failure { try await newKey(maker.token) }
            #expect(refused?.code == .unauthenticated)
            #expect(refused?.message.contains("was revoked while this call ran") == true, "\(String(describing: refused))")
            let keys = try await platform.apiKeys(platform.ownerToken).listApiKeys(.with { $0.parent = "tenants/acme" }).apiKeys
            #expect(keys.filter { $0.creator == maker.apiKey.name }.count == 1, "nothing made after the revoke")

            // A staff key on the root, making a key and a login link on acme.
            let staff = try await platform.apiKeys(platform.ownerToken).createApiKey(.with {
                $0.parent = "tenants/root"; $0.displayName = "staff"; $0.role = .platformStaff
            })
            _ = try await newKey(staff.token)
            _ = try await Self.create(platform, tenant: "acme", token: staff.token)
            let staffID = try #require(ResourceName.id(of: staff.apiKey.name, after: "apiKeys"))
            try await platform.database.withTenant("root") { tx in
                _ = try await tx.update("api_keys", set: [("revoke_time", Date())], where: "key_id = \(staffID)")
            }
            for (what, make) in [("key", { _ = try await newKey(staff.token) }), ("login link", { _ = try await Self.create(platform, tenant: "acme", token: staff.token) })] {
                let refused = await failure { try await make() }
                #expect(refused?.code == .unauthenticated, "\(what)")
                #expect(refused?.message.contains("was revoked while this call ran") == true, "\(what): \(String(describing: refused))")
            }
            let madeByStaff = try await platform.apiKeys(platform.ownerToken).listApiKeys(.with { $0.parent = "tenants/acme" }).apiKeys
            #expect(madeByStaff.filter { $0.creator == staff.apiKey.name }.count == 1, "no key made after the revoke")
            let links = try await Self.links(platform).listLoginLinks(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken))
            #expect(links.loginLinks.filter { $0.creator == staff.apiKey.name }.count == 1, "no link made after the revoke")
        }
    }

    @Test("a revoked staff key's live links and the sessions they opened end with it, on each tenant's trail", arguments: TestBackend.available)
    func linksEndWithTheirCreatorsKey(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let staffToken = try await platform.token(role: .platformStaff, tenant: "root")
            let staffKey = try await platform.impersonation(staffToken).whoAmI().principal
            let unused = try await Self.create(platform, tenant: "acme", token: staffToken)
            let used = try await Self.create(platform, tenant: "bravo", token: staffToken)
            let session = try await Self.redeem(platform, used.token)
            let others = try await Self.create(platform, tenant: "acme")
            let keyOfTheSession = try await platform.apiKeys(session.token).createApiKey(
                .with { $0.parent = "tenants/bravo"; $0.displayName = "made in the session"; $0.role = .tenantAdmin })

            _ = try await platform.apiKeys(platform.ownerToken).revokeApiKey(.with { $0.name = staffKey })
            #expect(await failure { try await platform.impersonation(keyOfTheSession.token).whoAmI() }?.code == .unauthenticated,
                    "nor does a key the session made")
            let refused = await failure { try await Self.redeem(platform, unused.token) }
            #expect(refused?.reason == "login_link_revoked")
            let ended = await failure { try await platform.impersonation(session.token).whoAmI() }
            #expect(ended?.reason == "session_revoked")
            // Another creator's link is untouched.
            #expect(try await Self.redeem(platform, others.token).tenant == "tenants/acme")
            for (tenant, link) in [("acme", unused.loginLink.name), ("bravo", used.loginLink.name)] {
                let trail = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/\(tenant)" }).auditEvents
                #expect(trail.contains { $0.resourceName == link && $0.method.hasSuffix("RevokeApiKey") && $0.details["reason"] == "\(staffKey), which made it, was revoked" },
                        "\(trail.map { ($0.method, $0.resourceName) })")
            }
        }
    }

    @Test("of five concurrent redeems of one link exactly one succeeds", arguments: TestBackend.available)
    func concurrentRedeems(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let created = try await Self.create(platform, tenant: "acme")
            let links = Self.links(platform)
            let token = created.token
            let outcomes = await withTaskGroup(of: CallFailure?.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        await failure { try await links.redeemLoginLink(.with { $0.token = token }) }
                    }
                }
                var all: [CallFailure?] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.count == 5)
            #expect(outcomes.filter { $0 == nil }.count == 1)
            let refused = outcomes.compactMap { $0 }
            #expect(refused.count == 4)
            #expect(refused.allSatisfy { $0.code == .unauthenticated && $0.reason == "login_link_used" }, "\(refused)")

            let redeems = try await platform.auditEvents(.with {
                $0.parent = "tenants/acme"
                $0.method = "/servicepro.concierge.v1.LoginLinkService/RedeemLoginLink"
            })
            #expect(redeems.filter { $0.outcomeCode == "OK" }.count == 1)
        }
    }

    @Test("an unknown token gets the same answer as a wrong one", arguments: TestBackend.available)
    func unknownTokens(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let created = try await Self.create(platform, tenant: "acme")
            let wrongSecret = created.loginLink.tokenPrefix + "_" + String(repeating: "A", count: 43)
            let candidates = [wrongSecret, "spl_nosuchlink_" + String(repeating: "A", count: 43), "not-a-token", "sp_abc_def", "spl_", "spl__x"]
            var messages: Set<String> = []
            for token in candidates {
                let refused = await failure { try await Self.redeem(platform, token) }
                #expect(refused?.code == .unauthenticated, "\(token)")
                #expect(refused?.reason == "invalid_token", "\(token)")
                #expect(refused?.metadata.isEmpty == true, "\(token)")
                if let message = refused?.message { messages.insert(message) }
            }
            #expect(messages.count == 1)
            let empty = await failure { try await Self.redeem(platform, "") }
            #expect(empty?.code == .invalidArgument)
            #expect(empty?.fields == ["token"])
            // Nobody is behind them, so none is audited: anyone could otherwise fill the append-only log.
            #expect(try await platform.auditEvents().filter { $0.method.hasSuffix("/RedeemLoginLink") }.isEmpty)
            // None of that used the link up.
            #expect(try await Self.redeem(platform, created.token).tenant == "tenants/acme")
        }
    }

    @Test("a token that matches no link is refused without waiting for the store's writer", arguments: TestBackend.available)
    func guessedTokensDoNotTakeTheWriter(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let created = try await Self.create(platform, tenant: "acme")
            let wrongSecret = created.loginLink.tokenPrefix + "_" + String(repeating: "A", count: 43)
            let took = try await platform.durationWhileWriterIsHeld {
                for token in [wrongSecret, "spl_nosuchlink_" + String(repeating: "A", count: 43)] {
                    #expect(await failure { try await Self.redeem(platform, token) }?.reason == "invalid_token")
                }
            }
            // Far under the writer's 30 s: anonymous guesses never queue for it.
            #expect(took < .seconds(15), "\(took)")
        }
    }

    @Test("another tenant's link is NOT_FOUND and never listed", arguments: TestBackend.available)
    func tenantIsolation(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("globex")
            let created = try await Self.create(platform, tenant: "acme")
            let linkID = try #require(ResourceName.id(of: created.loginLink.name, after: "loginLinks"))
            let links = Self.links(platform)
            let owner = platform.metadata(platform.ownerToken)

            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/globex" }, metadata: owner).loginLinks.isEmpty)
            let elsewhere = await failure {
                try await links.revokeLoginLink(.with { $0.name = "tenants/globex/loginLinks/\(linkID)" }, metadata: owner)
            }
            #expect(elsewhere?.code == .notFound)
            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme" }, metadata: owner).loginLinks.map(\.state) == [.active])

            // A session from acme's link sees nothing of globex.
            let session = try await Self.redeem(platform, created.token)
            let other = await failure { try await platform.tenants(session.token).getTenant(.with { $0.name = "tenants/globex" }) }
            #expect(other?.code == .notFound)
        }
    }

    @Test("only platform owner and staff manage links; not from an impersonation session or a link's session", arguments: TestBackend.available)
    func roles(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)  // partner keys need the partner API
            let staff = try await platform.token(role: .platformStaff, tenant: "root")
            let created = try await Self.create(platform, tenant: "acme", token: staff)
            #expect(created.loginLink.creator.hasPrefix("tenants/root/apiKeys/"))
            let links = Self.links(platform)
            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(staff)).loginLinks.count == 1)

            var forbidden: [String] = [platform.bridgeToken]
            for role in [Servicepro_Options_V1_Role.tenantAdmin, .tenantMember, .partner] {
                forbidden.append(try await platform.token(role: role, tenant: "acme"))
            }
            forbidden.append(try await Self.redeem(platform, try await Self.create(platform, tenant: "acme").token).token)
            for token in forbidden {
                let metadata = platform.metadata(token)
                let outcomes = [
                    await failure { try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = .tenantMember }, metadata: metadata) },
                    await failure { try await links.listLoginLinks(.with { $0.parent = "tenants/acme" }, metadata: metadata) },
                    await failure { try await links.revokeLoginLink(.with { $0.name = created.loginLink.name }, metadata: metadata) },
                ]
                for outcome in outcomes {
                    #expect(outcome?.code == .permissionDenied, "\(String(describing: outcome))")
                    #expect(outcome?.reason == "role_not_allowed")
                }
            }

            // A link is a credential: not minted from an impersonation session.
            let impersonating = platform.metadata(try await platform.impersonate("acme").token)
            let minted = await failure {
                try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = .tenantAdmin }, metadata: impersonating)
            }
            #expect(minted?.code == .permissionDenied)
            #expect(minted?.reason == "not_allowed_while_impersonating")

            #expect(try await links.revokeLoginLink(.with { $0.name = created.loginLink.name }, metadata: platform.metadata(staff)).state == .revoked)
        }
    }

    @Test("links list newest first, by state and in pages", arguments: TestBackend.available)
    func listing(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let links = Self.links(platform)
            let owner = platform.metadata(platform.ownerToken)
            var created: [String] = []
            for _ in 0..<3 {
                created.insert(try await Self.create(platform, tenant: "acme").loginLink.name, at: 0)
            }
            let names = created
            _ = try await links.revokeLoginLink(.with { $0.name = names[1] }, metadata: owner)

            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme" }, metadata: owner).loginLinks.map { $0.name } == names)
            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme"; $0.state = .revoked }, metadata: owner)
                .loginLinks.map { $0.name } == [names[1]])
            #expect(try await links.listLoginLinks(.with { $0.parent = "tenants/acme"; $0.state = .active }, metadata: owner)
                .loginLinks.map { $0.name } == [names[0], names[2]])

            let page = try await links.listLoginLinks(.with { $0.parent = "tenants/acme"; $0.pageSize = 2 }, metadata: owner)
            #expect(page.loginLinks.map { $0.name } == Array(names.prefix(2)))
            let next = try await links.listLoginLinks(.with {
                $0.parent = "tenants/acme"
                $0.pageSize = 2
                $0.pageToken = page.nextPageToken
            }, metadata: owner)
            #expect(next.loginLinks.map { $0.name } == [names[2]])
            #expect(next.nextPageToken.isEmpty)
            let replayed = await failure {
                try await links.listLoginLinks(.with {
                    $0.parent = "tenants/acme"
                    $0.state = .active
                    $0.pageToken = page.nextPageToken
                }, metadata: owner)
            }
            #expect(replayed?.fields == ["page_token"])
        }
    }

    @Test("create, revoke and redeem are audited; a refused redeem is audited under the link's tenant", arguments: TestBackend.available)
    func audited(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let owner = try await platform.impersonation(platform.ownerToken).whoAmI().principal
            let created = try await Self.create(platform, tenant: "acme", recipient: "pat@acme.example")
            _ = try await Self.redeem(platform, created.token)
            _ = await failure { try await Self.redeem(platform, created.token) }
            let revokedLink = try await Self.create(platform, tenant: "acme")
            _ = try await Self.links(platform).revokeLoginLink(
                .with { $0.name = revokedLink.loginLink.name }, metadata: platform.metadata(platform.ownerToken))

            let service = "/servicepro.concierge.v1.LoginLinkService/"
            let events = try await platform.auditEvents(.with { $0.parent = "tenants/acme" }).filter { $0.method.hasPrefix(service) }
            #expect(events.map(\.method) == [
                service + "RevokeLoginLink",
                service + "CreateLoginLink",
                service + "RedeemLoginLink",
                service + "RedeemLoginLink",
                service + "CreateLoginLink",
            ])
            let (revoke, refused, redeem, create) = (events[0], events[2], events[3], events[4])
            #expect(create.realActor == owner)
            #expect(create.resourceName == created.loginLink.name)
            #expect(create.details["role"] == "tenant_admin")
            #expect(create.details["recipient"] == "pat@acme.example")
            #expect(create.details["ttl"] == "86400s")
            #expect(redeem.outcomeCode == "OK")
            #expect(redeem.realActor == created.loginLink.name)
            #expect(redeem.actorRole == .tenantAdmin)
            #expect(redeem.resourceName == created.loginLink.name)
            #expect(refused.outcomeCode == "UNAUTHENTICATED")
            #expect(refused.outcomeReason == "login_link_used")
            #expect(refused.resourceName == created.loginLink.name)
            #expect(refused.realActor == "anonymous" && refused.actorRole == .unspecified, "a caller with no credential has no role")
            #expect(revoke.realActor == owner)
            #expect(revoke.resourceName == revokedLink.loginLink.name)
            #expect(revoke.details["changed"] == "true")
        }
    }

    @Test("a suspended tenant's link still redeems", arguments: TestBackend.available)
    func suspendedTenant(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.setStatus("acme", .suspended)
            let created = try await Self.create(platform, tenant: "acme")
            let session = try await Self.redeem(platform, created.token)
            #expect(try await platform.impersonation(session.token).whoAmI().effectiveTenant == "tenants/acme")
        }
    }

    // MARK: Helpers

    static func links(_ platform: TestPlatform) -> LinkClient { LoginLinkService.Client(wrapping: platform.client) }

    /// A new link on `tenant`, created by the owner unless another token is given.
    static func create(
        _ platform: TestPlatform,
        tenant: String,
        role: Servicepro_Options_V1_Role = .tenantAdmin,
        recipient: String = "",
        token: String? = nil
    ) async throws -> CreateLoginLinkResponse {
        try await links(platform).createLoginLink(.with {
            $0.parent = "tenants/\(tenant)"
            $0.role = role
            $0.recipient = recipient
        }, metadata: platform.metadata(token ?? platform.ownerToken))
    }

    /// Redeems a link's token the way its recipient does: with no bearer token.
    static func redeem(_ platform: TestPlatform, _ token: String, requestID: String = "") async throws -> RedeemLoginLinkResponse {
        try await links(platform).redeemLoginLink(.with {
            $0.token = token
            $0.requestID = requestID
        })
    }

    /// Moves the link's expiry into the past, as if its TTL had run out.
    static func expire(_ link: LoginLink, on platform: TestPlatform) async throws {
        let linkID = try #require(ResourceName.id(of: link.name, after: "loginLinks"))
        let tenantID = try #require(ResourceName.tenantID(of: link.name))
        let changed = try await platform.database.withTenant(tenantID) { tx in
            try await tx.update("login_links", set: [("expire_time", Date().addingTimeInterval(-1))], where: "link_id = \(linkID)")
        }
        #expect(changed == 1)
    }
}
