import Foundation
import GRPCCore
import Hummingbird
import Logging
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI

/// The bridge: an HTTP server for Twilio's webhooks, its client to the platform, the spool
/// drainer and the reader of the lines' forward numbers, run together under one ServiceGroup.
///
/// The bridge is the same whether it runs on its own (`twilio-bridge`, reaching the platform over
/// HTTP/2) or inside platform-server (`--twilio-listen`, over the server's in-process transport);
/// only the `PlatformClient` differs.
public struct TwilioBridgeServer<Transport: ClientTransport>: Sendable {
    public let platform: PlatformClient<Transport>
    public let spool: MessageSpool
    let fallback: VoiceFallback
    /// Shared by every request, so texts that arrive together go to the platform together.
    let texts: InboundTextBatcher<Transport>
    let configuration: BridgeConfiguration
    let logger: Logger

    /// Opens the spool; the platform client connects when `services` run.
    public static func start(configuration: BridgeConfiguration, platform: PlatformClient<Transport>, logger: Logger) async throws -> Self {
        let spool = try await MessageSpool.open(path: configuration.spoolPath, logger: logger)
        if (configuration.twilioAuthToken ?? "").isEmpty {
            // A bridge for Stripe's webhooks alone needs none; one for Twilio's answers 403 to all.
            logger.warning("TWILIO_AUTH_TOKEN is not set: every Twilio webhook will be refused (403) until the bridge starts with the account's auth token")
        } else if configuration.publicURL == nil {
            // Fine on a developer's machine; in production a sender could replay a request Twilio
            // signed for another of the account's webhooks, under that webhook's Host.
            logger.warning("no public URL is set: signatures are checked against the URL the request's Host and X-Forwarded-* headers name; set --public-url (--twilio-public-url) to the URL Twilio calls")
        }
        let fallback = VoiceFallback(platformWideNumber: configuration.fallbackNumber, lastKnown: try await spool.forwardNumbers())
        let texts = InboundTextBatcher(platform: platform, deadline: configuration.platformDeadline)
        return Self(platform: platform, spool: spool, fallback: fallback, texts: texts, configuration: configuration, logger: logger)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        // Requests, errors and durations by route, for the process's metrics backend, if any.
        router.add(middleware: MetricsMiddleware())
        let platform = self.platform
        // Liveness of the bridge itself, and whether the platform is reachable with our key.
        router.get("/healthz") { _, _ -> Response in
            // "unauthorized": the platform answers but refuses the bridge's token (--token-file).
            let body = #"{"status":"ok","platform":"\#(await platform.reach().rawValue)"}"#
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        TwilioWebhooks(
            platform: platform,
            verifier: configuration.twilioAuthToken.flatMap { $0.isEmpty ? nil : TwilioSignatureVerifier(authToken: $0) },
            publicURL: configuration.publicURL,
            renderer: TwiMLRenderer(callbacks: TwilioCallbackURLs(base: configuration.publicURL)),
            spool: spool,
            fallback: fallback,
            texts: texts,
            deadline: platformDeadline,
            logger: logger,
            benchmarkStaticRoute: configuration.benchmarkStaticRoute
        ).register(on: router)
        StripeWebhook(platform: platform, deadline: platformDeadline, secrets: configuration.stripeWebhookSecrets, logger: logger).register(on: router)
        return router
    }

    /// The HTTP server; `onListening` gets the bound port (useful with port 0).
    public func application(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "servicepro-twilio-bridge"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    public var drainer: some Service {
        SpoolDrainer(platform: platform, spool: spool, interval: configuration.spoolRetryInterval, logger: logger)
    }

    /// Keeps the forward numbers callers are put through to in an outage as the platform has them.
    public var fallbackRouteSync: some Service {
        FallbackRouteSync(platform: platform, spool: spool, fallback: fallback, interval: configuration.fallbackRouteInterval, logger: logger)
    }

    private var platformDeadline: CallDeadline { CallDeadline(timeout: configuration.platformDeadline) }

    public var services: [any Service] { [platform, drainer, fallbackRouteSync, application()] }
}
