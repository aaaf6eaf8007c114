import ArgumentParser
import Foundation
import Logging
import PlatformServer
import RPCRuntime
import ServiceLifecycle

/// `platform-server`: the ServicePro gRPC platform.
@main
struct PlatformServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "platform-server",
        abstract: "Run the ServicePro gRPC platform.",
        discussion: """
            The first start on an empty store creates the root tenant (Clean Machine), writes
            <home>/owner.token and <home>/bridge.token, and adds an spctl context, so
            `spctl tenants list` works right away.

            Billing reads Stripe from the environment: SERVICEPRO_STRIPE_SECRET_KEY,
            SERVICEPRO_STRIPE_PRICE_STARTER/_PRO/_ELITE, SERVICEPRO_STRIPE_WEBHOOK_SECRETS
            (comma-separated) and SERVICEPRO_STRIPE_API_URL. Without a key, plan changes apply
            directly.

            Onboarding email and texts go out through SendGrid (SENDGRID_API_KEY, SERVICEPRO_MAIL_FROM)
            and Twilio (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SERVICEPRO_SMS_FROM); a channel without
            credentials logs what it would send. The same Twilio account buys concierge numbers.
            """
    )

    @Option(help: "Directory for the SQLite store, tokens and local state (env SERVICEPRO_HOME).")
    var home: String = ProcessInfo.processInfo.environment["SERVICEPRO_HOME"] ?? ".servicepro"

    @Option(help: "host:port to serve gRPC on.")
    var listen: String = "127.0.0.1:50051"

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (env DATABASE_URL); the embedded SQLite store when unset.")
    var databaseURL: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; serve TLS together with --tls-key.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(
        name: .customLong("secrets-key-file"),
        help: "AES key sealing secrets at rest, created on first start (default <home>/secrets.key); env SERVICEPRO_SECRETS_KEY (base64 of 32 bytes) overrides it.")
    var secretsKeyFile: String?

    @Option(name: .customLong("exports-dir"), help: "Where export archives are built and kept (default <home>/exports).")
    var exportsDirectory: String?

    @Option(name: .customLong("export-lifetime-days"), help: "Days an export archive can be downloaded before it is deleted.")
    var exportLifetimeDays = 7

    @Option(name: .customLong("grace-days"), help: "Days a past-due tenant keeps full access before it is suspended.")
    var graceDays = 7

    @Option(name: .customLong("retention-days"), help: "Days a suspended or cancelled tenant can still export; its data is purged after them.")
    var retentionDays = 90

    func validate() throws {
        guard exportLifetimeDays > 0, graceDays >= 0, retentionDays > 0 else {
            throw ValidationError("--export-lifetime-days and --retention-days must be positive, --grace-days not negative")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        _ = try hostAndPort()
    }

    func billing() -> BillingSettings {
        var settings = BillingSettings.fromEnvironment()
        settings.gracePeriod = Double(graceDays) * 86_400
        settings.retentionWindow = Double(retentionDays) * 86_400
        return settings
    }

    func hostAndPort() throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen must be host:port, e.g. 127.0.0.1:50051")
        }
        return (String(listen[..<colon]), port)
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "servicepro.platform")
        logger.logLevel = .info
        let (host, port) = try hostAndPort()
        let store = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"]
        let configuration = PlatformConfiguration(
            home: home,
            host: host,
            port: port,
            databaseURL: store,
            tls: tlsCert.map { RPCServer.TLSFiles(certificateChainPath: $0, privateKeyPath: tlsKey!) },
            secretsKeyPath: secretsKeyFile,
            billing: billing(),
            exports: ExportSettings(directory: exportsDirectory, archiveLifetime: Double(exportLifetimeDays) * 86_400),
            outbox: .fromEnvironment(),
            concierge: .fromEnvironment())
        let server = try await PlatformServer.start(configuration, logger: logger)
        logger.info("platform-server listening", metadata: ["address": "\(listen)", "store": "\(store == nil ? "sqlite" : "postgres")"])
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
