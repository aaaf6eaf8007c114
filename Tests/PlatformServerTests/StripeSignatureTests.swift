import Foundation
import PlatformTestSupport
import Testing

import RPCRuntime

/// The Stripe-Signature check against vectors Stripe's own Python library makes at test time:
/// it must accept exactly what the library's `verify_header` accepts.
@Suite("Stripe signature (vectors from stripe-python)", .enabled(if: PythonOracle.python != nil, "needs SERVICEPRO_TEST_PYTHON (scripts/test.sh sets it)"))
struct StripeSignatureOracleTests {
    struct Vectors: Decodable {
        struct Case: Decodable {
            let name: String
            let payload: String
            let header: String
            let secret: String
            let valid: Bool
        }
        let now: TimeInterval
        let tolerance: TimeInterval
        let cases: [Case]
    }

    static func vectors() async throws -> Vectors {
        let result = try await PythonOracle.run(script: "stripe_signatures.py", arguments: [])
        try #require(result.status == 0, "stripe_signatures.py failed: \(result.output)")
        return try JSONDecoder().decode(Vectors.self, from: Data(result.output.utf8))
    }

    @Test("accepts a webhook exactly when stripe-python does: tolerance, rotation, tampering, schemes")
    func libraryVerdicts() async throws {
        let vectors = try await Self.vectors()
        #expect(vectors.cases.count >= 14)
        #expect(vectors.cases.contains { $0.valid } && vectors.cases.contains { !$0.valid })
        for vector in vectors.cases {
            var accepted = true
            do {
                try StripeSignature.verify(
                    payload: Data(vector.payload.utf8), header: vector.header, secrets: [vector.secret],
                    now: Date(timeIntervalSince1970: vectors.now), tolerance: vectors.tolerance)
            } catch {
                accepted = false
            }
            #expect(accepted == vector.valid, "verdict on \(vector.name): the library says \(vector.valid)")
        }
    }

    @Test("signs as the library signs, so test events are real Stripe signatures")
    func testSignerMatchesLibrary() async throws {
        let vectors = try await Self.vectors()
        let signedNow = try #require(vectors.cases.first { $0.name == "signed now" })
        let time = Date(timeIntervalSince1970: vectors.now)
        #expect(StripeTestEvents.signatureHeader(payload: Data(signedNow.payload.utf8), secret: signedNow.secret, time: time) == signedNow.header)
    }

    @Test("with several configured secrets, a v1 under any of them is accepted")
    func configuredRotation() async throws {
        let vectors = try await Self.vectors()
        let wrongSecret = try #require(vectors.cases.first { $0.name == "wrong secret" })
        let now = Date(timeIntervalSince1970: vectors.now)
        // Signed with the previous secret: refused under the current one alone, accepted while
        // both are configured during a rotation.
        #expect(throws: StripeSignature.Failure.noMatchingSignature) {
            try StripeSignature.verify(payload: Data(wrongSecret.payload.utf8), header: wrongSecret.header, secrets: [wrongSecret.secret], now: now)
        }
        try StripeSignature.verify(
            payload: Data(wrongSecret.payload.utf8), header: wrongSecret.header,
            secrets: [wrongSecret.secret, "whsec_test_previous_fedcba9876543210"], now: now)
    }
}
