import ArgumentParser
import Foundation
import Logging
import PlatformServer
import RPCRuntime
import ServerMetrics
import ServiceLifecycle
import ServiceProAPI
import TwilioBridge

/// `platform-server`: the ServicePro gRPC platform.
@main
struct PlatformServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "platform-server",
        abstract: "Run the ServicePro gRPC platform.",
        discussion: """
            The first start on an empty store creates the root tenant (Clean Machine), writes \
            <home>/owner.token and <home>/bridge.token, and adds an spctl context, so \
            `spctl tenants list` works right away.

            Billing reads Stripe from the environment: SERVICEPRO_STRIPE_SECRET_KEY, \
            SERVICEPRO_STRIPE_PRICE_STARTER/_PRO/_ELITE, SERVICEPRO_STRIPE_WEBHOOK_SECRETS \
            (comma-separated) and SERVICEPRO_STRIPE_API_URL. Without a key, plan changes apply \
            directly.

            Onboarding email and texts go out through SendGrid (SENDGRID_API_KEY, SERVICEPRO_MAIL_FROM) \
            and Twilio (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, SERVICEPRO_SMS_FROM); a channel without \
            credentials logs what it would send. The same Twilio account buys concierge numbers. \
            Bought numbers and sent texts point Twilio at the bridge: SERVICEPRO_TWILIO_WEBHOOK_URL \
            (e.g. https://bridge.example.com), else --twilio-public-url.

            With --twilio-listen the Twilio bridge runs in this process too: the same webhooks, \
            signature checks, spool and fallback as twilio-bridge, its RPCs through the same \
            pipeline but without a socket. Use it where platform and bridge share one box (a \
            SQLite store always does); run twilio-bridge on its own to scale or restart the two \
            apart.
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
        help: "AES key sealing secrets at rest (default <home>/secrets.key), created on the first start of an empty store; env SERVICEPRO_SECRETS_KEY (base64 of 32 bytes) overrides it. A store refuses to start without the key it was started with.")
    var secretsKeyFile: String?

    @Option(name: .customLong("exports-dir"), help: "Scratch space where export archives are built before they go into the store (default <home>/exports).")
    var exportsDirectory: String?

    @Option(name: .customLong("export-lifetime-days"), help: "Days an export archive can be downloaded before it is deleted.")
    var exportLifetimeDays = 7

    @Option(name: .customLong("grace-days"), help: "Days a past-due tenant keeps full access before it is suspended.")
    var graceDays = 7

    @Option(name: .customLong("retention-days"), help: "Days a cancelled tenant can still export; its data is purged after them. A suspended tenant keeps its data.")
    var retentionDays = 90

    @Option(name: .customLong("twilio-listen"), help: "Also serve Twilio's webhooks on host:port, from this process (see the overview above).")
    var twilioListen: String?

    @Option(name: .customLong("twilio-public-url"), help: "With --twilio-listen: the base URL Twilio calls, for signature checks; also where bought numbers and sent texts point Twilio unless SERVICEPRO_TWILIO_WEBHOOK_URL names another.")
    var twilioPublicURL: String?

    @Option(name: .customLong("twilio-spool"), help: "With --twilio-listen: SQLite file for texts and status callbacks waiting for the platform (default <home>/bridge-spool.sqlite).")
    var twilioSpool: String?

    @Option(name: .customLong("twilio-fallback-number"), help: "With --twilio-listen: E.164 number for callers of a number the bridge has not heard of, while the platform is down.")
    var twilioFallbackNumber: String?

    @Option(name: .customLong("twilio-token-file"), help: "With --twilio-listen: the bridge's bearer token (default <home>/bridge.token).")
    var twilioTokenFile: String?

    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus metrics (GET /metrics) on host:port: each RPC's count by method and code, and its latency.")
    var metricsListen: String?

    func validate() throws {
        guard exportLifetimeDays > 0, graceDays >= 0, retentionDays > 0 else {
            throw ValidationError("--export-lifetime-days and --retention-days must be positive, --grace-days not negative")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let variable = webhookURLVariable, !TwilioCallbackURLs.isCallable(variable) {
            throw ValidationError("SERVICEPRO_TWILIO_WEBHOOK_URL must be \(TwilioCallbackURLs.callableExample)")
        }
        let rpcAddress = try Self.listenAddress(listen, option: "--listen")
        let twilioAddress = try twilioListen.map { try Self.listenAddress($0, option: "--twilio-listen") }
        if let metricsListen {
            let metricsAddress = try Self.listenAddress(metricsListen, option: "--metrics-listen")
            guard ![rpcAddress, twilioAddress].compactMap({ $0 }).contains(where: metricsAddress.overlaps) else {
                throw ValidationError("--metrics-listen needs a port of its own")
            }
        }
        if let twilioAddress {
            guard !rpcAddress.overlaps(twilioAddress) else {
                throw ValidationError("--listen and --twilio-listen need ports of their own")
            }
            if let twilioPublicURL, !TwilioCallbackURLs.isCallable(twilioPublicURL) {
                throw ValidationError("--twilio-public-url must be \(TwilioCallbackURLs.callableExample)")
            }
            if let twilioFallbackNumber, !PhoneNumber.isE164(twilioFallbackNumber) {
                throw ValidationError("--twilio-fallback-number must be an E.164 phone number like +19185551234")
            }
        } else if twilioPublicURL != nil || twilioSpool != nil || twilioFallbackNumber != nil || twilioTokenFile != nil {
            throw ValidationError("the --twilio-… options configure the bridge that --twilio-listen runs: add --twilio-listen host:port")
        }
    }

    func billing() -> BillingSettings {
        var settings = BillingSettings.fromEnvironment()
        settings.gracePeriod = Double(graceDays) * 86_400
        settings.retentionWindow = Double(retentionDays) * 86_400
        return settings
    }

    /// Where Twilio reaches the bridge: SERVICEPRO_TWILIO_WEBHOOK_URL, else the in-process
    /// bridge's --twilio-public-url. Resolved here once, for everything that hands Twilio a
    /// callback: bought numbers' calls and texts, and sent texts' delivery reports.
    var twilioWebhookURL: String? { webhookURLVariable ?? twilioPublicURL }

    private var webhookURLVariable: String? {
        let variable = ProcessInfo.processInfo.environment["SERVICEPRO_TWILIO_WEBHOOK_URL"]?.trimmingCharacters(in: .whitespacesAndNewlines)
        return variable.flatMap { $0.isEmpty ? nil : $0 }
    }

    func concierge() -> ConciergeSettings {
        var settings = ConciergeSettings.fromEnvironment()
        settings.numbers?.webhookBaseURL = twilioWebhookURL
        return settings
    }

    func outbox() throws -> OutboxSettings {
        var settings = try OutboxSettings.fromEnvironment()
        settings.twilio?.webhookBaseURL = twilioWebhookURL
        return settings
    }


    static func listenAddress(_ address: String, option: String) throws -> ListenAddress {
        do {
            return try ListenAddress(address, option: option)
        } catch let error as ListenAddress.Unusable {
            throw ValidationError(error.description)
        }
    }

    /// The bridge on `address`, calling `server` in-process with the bridge's own key.
    func bridge(at address: ListenAddress, for server: PlatformServer, _ platform: PlatformConfiguration) async throws -> [any Service] {
        let token = try BridgeToken.read(
            from: twilioTokenFile ?? platform.bridgeTokenPath,
            hint: "the first start on a store writes it there; on another replica pass --twilio-token-file")
        let configuration = BridgeConfiguration(
            host: address.host,
            port: address.port,
            publicURL: twilioPublicURL,
            twilioAuthToken: ProcessInfo.processInfo.environment["TWILIO_AUTH_TOKEN"],
            spoolPath: twilioSpool ?? home + "/bridge-spool.sqlite",
            fallbackNumber: twilioFallbackNumber,
            stripeWebhookSecrets: platform.billing.webhookSecrets)
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: configuration.spoolPath).deletingLastPathComponent(), withIntermediateDirectories: true)
        let client = PlatformClient(transport: server.rpcServer.inProcessClient, bridgeToken: token)
        let bridge = try await TwilioBridgeServer.start(configuration: configuration, platform: client, logger: Logger(label: "servicepro.bridge"))
        return bridge.services
    }

    func run() async throws {
        LoggingSystem.bootstrap { StandardErrorLogHandler(label: $0) }
        var logger = Logger(label: "servicepro.platform")
        logger.logLevel = .info
        if let variable = webhookURLVariable, let twilioPublicURL, TwilioCallbackURLs(base: variable) != TwilioCallbackURLs(base: twilioPublicURL) {
            logger.warning(
                "bought numbers and sent texts point Twilio at SERVICEPRO_TWILIO_WEBHOOK_URL, while this process's bridge checks signatures against --twilio-public-url; unless a proxy maps one to the other, set them alike",
                metadata: ["SERVICEPRO_TWILIO_WEBHOOK_URL": "\(variable)", "--twilio-public-url": "\(twilioPublicURL)"])
        }
        // Before the store is touched: a start that cannot serve seeds nothing and leaves the
        // spctl contexts alone.
        let address = try ListenAddress(listen, option: "--listen")
        let bridgeAddress = try twilioListen.map { try ListenAddress($0, option: "--twilio-listen") }
        let metricsAddress = try metricsListen.map { try ListenAddress($0, option: "--metrics-listen") }
        for candidate in [address, bridgeAddress, metricsAddress].compactMap({ $0 }) { try await candidate.checkAvailable() }
        let store = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"]
        let configuration = PlatformConfiguration(
            home: home,
            host: address.host,
            port: address.port,
            databaseURL: store,
            tls: tlsCert.map { RPCServer.TLSFiles(certificateChainPath: $0, privateKeyPath: tlsKey!) },
            secretsKeyPath: secretsKeyFile,
            billing: billing(),
            exports: ExportSettings(directory: exportsDirectory, archiveLifetime: Double(exportLifetimeDays) * 86_400),
            outbox: try outbox(),
            concierge: concierge())
        let server = try await PlatformServer.start(configuration, logger: logger)
        logger.info("platform-server listening", metadata: ["address": "\(listen)", "store": "\(store == nil ? "sqlite" : "postgres")"])
        // A group stops its services in reverse: the bridge finishes before the platform it calls,
        // and metrics can be read until both have.
        var services: [any Service] = []
        if let metricsAddress {
            services.append(MetricsEndpoint.start(host: metricsAddress.host, port: metricsAddress.port, logger: logger))
            logger.info("serving metrics", metadata: ["address": "\(metricsAddress.host):\(metricsAddress.port)"])
        }
        services.append(server)
        if let bridgeAddress {
            services += try await bridge(at: bridgeAddress, for: server, configuration)
            logger.info("serving Twilio webhooks in-process", metadata: ["address": "\(bridgeAddress.host):\(bridgeAddress.port)"])
        }
        let group = ServiceGroup(configuration: .servingUntilSignalled(services, logger: logger))
        try await group.run()
    }
}
