import GRPCCore
import GRPCProtobuf
import PlatformTestSupport
import ServiceProAPI
import Testing

@Suite("Request ids in answers")
struct RequestIDEchoTests {
    @Test("every answer carries the call's request id, the caller's own or one made for it, refusals too")
    func echoed() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            /// The answer's request id: from the initial metadata of a success, the trailers of a failure.
            func requestID(token: String, sending: String? = nil) async throws -> (id: String?, failed: Bool) {
                var metadata = platform.metadata(token)
                if let sending { metadata.addString(sending, forKey: "x-request-id") }
                return try await platform.client.unary(
                    request: ClientRequest(message: WhoAmIRequest(), metadata: metadata),
                    descriptor: ImpersonationService.Method.WhoAmI.descriptor,
                    serializer: ProtobufSerializer<WhoAmIRequest>(),
                    deserializer: ProtobufDeserializer<WhoAmIResponse>(),
                    options: .defaults
                ) { response in
                    switch response.accepted {
                    case .success(let contents): (contents.metadata[stringValues: "x-request-id"].first { _ in true }, false)
                    case .failure(let error): (error.metadata[stringValues: "x-request-id"].first { _ in true }, true)
                    }
                }
            }
            #expect(try await requestID(token: platform.ownerToken, sending: "crm-sync-42") == ("crm-sync-42", false))
            let made = try await requestID(token: platform.ownerToken)
            #expect(made.id?.count == 36, "a UUID made for the call: \(String(describing: made.id))")
            #expect(try await requestID(token: "sp_not_a_key", sending: "crm-sync-43") == ("crm-sync-43", true))
        }
    }
}
