import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PlatformServer
import RPCRuntime
import ServiceProAPI
import GRPCProtobuf
import SwiftProtobuf

/// A real platform on a loopback port with a fresh store, for one test.
///
/// ```swift
/// try await TestPlatform.with(.sqlite) { platform in
///     let tenants = try await platform.tenants(platform.ownerToken).listTenants(.init())
/// }
/// ```
public struct TestPlatform: Sendable {
    public let backend: TestBackend
    /// The PostgreSQL database; nil for SQLite.
    public let databaseURL: String?
    public let server: PlatformServer
    public let port: Int
    public let home: URL
    public let ownerToken: String
    public let bridgeToken: String
    public let client: GRPCClient<HTTP2ClientTransport.Posix>

    public var address: String { "127.0.0.1:\(port)" }
    public var database: any Database { server.database }

    /// The server's own export worker looks once at start and then sleeps for an hour, so tests
    /// drive export workers themselves, step by step.
    public static let manualExports = ExportSettings(pollInterval: .seconds(3600))

    /// The same for the outbox: tests deliver with workers of their own, and run automations
    /// with jobs of their own.
    public static let manualOutbox = OutboxSettings(pollInterval: .seconds(3600), automationInterval: .seconds(3600))

    /// Where the platform keeps export archives.
    public var exportsDirectory: URL { home.appendingPathComponent("exports", isDirectory: true) }

    /// An export worker of this platform's store, for a test to run.
    public func exportWorker(_ name: String = "test-worker", pageSize: Int = 2_000, lease: TimeInterval = 60) -> ExportWorker {
        var logger = Logger(label: "test.export")
        logger.logLevel = .critical
        return ExportWorker(
            database: database, settings: ExportSettings(leaseDuration: lease, pageSize: pageSize),
            directory: exportsDirectory, logger: logger, worker: name)
    }

    /// How long `body` takes while a long write is in progress, as a purge's or an export's is:
    /// the write holds the store's writer (on SQLite the one every write queues for) until
    /// `body` is done, or 30 s. Work that waited for the writer takes the whole 30 s, far past
    /// any bound a test sets, however slowly a loaded machine runs it.
    public func durationWhileWriterIsHeld(_ body: () async throws -> Void) async throws -> Duration {
        let (holding, held) = AsyncStream<Void>.makeStream()
        let writer = Task {
            try await database.transaction(.platform) { _ in
                held.yield()
                try await Task.sleep(for: .seconds(30))
            }
        }
        for await _ in holding { break }
        let took = try await ContinuousClock().measure(body)
        writer.cancel()
        _ = await writer.result
        return took
    }

    public static func with<Result: Sendable>(
        _ backend: TestBackend,
        billing: BillingSettings = BillingSettings(),
        exports: ExportSettings = TestPlatform.manualExports,
        outbox: OutboxSettings = TestPlatform.manualOutbox,
        concierge: ConciergeSettings = ConciergeSettings(),
        _ body: (TestPlatform) async throws -> Result
    ) async throws -> Result {
        let store = try await backend.makeEmptyStore()
        let result: Result
        do {
            let configuration = PlatformConfiguration(
                home: "", host: "127.0.0.1", port: 0, databaseURL: store.databaseURL, spctlConfigPath: nil,
                billing: billing, exports: exports, outbox: outbox, concierge: concierge)
            result = try await serve(backend, configuration, tokens: nil, body)
        } catch {
            await store.cleanup()
            throw error
        }
        await store.cleanup()
        return result
    }

    /// A second platform server on this one's PostgreSQL database, with a home of its own, as
    /// another replica behind a load balancer would be. It shares this platform's tokens and
    /// secrets key, as a replica must.
    public func withReplica<Result: Sendable>(_ body: (TestPlatform) async throws -> Result) async throws -> Result {
        guard let databaseURL else { throw TestSetupError("replicas share a PostgreSQL database; SQLite has one server") }
        let configuration = PlatformConfiguration(
            home: "", host: "127.0.0.1", port: 0, databaseURL: databaseURL, spctlConfigPath: nil,
            secretsKeyPath: home.appendingPathComponent("secrets.key").path)
        return try await Self.serve(backend, configuration, tokens: (ownerToken, bridgeToken), body)
    }

    /// Starts a server in a new home with `configuration`, runs `body` against it, and stops it.
    /// Tokens are read from the home the first start wrote them to, unless given.
    private static func serve<Result: Sendable>(
        _ backend: TestBackend,
        _ configuration: PlatformConfiguration,
        tokens: (owner: String, bridge: String)?,
        _ body: (TestPlatform) async throws -> Result
    ) async throws -> Result {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("servicepro-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var logger = Logger(label: "test.platform")
        logger.logLevel = ProcessInfo.processInfo.environment["SERVICEPRO_TEST_LOG"] == nil ? .critical : .debug
        var configuration = configuration
        configuration.home = home.path
        let server = try await PlatformServer.start(configuration, logger: logger)
        func token(_ file: String) throws -> String {
            try String(contentsOf: home.appendingPathComponent(file), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let result: Result
        do {
            result = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                defer {
                    server.rpcServer.beginGracefulShutdown()
                }
                let port = try await server.rpcServer.listeningPort
                let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
                return try await withGRPCClient(transport: transport) { client in
                    // One call before the test's own: the client is running and the server serving.
                    _ = try await client.unary(
                        request: ClientRequest(message: Google_Protobuf_Empty()),
                        descriptor: MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: "grpc.health.v1.Health"), method: "Check"),
                        serializer: ProtobufSerializer<Google_Protobuf_Empty>(),
                        deserializer: ProtobufDeserializer<Google_Protobuf_Empty>(),
                        options: .defaults) { try $0.message }
                    let platform = TestPlatform(
                        backend: backend, databaseURL: configuration.databaseURL, server: server, port: port, home: home,
                        ownerToken: try tokens?.owner ?? token("owner.token"),
                        bridgeToken: try tokens?.bridge ?? token("bridge.token"),
                        client: client)
                    return try await body(platform)
                }
            }
        } catch {
            try? await server.database.close()
            throw error
        }
        // Closing twice is harmless; it guarantees the store is closed however the server ended.
        try? await server.database.close()
        return result
    }

    public func metadata(_ token: String) -> Metadata { ClientConnection.bearer(token) }

    public func tenants(_ token: String) -> AuthenticatedTenants { AuthenticatedTenants(client: TenantService.Client(wrapping: client), metadata: metadata(token)) }

    public func apiKeys(_ token: String) -> AuthenticatedApiKeys { AuthenticatedApiKeys(client: ApiKeyService.Client(wrapping: client), metadata: metadata(token)) }

    /// Creates a tenant as the owner and returns it. Partner keys need `tier: .pro` or above.
    @discardableResult
    public func createTenant(_ id: String, displayName: String? = nil, industry: String = "lawn_care", tier: PlanTier = .starter) async throws -> Tenant {
        try await tenants(ownerToken).createTenant(.with {
            $0.tenantID = id
            $0.tenant = .with {
                $0.displayName = displayName ?? id.capitalized
                $0.industry = industry
                $0.planTier = tier
            }
        })
    }

    public var billing: BillingService.Client<HTTP2ClientTransport.Posix> { BillingService.Client(wrapping: client) }

    /// Moves `tenant` to `tier` as the owner; without Stripe configured the change applies directly.
    @discardableResult
    public func setPlan(_ tenant: String, _ tier: PlanTier) async throws -> TenantBilling {
        try await billing.changePlan(.with {
            $0.name = "tenants/\(tenant)/billing"
            $0.tier = tier
        }, metadata: metadata(ownerToken)).billing
    }

    /// Moves `tenant` to `status` as the owner, along a valid transition.
    @discardableResult
    public func setStatus(_ tenant: String, _ status: TenantStatus, reason: String = "set by a test") async throws -> TenantBilling {
        try await billing.setTenantStatus(.with {
            $0.name = "tenants/\(tenant)/billing"
            $0.status = status
            $0.reason = reason
        }, metadata: metadata(ownerToken))
    }

    /// A new API key's token for `role` on `tenant`, created by the owner.
    public func token(role: Servicepro_Options_V1_Role, tenant: String) async throws -> String {
        try await apiKeys(ownerToken).createApiKey(.with {
            $0.parent = "tenants/\(tenant)"
            $0.displayName = "\(role) for tests"
            $0.role = role
        }).token
    }
}

/// A tenant client with one caller's credentials attached to every call.
public struct AuthenticatedTenants: Sendable {
    let client: TenantService.Client<HTTP2ClientTransport.Posix>
    let metadata: Metadata

    public func getTenant(_ request: GetTenantRequest) async throws -> Tenant { try await client.getTenant(request, metadata: metadata) }
    public func listTenants(_ request: ListTenantsRequest) async throws -> ListTenantsResponse { try await client.listTenants(request, metadata: metadata) }
    public func createTenant(_ request: CreateTenantRequest) async throws -> Tenant { try await client.createTenant(request, metadata: metadata) }
    public func updateTenant(_ request: UpdateTenantRequest) async throws -> Tenant { try await client.updateTenant(request, metadata: metadata) }
    public func deleteTenant(_ request: DeleteTenantRequest) async throws -> DeleteTenantResponse { try await client.deleteTenant(request, metadata: metadata) }
}

public struct AuthenticatedApiKeys: Sendable {
    let client: ApiKeyService.Client<HTTP2ClientTransport.Posix>
    let metadata: Metadata

    public func createApiKey(_ request: CreateApiKeyRequest) async throws -> CreateApiKeyResponse { try await client.createApiKey(request, metadata: metadata) }
    public func listApiKeys(_ request: ListApiKeysRequest) async throws -> ListApiKeysResponse { try await client.listApiKeys(request, metadata: metadata) }
    public func getApiKey(_ request: GetApiKeyRequest) async throws -> ApiKey { try await client.getApiKey(request, metadata: metadata) }
    public func revokeApiKey(_ request: RevokeApiKeyRequest) async throws -> ApiKey { try await client.revokeApiKey(request, metadata: metadata) }
}
