import Foundation
import GRPCCore
@testable import RPCRuntime
import Testing

@Suite("Request ids")
struct RequestIDTests {
    @Test("a new id is a lowercase version 4 UUID, and a thousand of them differ")
    func generated() {
        let ids = (0..<1000).map { _ in AuthenticationInterceptor.requestID(in: [:]) }
        for id in ids {
            let characters = Array(id)
            #expect(characters.count == 36)
            #expect([8, 13, 18, 23].allSatisfy { characters[$0] == "-" }, "\(id)")
            #expect(characters[14] == "4", "version: \(id)")
            #expect("89ab".contains(characters[19]), "variant: \(id)")
            #expect(id == id.lowercased())
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id)
        }
        #expect(Set(ids).count == ids.count)
    }

    @Test("the caller's x-request-id is kept; an empty, overlong or field-forging one is replaced")
    func given() {
        #expect(AuthenticationInterceptor.requestID(in: ["x-request-id": "sync-crm-42"]) == "sync-crm-42")
        #expect(AuthenticationInterceptor.requestID(in: ["x-request-id": "Job_7.retry-2"]) == "Job_7.retry-2")
        for forging in ["x code=OK", "x\ncode=OK", "id\"", "café"] {
            #expect(AuthenticationInterceptor.requestID(in: ["x-request-id": .string(forging)]).count == 36, "\(forging)")
        }
        #expect(AuthenticationInterceptor.requestID(in: ["x-request-id": ""]).count == 36)
        #expect(AuthenticationInterceptor.requestID(in: ["x-request-id": .string(String(repeating: "a", count: 129))]).count == 36)
    }
}
