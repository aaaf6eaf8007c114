import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRPCCore
import Logging
import ServiceLifecycle
import RPCRuntime
import TwilioBridge

/// The bridge in-process on a loopback port, posting Twilio-shaped, signed forms.
public struct TestBridge: Sendable {
    /// The Twilio auth token the test bridge checks signatures with.
    public static let authToken = "test-auth-token-0123456789abcdef"

    public let port: Int
    public let spool: MessageSpool
    public var base: String { "http://127.0.0.1:\(port)" }

    /// A bridge of its own, reaching the platform at `platform` (host:port) over HTTP/2.
    /// `platformTLS` connects over TLS, trusting the system's roots, or only the certificates in
    /// `platformCAFile` when given.
    /// `platformDeadline` is how long a webhook waits for the platform before it falls back;
    /// `fallbackRouteInterval`, how often the bridge reads every line's forward number.
    public static func with<Result: Sendable>(
        platform: String, bridgeToken: String, spoolPath: String, platformTLS: Bool = false, platformCAFile: String? = nil,
        platformDeadline: Duration = .seconds(4), fallbackRouteInterval: Duration = .seconds(60), stripeWebhookSecrets: [String] = [],
        _ body: (TestBridge) async throws -> Result
    ) async throws -> Result {
        let client = try RemotePlatformClient(
            platform: platform, bridgeToken: bridgeToken, tls: platformTLS || platformCAFile != nil, caFile: platformCAFile)
        return try await with(
            platform: client, spoolPath: spoolPath, platformDeadline: platformDeadline, fallbackRouteInterval: fallbackRouteInterval,
            stripeWebhookSecrets: stripeWebhookSecrets, body)
    }

    /// A bridge reaching the platform through `platform`, e.g. a platform server's in-process transport.
    public static func with<Transport: ClientTransport, Result: Sendable>(
        platform: PlatformClient<Transport>, spoolPath: String, platformDeadline: Duration = .seconds(4),
        fallbackRouteInterval: Duration = .seconds(60), stripeWebhookSecrets: [String] = [],
        _ body: (TestBridge) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "test.bridge")
        logger.logLevel = .critical
        let configuration = BridgeConfiguration(
            host: "127.0.0.1", port: 0,
            publicURL: "https://bridge.example.com", twilioAuthToken: Self.authToken, spoolPath: spoolPath,
            fallbackNumber: "+19185557777", platformDeadline: platformDeadline, spoolRetryInterval: .milliseconds(200),
            fallbackRouteInterval: fallbackRouteInterval, stripeWebhookSecrets: stripeWebhookSecrets)
        let bridge = try await TwilioBridgeServer.start(configuration: configuration, platform: platform, logger: logger)
        return try await ListeningServices.run(logger: logger) { announce in
            [bridge.platform, bridge.drainer, bridge.fallbackRouteSync, bridge.application { port in announce(port) }]
        } _: { port in
            try await body(TestBridge(port: port, spool: bridge.spool))
        }
    }

    /// Waits until the bridge's /healthz says it reaches the platform: its first RPC then does
    /// not pay for connecting, which under a loaded test run can outlast a deadline.
    public func waitForPlatform(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let (data, _) = try? await URLSession.shared.data(from: URL(string: base + "/healthz")!),
               String(decoding: data, as: UTF8.self).contains(#""platform":"reachable""#) {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("the bridge did not reach the platform within \(timeout)")
    }

    /// POSTs a form signed for the public URL, as Twilio would: with the auth token and
    /// HMAC-SHA1, or as a SharedKey webhook naming its algorithm in `settings`
    /// (`X-Twilio-Webhooks-Signature-Settings`).
    public func post(
        _ path: String, _ parameters: [(String, String)], signed: Bool = true, token: String = TestBridge.authToken,
        algorithm: TwilioSignatureVerifier.Algorithm = .hmacSHA1, settings: String? = nil
    ) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(FormEncoding.encode(parameters).utf8)
        if signed {
            let signature = TwilioSignatureVerifier(authToken: token).signature(
                url: "https://bridge.example.com" + path, parameters: parameters, algorithm: algorithm)
            request.setValue(signature, forHTTPHeaderField: "X-Twilio-Signature")
        }
        if let settings { request.setValue(settings, forHTTPHeaderField: TwilioSignatureVerifier.settingsHeader) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

