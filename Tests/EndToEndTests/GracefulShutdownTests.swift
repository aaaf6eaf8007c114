import Foundation
import GRPCCore
import GRPCProtobuf
import PlatformTestSupport
import SwiftProtobuf
import Testing

/// Shutdown drains: health turns NOT_SERVING, open streams end cleanly, the server returns.
@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test("an in-flight health watch sees NOT_SERVING and completes when shutdown begins")
    func watchCompletes() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let watch = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: "grpc.health.v1.Health"), method: "Watch")
            // HealthCheckResponse is field 1, an enum: decode through a message with the same shape.
            // Shutdown begins only once the watch is open and has seen SERVING.
            let (opened, open) = AsyncStream.makeStream(of: Void.self)
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                group.addTask {
                    try await platform.client.serverStreaming(
                        request: ClientRequest(message: Google_Protobuf_Empty()),
                        descriptor: watch,
                        serializer: ProtobufSerializer<Google_Protobuf_Empty>(),
                        deserializer: ProtobufDeserializer<Google_Protobuf_Int32Value>(),
                        options: .defaults
                    ) { response in
                        var seen: [Int] = []
                        for try await message in response.messages {
                            seen.append(Int(message.value))
                            open.yield()
                        }
                        return seen
                    }
                }
                for await _ in opened { break }
                platform.server.rpcServer.beginGracefulShutdown()
                return try await group.next()!
            }
            // SERVING (1), then NOT_SERVING (2), then the stream ended normally.
            #expect(statuses == [1, 2])
        }
    }
}
