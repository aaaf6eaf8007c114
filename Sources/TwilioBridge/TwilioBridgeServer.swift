import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The bridge: an HTTP server for Twilio's webhooks and its client to the platform. Webhook
/// routes come with the telephony work; today it serves `/healthz`.
public struct TwilioBridgeServer: Sendable {
    public let platform: PlatformClient
    let configuration: BridgeConfiguration
    let logger: Logger

    public init(configuration: BridgeConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.platform = try PlatformClient(platform: configuration.platform, bridgeToken: configuration.bridgeToken)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let platform = self.platform
        // Liveness of the bridge itself, and whether the platform is reachable with our key.
        router.get("/healthz") { _, _ -> Response in
            let reachable = await platform.isReachable()
            let body = #"{"status":"ok","platform":"\#(reachable ? "reachable" : "unreachable")"}"#
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return router
    }

    public func application() -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "servicepro-twilio-bridge"),
            logger: logger)
    }

    public var services: [any Service] { [platform, application()] }
}
