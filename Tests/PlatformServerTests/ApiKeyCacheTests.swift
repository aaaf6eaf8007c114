import Foundation
import GRPCCore
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

/// Authentication remembers the keys it has seen, and revocation still takes effect on the very
/// next call: on the replica that revoked, on the others (PostgreSQL), and after changes made by
/// hand in the database.
@Suite("API key cache")
struct ApiKeyCacheTests {
    private static let principal = Principal(subject: "tenants/acme/apiKeys/k1", role: .tenantAdmin, tenantID: "acme")
    private static let entry = ApiKeyCache.Entry(principal: principal, secretHash: Data([1, 2, 3]))

    @Test("a row read before a forget is not put back after it")
    func readRacingAForget() {
        let cache = ApiKeyCache(enabled: true)
        let ticket = cache.ticket()
        cache.forget(keyID: "k1")
        cache.remember(Self.entry, keyID: "k1", readWith: ticket)
        #expect(cache.entry(keyID: "k1") == nil)

        cache.remember(Self.entry, keyID: "k1", readWith: cache.ticket())
        #expect(cache.entry(keyID: "k1")?.principal == Self.principal)
    }

    @Test("while off, nothing is kept or served; turning it on starts empty")
    func offMeansEveryCallReads() {
        let cache = ApiKeyCache(enabled: true)
        cache.remember(Self.entry, keyID: "k1", readWith: cache.ticket())
        let ticket = cache.ticket()
        cache.disable()
        #expect(cache.ticket() == nil)
        #expect(cache.entry(keyID: "k1") == nil)
        cache.remember(Self.entry, keyID: "k1", readWith: ticket)
        cache.enable()
        #expect(cache.count == 0)
        cache.remember(Self.entry, keyID: "k1", readWith: ticket)
        #expect(cache.count == 0, "a read begun before the cache was turned back on is not kept")
    }

    @Test("a key is served from the cache for maxAge at most, whatever the feed missed")
    func entriesAge() async throws {
        // Long enough that a loaded machine pausing the test between the two calls still finds
        // the entry young.
        let cache = ApiKeyCache(enabled: true, maxAge: .seconds(2))
        cache.remember(Self.entry, keyID: "k1", readWith: cache.ticket())
        #expect(cache.entry(keyID: "k1") != nil)
        try await Task.sleep(for: .milliseconds(2100))
        #expect(cache.entry(keyID: "k1") == nil, "read from the store again")
    }

    @Test("forgetting a tenant forgets its keys only; the cache stays bounded")
    func forgettingATenantAndTheBound() {
        let cache = ApiKeyCache(enabled: true)
        cache.remember(Self.entry, keyID: "k1", readWith: cache.ticket())
        let other = ApiKeyCache.Entry(principal: Principal(subject: "tenants/bravo/apiKeys/k2", role: .tenantAdmin, tenantID: "bravo"), secretHash: Data([4]))
        cache.remember(other, keyID: "k2", readWith: cache.ticket())
        cache.forget(tenantID: "acme")
        #expect(cache.entry(keyID: "k1") == nil)
        #expect(cache.entry(keyID: "k2") != nil)

        for index in 0..<(ApiKeyCache.capacity + 5) {
            cache.remember(Self.entry, keyID: "key\(index)", readWith: cache.ticket())
        }
        #expect(cache.count <= ApiKeyCache.capacity)
    }

    @Test("a cached key is refused on the next call after it is revoked or its tenant deleted", arguments: TestBackend.available)
    func revocationOnThisReplica(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.waitUntilCaching(platform)
            try await platform.createTenant("acme")
            let keys = platform.apiKeys(platform.ownerToken)
            let created = try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "front desk"; $0.role = .tenantAdmin })
            let tenants = platform.tenants(created.token)
            _ = try await tenants.getTenant(.with { $0.name = "tenants/acme" })
            #expect(platform.server.apiKeyCache.entry(keyID: Self.keyID(created.token)) != nil, "the key is served from the cache now")

            _ = try await keys.revokeApiKey(.with { $0.name = created.apiKey.name })
            let revoked = await failure { try await tenants.getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(revoked?.code == .unauthenticated)
            #expect(revoked?.reason == "token_revoked")

            let second = try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "office"; $0.role = .tenantAdmin })
            _ = try await platform.tenants(second.token).getTenant(.with { $0.name = "tenants/acme" })
            _ = try await platform.tenants(platform.ownerToken).deleteTenant(.with { $0.name = "tenants/acme" })
            let deleted = await failure { try await platform.tenants(second.token).getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(deleted?.code == .unauthenticated)

            let wrongSecret = await failure { try await platform.tenants(platform.ownerToken + "x").getTenant(.with { $0.name = "tenants/root" }) }
            #expect(wrongSecret?.code == .unauthenticated, "a cached key's id with another secret is refused")
        }
    }

    @Test("PostgreSQL: a revocation on one replica, or by hand in the database, reaches the others' caches",
          .enabled(if: TestBackend.postgresURL != nil, "replicas share a PostgreSQL database"))
    func revocationAcrossReplicas() async throws {
        try await TestPlatform.with(.postgres) { primary in
            try await primary.createTenant("acme")
            let keys = primary.apiKeys(primary.ownerToken)
            let first = try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "front desk"; $0.role = .tenantAdmin })
            let second = try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "office"; $0.role = .tenantAdmin })
            try await primary.withReplica { replica in
                try await Self.waitUntilCaching(replica)
                for token in [first.token, second.token] {
                    _ = try await replica.tenants(token).getTenant(.with { $0.name = "tenants/acme" })
                    #expect(replica.server.apiKeyCache.entry(keyID: Self.keyID(token)) != nil)
                }

                _ = try await keys.revokeApiKey(.with { $0.name = first.apiKey.name })
                try await Self.waitUntilForgotten(Self.keyID(first.token), by: replica)
                let revoked = await failure { try await replica.tenants(first.token).getTenant(.with { $0.name = "tenants/acme" }) }
                #expect(revoked?.reason == "token_revoked")

                // An operator revoking a leaked key with SQL, not through the API.
                try await primary.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE api_keys SET revoke_time = \(Date()) WHERE key_id = \(Self.keyID(second.token))")
                }
                try await Self.waitUntilForgotten(Self.keyID(second.token), by: replica)
                let byHand = await failure { try await replica.tenants(second.token).getTenant(.with { $0.name = "tenants/acme" }) }
                #expect(byHand?.reason == "token_revoked")
            }
        }
    }

    private static func keyID(_ token: String) -> String {
        String(token.split(separator: "_")[1])
    }

    /// On PostgreSQL the cache is on once the server listens for key changes, soon after start.
    private static func waitUntilCaching(_ platform: TestPlatform) async throws {
        try await poll("the API key cache to turn on") { platform.server.apiKeyCache.isEnabled }
    }

    private static func waitUntilForgotten(_ keyID: String, by platform: TestPlatform) async throws {
        try await poll("replica to forget \(keyID)") { platform.server.apiKeyCache.entry(keyID: keyID) == nil }
    }
}
