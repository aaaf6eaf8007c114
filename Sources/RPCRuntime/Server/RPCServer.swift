import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// The platform's gRPC server: HTTP/2 on one address, the services given plus health and
/// reflection, every call through the pipeline (call log → authentication and policy → typed
/// stage). Failed calls of audited methods go to the audit sink, when one is given. Run it under
/// a `ServiceGroup`; graceful shutdown lets in-flight calls finish.
///
/// The same services and pipeline also answer `inProcessClient`, for a caller that runs in this
/// process (a Twilio bridge beside the platform): its calls skip HTTP/2 and the socket, nothing
/// else, so they are authenticated, policed and logged like any other.
///
/// ```swift
/// let server = try RPCServer(configuration: .init(host: "127.0.0.1", port: 50051), services: [...],
///                            descriptors: ServiceProDescriptors.fileDescriptorProtos,
///                            authenticator: keys, tenantDirectory: tenants, logger: logger)
/// try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public final class RPCServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// PEM files; plaintext when nil (the loopback default).
        public var tls: TLSFiles?

        public init(host: String = "127.0.0.1", port: Int = 50051, tls: TLSFiles? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
        }
    }

    public struct TLSFiles: Sendable {
        public var certificateChainPath: String
        public var privateKeyPath: String

        public init(certificateChainPath: String, privateKeyPath: String) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
        }
    }

    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let inProcessServer: GRPCServer<InProcessTransport.Server>
    /// A client transport whose calls this server answers without leaving the process. One
    /// `GRPCClient` runs on it, once (a transport closed by its client's shutdown stays closed);
    /// once the server has shut down its calls fail with UNAVAILABLE.
    public let inProcessClient: InProcessClientTransport
    private let health: HealthService
    private let logger: Logger

    /// Throws when a registered method has no policy, before anything listens.
    public init(
        configuration: Configuration,
        services: [any PolicedRPCService],
        descriptors: [Data],
        authenticator: any Authenticator,
        tenantDirectory: any TenantDirectory,
        auditSink: (any AuditSink)? = nil,
        logger: Logger
    ) throws {
        let serviceNames = Set(services.flatMap { service in service.methods.map { $0.descriptor.service.fullyQualifiedService } }).sorted()
        let health = HealthService(services: serviceNames)
        let reflection = try ReflectionService(
            fileDescriptorProtos: descriptors,
            services: serviceNames + [HealthService.serviceName] + ReflectionService.serviceNames)
        let policies = try PolicyTable(services: services, openMethods: HealthService.methods + ReflectionService.methods)

        let security: HTTP2ServerTransport.Posix.TransportSecurity
        if let tls = configuration.tls {
            security = .tls(
                certificateChain: [.file(path: tls.certificateChainPath, format: .pem)],
                privateKey: .file(path: tls.privateKeyPath, format: .pem))
        } else {
            security = .plaintext
        }
        // `HostPort` takes the brackets off an IPv6 host; an IPv6 address is the one with colons.
        let address: SocketAddress = configuration.host.contains(":")
            ? .ipv6(host: configuration.host, port: configuration.port)
            : .ipv4(host: configuration.host, port: configuration.port)
        let transport = HTTP2ServerTransport.Posix(address: address, transportSecurity: security)
        self.transport = transport
        self.health = health
        self.logger = logger
        let registered = services + [health, reflection] as [any RegistrableRPCService]
        let pipeline: [any ServerInterceptor] = [
            CallLogInterceptor(logger: logger),
            AuthenticationInterceptor(
                policies: policies, authenticator: authenticator, tenantDirectory: tenantDirectory, auditSink: auditSink),
        ]
        self.server = GRPCServer(transport: transport, services: registered, interceptors: pipeline)
        let inProcess = InProcessTransport()
        self.inProcessClient = InProcessClientTransport(inProcess.client)
        self.inProcessServer = GRPCServer(transport: inProcess.server, services: registered, interceptors: pipeline)
    }

    /// Serves until the task is cancelled or graceful shutdown is triggered.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await self.inProcessServer.serve()
                    } catch let error as RuntimeError where error.code == .serverIsStopped {
                        // Shutdown began before this task got to serve: nothing to serve, nothing lost.
                    }
                }
                try await self.server.serve()
                self.inProcessServer.beginGracefulShutdown()
            }
        } onGracefulShutdown: {
            self.logger.info("shutting down: finishing in-flight calls")
            self.beginGracefulShutdown()
        }
    }

    /// The bound port, once listening (useful with port 0).
    public var listeningPort: Int {
        get async throws {
            let address = try await transport.listeningAddress
            return address.ipv4?.port ?? address.ipv6?.port ?? 0
        }
    }

    /// What health checks answer while the server runs: SERVING, or NOT_SERVING while it cannot
    /// do its work (see ``HealthService/setServing(_:)``).
    public func setServing(_ serving: Bool) {
        health.setServing(serving)
    }

    public func beginGracefulShutdown() {
        health.markNotServing()
        server.beginGracefulShutdown()
        inProcessServer.beginGracefulShutdown()
    }
}
