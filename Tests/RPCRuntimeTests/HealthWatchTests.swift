import Synchronization
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
@testable import RPCRuntime
import SwiftProtobuf
import Testing

/// `grpc.health.v1.Health/Watch` streams end when their client goes, and when shutdown begins.
@Suite("Health watch")
struct HealthWatchTests {
    static let watch = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: HealthService.serviceName), method: "Watch")

    /// Serves `health` on a loopback port and runs `body` with a client of it.
    private func serving(_ health: HealthService, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void) async throws {
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        let server = GRPCServer(transport: transport, services: [health])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { server.beginGracefulShutdown() }
            let port = try await transport.listeningAddress.ipv4!.port
            try await withGRPCClient(
                transport: try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            ) { client in
                try await body(client)
            }
        }
    }

    /// Watches the whole server; `seen` gets each status (HealthCheckResponse decodes as Int32Value:
    /// one enum field, number 1).
    private func watch(
        _ client: GRPCClient<HTTP2ClientTransport.Posix>, timeout: Duration? = nil, _ seen: @escaping @Sendable (Int32) -> Void
    ) async throws {
        var options = CallOptions.defaults
        options.timeout = timeout
        try await client.serverStreaming(
            request: ClientRequest(message: Google_Protobuf_Empty()),
            descriptor: Self.watch,
            serializer: ProtobufSerializer<Google_Protobuf_Empty>(),
            deserializer: ProtobufDeserializer<Google_Protobuf_Int32Value>(),
            options: options
        ) { response in
            for try await message in response.messages { seen(message.value) }
        }
    }

    @Test("a client that goes away leaves no watch behind")
    func clientLeaves() async throws {
        let health = HealthService(services: [])
        try await serving(health) { client in
            let (opened, open) = AsyncStream.makeStream(of: Int32.self)
            let watcher = Task { try await watch(client) { open.yield($0) } }
            for await status in opened {
                #expect(status == 1, "SERVING")
                break
            }
            #expect(health.watcherCount == 1)
            watcher.cancel()
            let deadline = ContinuousClock.now + .seconds(5)
            while health.watcherCount > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(health.watcherCount == 0, "the server's side of the watch ended with the client")
        }
    }

    @Test("a watch hears the server stop and start serving; after shutdown began, it stays NOT_SERVING")
    func servingChanges() async throws {
        let health = HealthService(services: [])
        try await serving(health) { client in
            let (statuses, seen) = AsyncStream.makeStream(of: Int32.self)
            // Bounded, so a change that is never heard fails the test rather than hanging it.
            let watcher = Task {
                defer { seen.finish() }
                try await watch(client, timeout: .seconds(10)) { seen.yield($0) }
            }
            var heard = statuses.makeAsyncIterator()
            #expect(await heard.next() == 1, "SERVING")
            health.setServing(false)
            #expect(await heard.next() == 2, "NOT_SERVING")
            health.setServing(false)  // no change, nothing heard
            health.setServing(true)
            #expect(await heard.next() == 1, "SERVING again")
            health.markNotServing()
            #expect(await heard.next() == 2)
            health.setServing(true)
            #expect(await heard.next() == nil, "shutdown ended the watch, and a store coming back reopens nothing")
            let later = Mutex<[Int32]>([])
            try await watch(client, timeout: .seconds(5)) { status in later.withLock { $0.append(status) } }
            #expect(later.withLock { $0 } == [2], "still NOT_SERVING")
            watcher.cancel()
        }
    }

    @Test("a watch opened once shutdown has begun gets NOT_SERVING and ends")
    func watchAfterShutdownBegan() async throws {
        let health = HealthService(services: [])
        try await serving(health) { client in
            health.markNotServing()
            let seen = Mutex<[Int32]>([])
            // A watch left waiting would fail here after 5 s rather than hang the test.
            try await watch(client, timeout: .seconds(5)) { status in seen.withLock { $0.append(status) } }
            #expect(seen.withLock { $0 } == [2], "NOT_SERVING, then the stream ended")
            #expect(health.watcherCount == 0)
        }
    }
}
