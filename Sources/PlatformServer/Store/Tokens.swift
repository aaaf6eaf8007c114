import Crypto
import Foundation

/// Random ids and bearer-token secrets, and how a secret is kept: only its SHA-256 is stored,
/// and a presented secret's hash is compared with it in constant time. API keys, impersonation
/// sessions, login links and their sessions all make and check their tokens here.
enum Tokens {
    private static let lowercase = "0123456789abcdefghijklmnopqrstuvwxyz"
    private static let mixedCase = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    /// A new id for a row or a resource name: lowercase letters and digits carrying `bytes`
    /// bytes of randomness.
    static func id(bytes: Int) -> String {
        random(bytes: bytes, alphabet: lowercase)
    }

    /// The secret half of a new token: 256 random bits in letters and digits.
    static func secret() -> String {
        random(bytes: 32, alphabet: mixedCase)
    }

    /// What the store keeps of a secret.
    static func hash(_ secret: some StringProtocol) -> Data {
        Data(SHA256.hash(data: Data(secret.utf8)))
    }

    /// Equal or not, in a time that says nothing about where two hashes differ.
    static func constantTimeEqual(_ lhs: Data, _ rhs: Data) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Uniform random characters from `alphabet`, using the system's CSPRNG; enough of them to
    /// carry `count` bytes of entropy.
    private static func random(bytes count: Int, alphabet: String) -> String {
        let characters = Array(alphabet)
        var generator = SystemRandomNumberGenerator()
        let length = Int((Double(count * 8) / log2(Double(characters.count))).rounded(.up))
        return String((0..<length).map { _ in characters[Int.random(in: 0..<characters.count, using: &generator)] })
    }
}
