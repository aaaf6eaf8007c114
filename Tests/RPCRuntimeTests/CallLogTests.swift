import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import PlatformTestSupport
@testable import RPCRuntime
import SwiftProtobuf
import Testing

/// The call log's one line per call: an internal error's detail reaches the operator's log,
/// and only there.
@Suite("Call log")
struct CallLogTests {
    static let method = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: "test.Failing"), method: "Fail")

    @Test("a logged value cannot start a line of its own: control characters are escaped")
    func oneEventOneLine() {
        #expect("plain value, ünïcode ✓".escapedToOneLine == "plain value, ünïcode ✓")
        #expect("duplicate key\n2026-11-28T10:00:00+0000 info forged: [x] rpc".escapedToOneLine
            == #"duplicate key\n2026-11-28T10:00:00+0000 info forged: [x] rpc"#)
        #expect("a\tb\r\u{1B}[31m\u{7F}".escapedToOneLine == #"a\tb\r\u{1B}[31m\u{7F}"#)
        #expect("a\u{85}b\u{2028}c\u{2029}d — ü".escapedToOneLine == #"a\u{85}b\u{2028}c\u{2029}d — ü"#, "C1 controls and Unicode line separators too")
    }

    @Test("an internal error is logged at error with its detail; the client gets none of it")
    func internalErrorDetail() async throws {
        let capture = LogCapture()
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
        // As in the platform's pipeline, an interceptor sits inside the call log: what reaches
        // the call log is then grpc-swift's RPCError, with the handler's error as its cause.
        let server = GRPCServer(transport: transport, services: [Failing()], interceptors: [CallLogInterceptor(logger: capture.logger), PassThrough()])
        let error = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { server.beginGracefulShutdown() }
            let port = try await transport.listeningAddress.ipv4!.port
            return try await withGRPCClient(
                transport: try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
            ) { client in
                await #expect(throws: RPCError.self) {
                    try await client.unary(
                        request: ClientRequest(message: Google_Protobuf_Empty()), descriptor: Self.method,
                        serializer: ProtobufSerializer<Google_Protobuf_Empty>(), deserializer: ProtobufDeserializer<Google_Protobuf_Empty>(),
                        options: .defaults
                    ) { try $0.message }
                }
            }
        }
        #expect(error?.code == .internalError)
        #expect(error?.message == "internal error")
        let status = try #require(try error?.unpackGoogleRPCStatus())
        #expect(status.details.compactMap(\.errorInfo).first?.metadata.isEmpty == true, "nothing of the detail reaches the client")
        let logged = capture.lines
        #expect(logged.count == 1)
        #expect(logged.first?.level == .error)
        #expect(logged.first?.metadata["detail"] == "ledger row 42 has no amount")
        #expect(logged.first?.metadata["code"] == "internalError")
    }

    private struct Failing: RegistrableRPCService {
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            router.registerHandler(
                forMethod: CallLogTests.method,
                deserializer: ProtobufDeserializer<Google_Protobuf_Empty>(),
                serializer: ProtobufSerializer<Google_Protobuf_Empty>()
            ) { _, _ in
                throw ServiceError.internal("ledger row 42 has no amount")
            }
        }
    }
}

private struct PassThrough: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        try await next(request, context)
    }
}
