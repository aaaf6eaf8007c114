import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Opens a gRPC client to the platform for one context and runs `body` with it.
///
/// ```swift
/// try await ClientConnection.with(server: "127.0.0.1:50051") { client in
///     try await TenantService.Client(wrapping: client).listTenants(.init(), metadata: auth)
/// }
/// ```
public enum ClientConnection {
    public typealias Client = GRPCClient<HTTP2ClientTransport.Posix>

    public struct AddressError: Error, CustomStringConvertible {
        public let server: String
        public init(server: String) { self.server = server }
        public var description: String {
            let url = server.contains("://") ? "; a URL's scheme goes: TLS is an option of its own" : ""
            return "\"\(server)\" is not host:port (e.g. 127.0.0.1:50051)\(url)"
        }
    }

    public static func with<Result: Sendable>(
        server: String,
        tls: Bool = false,
        caFile: String? = nil,
        _ body: (Client) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(transport: try transport(server: server, tls: tls, caFile: caFile)) { client in
            try await body(client)
        }
    }

    /// The HTTP/2 transport to `server` (host:port): plaintext, or TLS trusting the system's roots
    /// or only the certificates in `caFile`. A lost connection is tried again after a wait that
    /// grows to `maxReconnectDelay` (grpc-swift's default, two minutes, unless a caller that must
    /// notice a server come back sooner gives less).
    public static func transport(
        server: String, tls: Bool = false, caFile: String? = nil, maxReconnectDelay: Duration = .seconds(120)
    ) throws -> HTTP2ClientTransport.Posix {
        guard let address = HostPort(server) else { throw AddressError(server: server) }
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if tls {
            security = .tls { config in
                if let caFile { config.trustRoots = .certificates([.file(path: caFile, format: .pem)]) }
            }
        } else {
            security = .plaintext
        }
        return try HTTP2ClientTransport.Posix(
            target: .dns(host: address.host, port: address.port), transportSecurity: security,
            config: .defaults { $0.backoff.max = maxReconnectDelay })
    }

    /// `authorization: Bearer <token>` metadata.
    public static func bearer(_ token: String) -> Metadata {
        ["authorization": "Bearer \(token)"]
    }
}
