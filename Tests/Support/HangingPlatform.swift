import GRPCCore
import GRPCInProcessTransport
import GRPCProtobuf
import ServiceProAPI
import SwiftProtobuf
import TwilioBridge

/// A platform on grpc-swift's in-process transport, as a bridge inside platform-server reaches
/// it, whose inbound and health methods take every call and never answer, for tests of the
/// bridge's deadline on that transport. (`SilentServer` is the same over a socket.)
public enum HangingPlatform {
    /// Runs `body` with a bridge client of the hanging platform; the platform stops when it returns.
    public static func with<Result: Sendable>(
        _ body: (PlatformClient<InProcessTransport.Client>) async throws -> Result
    ) async throws -> Result {
        let transport = InProcessTransport()
        let server = GRPCServer(transport: transport.server, services: [Hanging()])
        let serving = Task { try await server.serve() }
        // Handlers are not cancelled when their caller gives up; stopping the server's task is
        // what ends their wait.
        defer { serving.cancel() }
        return try await body(PlatformClient(transport: transport.client, bridgeToken: "any"))
    }

    private struct Hanging: RegistrableRPCService {
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            let methods = InboundService.Method.all.map { $0.descriptor } + [ImpersonationService.Method.WhoAmI.descriptor]
            for method in methods {
                // Any request parses as Empty (its fields are skipped as unknown); none gets an answer.
                router.registerHandler(
                    forMethod: method,
                    deserializer: ProtobufDeserializer<Google_Protobuf_Empty>(),
                    serializer: ProtobufSerializer<Google_Protobuf_Empty>()
                ) { _, _ in
                    try await Task.sleep(for: .seconds(3600))
                    return StreamingServerResponse(error: RPCError(code: .internalError, message: "unreachable"))
                }
            }
        }
    }
}
