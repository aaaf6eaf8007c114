import Crypto
import Foundation

/// Random ids and bearer-token secrets, and how a secret is kept: only its SHA-256 is stored,
/// and a presented secret's hash is compared with it in constant time. API keys, impersonation
/// sessions, login links and their sessions all make and check their tokens here.
enum Tokens {
    // As bytes, made once: an id is drawn for every stored text and call.
    private static let lowercase = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
    private static let mixedCase = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

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

    /// Uniform random characters from `alphabet`, using the system's CSPRNG; enough of them to
    /// carry `count` bytes of entropy. On Linux each draw from the generator is a system call
    /// (`getrandom`), so a draw of 64 bits makes up to eight characters.
    private static func random(bytes count: Int, alphabet: [UInt8]) -> String {
        precondition((2...256).contains(alphabet.count), "an alphabet of 2 to 256 characters")
        var generator = SystemRandomNumberGenerator()
        let length = Int((Double(count * 8) / log2(Double(alphabet.count))).rounded(.up))
        // A byte at or above the last whole multiple of the alphabet's size is skipped, so that
        // every character is equally likely.
        let limit = 256 / alphabet.count * alphabet.count
        var characters: [UInt8] = []
        characters.reserveCapacity(length)
        while characters.count < length {
            var draw: UInt64 = generator.next()
            for _ in 0..<8 where characters.count < length {
                let byte = Int(draw & 0xFF)
                draw >>= 8
                if byte < limit { characters.append(alphabet[byte % alphabet.count]) }
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
