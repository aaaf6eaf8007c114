import Foundation
import Testing
@testable import PlatformServer

@Suite("Tokens")
struct TokensTests {
    @Test("ids and secrets are long enough for their entropy and drawn from their alphabets")
    func shapes() {
        let id = Tokens.id(bytes: 10)
        #expect(id.count == 16, "80 bits in base 36")
        #expect(id.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) })
        let secret = Tokens.secret()
        #expect(secret.count == 43, "256 bits in base 62")
        #expect(secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(Tokens.secret() != secret)
    }

    @Test("every character of the alphabet is about equally likely")
    func uniform() {
        var counts: [Character: Int] = [:]
        for _ in 0..<18_000 {
            for character in Tokens.id(bytes: 10) { counts[character, default: 0] += 1 }
        }
        // 288,000 characters over 36: 8,000 each, give or take 88 (one standard deviation). A plain
        // `byte % 36` would give the first four characters 8/256 each instead of 7/256: 9,000.
        #expect(counts.count == 36)
        #expect(counts.values.allSatisfy { (7_520...8_480).contains($0) }, "\(counts.sorted { $0.key < $1.key })")
    }
}
