import ArgumentParser
import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle
import ServerMetrics
import ServiceProAPI
import TwilioBridge

/// `twilio-bridge`: Twilio webhooks in, one platform RPC each, TwiML out.
@main
struct TwilioBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twilio-bridge",
        abstract: "Serve Twilio webhooks and forward them to the platform."
    )

    @Option(help: "host:port to serve HTTP on.")
    var listen: String = "127.0.0.1:8080"

    @Option(help: "host:port of platform-server.")
    var platform: String = "127.0.0.1:50051"

    @Option(name: .customLong("token-file"), help: "File with the bridge's bearer token (the default follows SERVICEPRO_HOME).")
    var tokenFile: String = (ProcessInfo.processInfo.environment["SERVICEPRO_HOME"] ?? ".servicepro") + "/bridge.token"

    @Option(name: .customLong("public-url"), help: "The base URL Twilio calls, for signature checks (e.g. https://bridge.example.com).")
    var publicURL: String?

    @Option(name: .customLong("spool"), help: "SQLite file for texts and status callbacks waiting for the platform (the default follows SERVICEPRO_HOME).")
    var spoolPath: String = (ProcessInfo.processInfo.environment["SERVICEPRO_HOME"] ?? ".servicepro") + "/bridge-spool.sqlite"

    @Option(name: .customLong("fallback-number"), help: "E.164 number for callers of a number the bridge has not heard of, while the platform is down.")
    var fallbackNumber: String?

    @Flag(name: .customLong("platform-tls"), help: "Reach platform-server over TLS (it serves TLS with --tls-cert/--tls-key).")
    var platformTLS = false

    @Option(name: .customLong("platform-ca-file"), help: "PEM certificates to trust for the platform's TLS instead of the system's; implies --platform-tls.")
    var platformCAFile: String?

    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus metrics (GET /metrics) on host:port, never the webhook port: requests, errors and durations by route.")
    var metricsListen: String?

    func run() async throws {
        LoggingSystem.bootstrap { StandardErrorLogHandler(label: $0) }
        let logger = Logger(label: "servicepro.bridge")
        let address = try ListenAddress(listen, option: "--listen")
        let metricsAddress = try metricsListen.map { try ListenAddress($0, option: "--metrics-listen") }
        if let metricsAddress, metricsAddress.overlaps(address) {
            throw ValidationError("--metrics-listen needs a port of its own")
        }
        if let publicURL, !TwilioCallbackURLs.isCallable(publicURL) {
            throw ValidationError("--public-url must be \(TwilioCallbackURLs.callableExample)")
        }
        if let fallbackNumber, !PhoneNumber.isE164(fallbackNumber) {
            throw ValidationError("--fallback-number must be an E.164 phone number like +19185551234")
        }
        try await address.checkAvailable()
        try await metricsAddress?.checkAvailable()
        let token = try BridgeToken.read(from: tokenFile, hint: "start platform-server once to create it, or pass --token-file")
        let configuration = BridgeConfiguration(
            host: address.host,
            port: address.port,
            publicURL: publicURL,
            twilioAuthToken: ProcessInfo.processInfo.environment["TWILIO_AUTH_TOKEN"],
            spoolPath: spoolPath,
            fallbackNumber: fallbackNumber,
            stripeWebhookSecrets: StripeSignature.secrets(fromList: ProcessInfo.processInfo.environment["SERVICEPRO_STRIPE_WEBHOOK_SECRETS"]))
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: spoolPath).deletingLastPathComponent(), withIntermediateDirectories: true)
        let client = try RemotePlatformClient(platform: platform, bridgeToken: token, tls: platformTLS || platformCAFile != nil, caFile: platformCAFile)
        let bridge = try await TwilioBridgeServer.start(configuration: configuration, platform: client, logger: logger)
        // Stopped in reverse: metrics can be read until the bridge has finished.
        let metrics = metricsAddress.map { [MetricsEndpoint.start(host: $0.host, port: $0.port, logger: logger) as any Service] } ?? []
        try await ServiceGroup(configuration: .servingUntilSignalled(metrics + bridge.services, logger: logger)).run()
    }
}
