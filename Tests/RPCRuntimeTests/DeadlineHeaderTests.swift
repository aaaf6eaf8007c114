import GRPCCore
@testable import RPCRuntime
import Testing

/// The deadline a caller sends in `grpc-timeout`, which anyone can write, unauthenticated.
@Suite("grpc-timeout")
struct DeadlineHeaderTests {
    /// The deadline as seconds from just before the header was read: never less than the header
    /// asks for, however long a loaded machine takes between reading it and measuring it.
    private func seconds(_ header: String) -> Double? {
        let before = ContinuousClock.now
        return AuthenticationInterceptor.deadline(in: ["grpc-timeout": .string(header)]).map { instant in
            let (seconds, attoseconds) = before.duration(to: instant).components
            return Double(seconds) + Double(attoseconds) / 1e18
        }
    }

    @Test("each unit, up to 8 digits")
    func units() throws {
        #expect(try #require(seconds("2H")) > 7_199)
        #expect(try #require(seconds("2M")) > 119)
        #expect(try #require(seconds("5S")) > 4.9)
        #expect(try #require(seconds("1500m")) > 1.4)
        #expect(try #require(seconds("99999999u")) > 99)
        #expect(try #require(seconds("99999999H")) > 3.5e11, "the largest the protocol allows")
    }

    @Test("anything else is no deadline, never a crash", arguments: [
        "3000000000000000H", "123456789S", "-5S", "+5S", " 5S", "5", "S", "", "5s", "5x", "٥S",
    ])
    func malformed(header: String) {
        #expect(seconds(header) == nil)
    }
}
