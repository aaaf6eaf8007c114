import GRPCCore
import GRPCNIOTransportHTTP2
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI

/// The bridge's one long-lived connection to the platform, authenticated with the bridge key.
/// It runs as a service beside the HTTP server and shuts down with it.
///
/// A bridge of its own reaches the platform over HTTP/2 (`RemotePlatformClient`); a bridge run
/// inside platform-server uses the server's in-process transport, the same RPCs without a socket.
public struct PlatformClient<Transport: ClientTransport>: Service {
    public let grpc: GRPCClient<Transport>
    /// The bridge key, on every call.
    public let metadata: Metadata

    public init(transport: Transport, bridgeToken: String) {
        self.grpc = GRPCClient(transport: transport)
        self.metadata = ClientConnection.bearer(bridgeToken)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await grpc.runConnections()
        } onGracefulShutdown: {
            grpc.beginGracefulShutdown()
        }
    }

    /// What the bridge's health check says of the platform.
    public enum Reach: String, Sendable {
        /// It answers, and takes the bridge's key as the bridge's.
        case reachable
        /// It answers, and refuses the key (or knows it as something else than the bridge's).
        case unauthorized
        /// It does not answer within the time allowed.
        case unreachable
    }

    /// Whether the platform answers and accepts the bridge key, within `timeout`.
    public func reach(timeout: Duration = .seconds(2)) async -> Reach {
        let grpc = self.grpc, metadata = self.metadata
        do {
            let me = try await CallDeadline(timeout: timeout).run {
                try await ImpersonationService.Client(wrapping: grpc).whoAmI(WhoAmIRequest(), metadata: metadata)
            }
            return me.role == .telephonyBridge ? .reachable : .unauthorized
        } catch let error as RPCError where error.refusesBridge {
            return .unauthorized
        } catch {
            return .unreachable
        }
    }
}

public typealias RemotePlatformClient = PlatformClient<HTTP2ClientTransport.Posix>

extension PlatformClient where Transport == HTTP2ClientTransport.Posix {
    /// `platform` is host:port; `tls` connects with TLS, trusting the system's roots or only the
    /// certificates in `caFile`. A platform that went away is tried again every few seconds (3 s
    /// at most, give or take a fifth): while it is away callers hear the fallback and texts wait
    /// in the spool.
    public init(platform: String, bridgeToken: String, tls: Bool = false, caFile: String? = nil) throws {
        let transport = try ClientConnection.transport(server: platform, tls: tls, caFile: caFile, maxReconnectDelay: .seconds(3))
        self.init(transport: transport, bridgeToken: bridgeToken)
    }
}
