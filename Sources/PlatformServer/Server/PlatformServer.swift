import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI

/// The whole platform in one value: store, migrations, bootstrap and the gRPC server with every
/// area's service. The `platform-server` executable and the end-to-end tests both start it.
public final class PlatformServer: Service, Sendable {
    public let database: any Database
    public let rpcServer: RPCServer
    /// Every registered service, with its methods' policies.
    public let services: [any PolicedRPCService]
    /// The API keys authenticated lately, shared by authentication and what revokes keys.
    public let apiKeyCache: ApiKeyCache
    /// Which tenant an inbound text or call is for, shared by the phone config and inbound services.
    public let tenantResolver: TenantResolver
    /// Background work that runs while the server does: trial and grace expiry, export archives,
    /// purging data whose retention window ended, the outbox and, on PostgreSQL, the feeds of API
    /// key and phone config changes.
    let jobs: [any Service]
    let logger: Logger

    /// Opens the store, applies migrations, bootstraps a first start and prepares the server.
    public static func start(_ configuration: PlatformConfiguration, logger: Logger) async throws -> PlatformServer {
        // Before the store is opened: TLS files the server could not serve with, or a secrets key
        // that is malformed, stop the start with nothing written.
        if let tls = configuration.tls { try ServingCertificate.check(tls) }
        let configuredKey = try SecretSealer.configured(keyFile: configuration.secretsKeyFile)
        let database = try await openDatabase(configuration, logger: logger)
        do {
            try await Migrator.migrate(database, logger: logger)
            // Before anything is seeded: a store whose secrets another key sealed refuses to start.
            let sealer = try await SecretsKeyCheck.sealer(
                for: database, configured: configuredKey, keyFile: configuration.secretsKeyFile, logger: logger)
            if let postgres = database as? PostgresDatabase, try await postgres.bypassesRowLevelSecurity() {
                logger.critical("""
                    connected to PostgreSQL as a role that bypasses row-level security (a superuser, or BYPASSRLS): \
                    a query that forgets its tenant filter is no longer held to one tenant. Connect as a role without \
                    SUPERUSER or BYPASSRLS that owns the schema, as the README says under platform-server
                    """)
            }
            try await Bootstrap.run(database, configuration: configuration, logger: logger)
            try await Bootstrap.ensureRootPhoneConfig(database)
            // A pack that does not check out stops the start here, naming the file and the field.
            let catalog = try IndustryPackCatalog.bundled()
            return try PlatformServer(database: database, configuration: configuration, sealer: sealer, catalog: catalog, logger: logger)
        } catch {
            try? await database.close()
            throw error
        }
    }

    static func openDatabase(_ configuration: PlatformConfiguration, logger: Logger) async throws -> any Database {
        if let url = configuration.databaseURL {
            return try await PostgresDatabase.open(url: url, logger: logger)
        }
        try FileManager.default.createDirectory(at: configuration.homeURL, withIntermediateDirectories: true)
        return try await SQLiteDatabase.open(path: configuration.sqlitePath, logger: logger)
    }

    private init(database: any Database, configuration: PlatformConfiguration, sealer: SecretSealer, catalog: IndustryPackCatalog, logger: Logger) throws {
        self.database = database
        self.logger = logger
        // Only this process writes a SQLite store, so its own changes are all there is to hear of;
        // on PostgreSQL the cache waits for the feed of every replica's changes.
        let postgres = database as? PostgresDatabase
        let apiKeyCache = ApiKeyCache(enabled: postgres == nil)
        self.apiKeyCache = apiKeyCache
        let resolver = TenantResolver(database: database)
        self.tenantResolver = resolver
        self.services = Self.services(
            database: database, apiKeyCache: apiKeyCache, resolver: resolver, sealer: sealer, catalog: catalog,
            configuration: configuration, logger: logger)
        let rpcServer = try RPCServer(
            configuration: .init(host: configuration.host, port: configuration.port, tls: configuration.tls),
            services: services,
            descriptors: ServiceProDescriptors.fileDescriptorProtos,
            authenticator: PlatformAuthenticator(database: database, apiKeyCache: apiKeyCache),
            tenantDirectory: StoreTenantDirectory(database: database),
            auditSink: StoreAuditSink(database: database, logger: logger),
            logger: logger)
        self.rpcServer = rpcServer
        self.jobs = [
            BillingLifecycleJob(database: database, settings: configuration.billing, logger: logger),
            ExportWorker(database: database, settings: configuration.exports, directory: configuration.exportsDirectory, logger: logger),
            RetentionPurgeJob(database: database, apiKeys: apiKeyCache, logger: logger),
            OutboxWorker(database: database, settings: configuration.outbox, logger: logger),
            AutomationJob(database: database, interval: configuration.outbox.automationInterval, quietHours: configuration.outbox.quietHours, logger: logger),
        ] + (configuration.concierge.numbers.map {
            // Without a Twilio account nothing was bought, and releases wait for one.
            [NumberReleaseJob(database: database, provisioner: $0, logger: logger)]
        } ?? []) + (postgres.map {
            [
                ApiKeyChangeFeed.follow($0, into: apiKeyCache, logger: logger),
                PhoneConfigChangeFeed.follow($0, into: resolver, logger: logger),
            ]
        } ?? []) + [
            StoreHealthProbe(database: database, report: { rpcServer.setServing($0) }, logger: logger),
        ]
    }

    /// Every area's service.
    static func services(
        database: any Database, apiKeyCache: ApiKeyCache, resolver: TenantResolver, sealer: SecretSealer, catalog: IndustryPackCatalog,
        configuration: PlatformConfiguration, logger: Logger
    ) -> [any PolicedRPCService] {
        let concierge = configuration.concierge
        let numbers = concierge.numbers.map { $0 as any NumberProvisioner } ?? UnavailableNumberProvisioner()
        return [
            TenantService.Service(handler: TenantHandler(database: database, apiKeys: apiKeyCache, onPhoneConfigChange: { resolver.invalidate() })),
            ApiKeyService.Service(handler: ApiKeyHandler(database: database, cache: apiKeyCache, sealer: sealer)),
            ImpersonationService.Service(handler: ImpersonationHandler(database: database, sealer: sealer)),
            AuditService.Service(handler: AuditHandler(database: database)),
            PhoneConfigService.Service(handler: PhoneConfigHandler(
                database: database, sealer: sealer, provisioner: numbers, logger: logger, onChange: { resolver.invalidate() })),
            InboundService.Service(handler: InboundHandler(database: database, resolver: resolver, sealer: sealer, logger: logger)),
            CommunicationLogService.Service(handler: CommunicationLogHandler(database: database)),
            BillingService.Service(handler: BillingHandler(database: database, settings: configuration.billing)),
            ExportService.Service(handler: ExportHandler(database: database)),
            CustomerService.Service(handler: CustomerHandler(database: database)),
            CatalogService.Service(handler: CatalogHandler(database: database)),
            AppointmentService.Service(handler: AppointmentHandler(database: database)),
            InvoiceService.Service(handler: InvoiceHandler(database: database)),
            LoginLinkService.Service(handler: LoginLinkHandler(database: database, sealer: sealer, apiKeys: apiKeyCache, linkBaseURL: concierge.loginLinkBaseURL)),
            OutboxService.Service(handler: OutboxHandler(database: database)),
            IndustryPackService.Service(handler: IndustryPackHandler(catalog: catalog)),
            ConciergeService.Service(handler: ConciergeHandler(
                database: database, catalog: catalog, provisioner: numbers,
                onboarding: OnboardingSender(database: database, linkBaseURL: concierge.loginLinkBaseURL),
                faults: concierge.faults, logger: logger,
                onPhoneConfigChange: { resolver.invalidate() })),
        ]
    }

    public func run() async throws {
        logger.info("serving")
        do {
            // The jobs stop when the server does: on graceful shutdown or an error.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for job in jobs { group.addTask { try await job.run() } }
                defer { group.cancelAll() }
                try await rpcServer.run()
            }
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }
}
