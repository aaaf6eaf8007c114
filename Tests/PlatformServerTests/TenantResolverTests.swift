import Foundation
import GRPCCore
@testable import PlatformServer
import PlatformTestSupport
import ServiceProAPI
import Synchronization
import Testing

/// How the resolver's index of phone configs stays current.
@Suite("Tenant resolver")
struct TenantResolverTests {
    @Test("lookups that find the index stale share one load of the configs")
    func oneLoadAtATime() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let store = CountingDatabase(platform.database)
            let resolver = TenantResolver(database: store, maxAge: .seconds(60))
            try await Self.resolveConcurrently(resolver, times: 32)
            #expect(store.transactions == 1)
            resolver.invalidate()
            try await Self.resolveConcurrently(resolver, times: 32)
            #expect(store.transactions == 2)
        }
    }

    @Test("a load that fails fails its lookup, and the next lookup loads again")
    func failedLoadIsRetried() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let store = CountingDatabase(platform.database, failingFirst: 1)
            let resolver = TenantResolver(database: store, maxAge: .seconds(60))
            await #expect(throws: TestSetupError.self) { try await resolver.resolve(messagingServiceSID: "", to: "+15550001111") }
            let resolution = try await resolver.resolve(messagingServiceSID: "", to: "+15550001111")
            #expect(resolution.tenantID == "root")
            #expect(store.transactions == 2)
        }
    }

    @Test("while a feed announces changes the index is kept until one is, or followedMaxAge; without it, for maxAge")
    func followingChanges() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let store = CountingDatabase(platform.database)
            // followedMaxAge is far past maxAge, with room for a loaded machine's slow steps: a
            // stall of seconds between the first two lookups still finds the index kept.
            let resolver = TenantResolver(database: store, maxAge: .milliseconds(20), followedMaxAge: .seconds(5))
            let lookUp = { _ = try await resolver.resolve(messagingServiceSID: "", to: "+15550001111") }
            resolver.followChanges(true)
            try await lookUp()
            try await Task.sleep(for: .milliseconds(60))
            resolver.followChanges(true)
            try await lookUp()
            #expect(store.transactions == 1, "kept past maxAge, and hearing the feed again changes nothing")

            resolver.invalidate()
            try await lookUp()
            #expect(store.transactions == 2)
            try await Task.sleep(for: .milliseconds(5100))
            try await lookUp()
            #expect(store.transactions == 3, "a feed whose connection died unnoticed stales the index for followedMaxAge at most")

            // Changes made while no one listened were not announced: losing the feed reloads.
            resolver.followChanges(false)
            try await lookUp()
            #expect(store.transactions == 4)
            try await Task.sleep(for: .milliseconds(60))
            try await lookUp()
            #expect(store.transactions == 5)
        }
    }

    @Test("PostgreSQL: a phone config changed on one replica, or by hand, routes on the others at once",
          .enabled(if: TestBackend.postgresURL != nil, "replicas share a PostgreSQL database"))
    func changesReachReplicas() async throws {
        try await TestPlatform.with(.postgres) { primary in
            try await primary.createTenant("acme")
            try await primary.withReplica { replica in
                try await poll("the replica to follow phone config changes", within: .seconds(5)) {
                    replica.server.tenantResolver.isFollowingChanges
                }
                let inbound = InboundService.Client(wrapping: replica.client)
                let bridge = replica.metadata(replica.bridgeToken)
                let tenantFor: @Sendable (String) async throws -> String = { number in
                    try await inbound.resolveInbound(.with { $0.to = number; $0.from = "+15550001111" }, metadata: bridge).tenant.slug
                }
                #expect(try await tenantFor("+19185550101") == "root", "unknown until configured; this also loads the replica's index")

                _ = try await PhoneConfigService.Client(wrapping: primary.client).createPhoneConfig(.with {
                    $0.parent = "tenants/acme"
                    $0.phoneConfigID = "main"
                    $0.phoneConfig = .with { $0.phoneNumber = "+19185550101" }
                }, metadata: primary.metadata(primary.ownerToken))
                // Within the resolver's 5 s reload interval, with room for a loaded machine: only
                // the feed can be this quick.
                try await poll("the replica to route the new number", within: .seconds(4)) {
                    try await tenantFor("+19185550101") == "acme"
                }

                try await primary.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE phone_configs SET phone_number = \("+19185550102") WHERE tenant_id = \("acme")")
                }
                try await poll("the replica to route a number changed by hand", within: .seconds(4)) {
                    try await tenantFor("+19185550102") == "acme"
                }
                #expect(try await tenantFor("+19185550101") == "root")
            }
        }
    }

    private static func resolveConcurrently(_ resolver: TenantResolver, times: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<times {
                group.addTask { _ = try await resolver.resolve(messagingServiceSID: "", to: "+15550001111") }
            }
            try await group.waitForAll()
        }
    }

}

/// A store that counts the transactions it is asked for, failing the first `failingFirst`; reads
/// and single statements run as transactions through the protocol's defaults, so they count too
/// (snapshots pass through uncounted).
private final class CountingDatabase: Database {
    private let base: any Database
    private let failingFirst: Int
    private let count = Mutex(0)

    init(_ base: any Database, failingFirst: Int = 0) {
        self.base = base
        self.failingFirst = failingFirst
    }

    var transactions: Int { count.withLock { $0 } }
    var dialect: SQLDialect { base.dialect }

    func transaction<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        let number = count.withLock { count in
            count += 1
            return count
        }
        if number <= failingFirst { throw TestSetupError("transaction \(number) fails, as asked") }
        return try await base.transaction(scope, body)
    }

    func snapshot<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        try await base.snapshot(scope, body)
    }

    func close() async throws {}
}
