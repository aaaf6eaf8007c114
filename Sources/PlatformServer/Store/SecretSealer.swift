import Crypto
import Foundation
import Logging
import RPCRuntime

/// Encrypts secrets at rest with AES-256-GCM: SIP passwords, and the one-time tokens that
/// idempotency records keep for a retry (see ``SealedToken``).
///
/// The key comes from `SERVICEPRO_SECRETS_KEY` (base64 of 32 bytes) when set, else from a key
/// file, which the first start of an empty store creates with 32 random bytes and mode 0600 (the
/// store then records which key it is; see ``SecretsKeyCheck``):
/// ```swift
/// let sealer = try SecretSealer.configured(keyFile: "/var/lib/servicepro/secrets.key") ?? SecretSealer.random()
/// let sealed = try sealer.seal("s3cret", boundTo: "tenants/acme/phoneConfigs/main")
/// let password = try sealer.open(sealed, boundTo: "tenants/acme/phoneConfigs/main")
/// ```
/// Each secret is bound to the resource it belongs to (GCM associated data), so a sealed value
/// copied onto another row does not open.
public struct SecretSealer: Sendable {
    public static let environmentVariable = "SERVICEPRO_SECRETS_KEY"
    static let keyByteCount = 32
    /// Leads every sealed value, so a later key or algorithm can be told apart.
    static let formatVersion: UInt8 = 1

    private let key: SymmetricKey
    /// Where the key came from, for messages: the variable or the key file.
    let source: String

    public init(key: SymmetricKey, source: String = "the secrets key given") throws {
        guard key.bitCount == Self.keyByteCount * 8 else {
            throw SecretSealerError("the secrets key must be \(Self.keyByteCount) bytes, got \(key.bitCount / 8)")
        }
        self.init(checkedKey: key, source: source)
    }

    private init(checkedKey key: SymmetricKey, source: String) {
        self.key = key
        self.source = source
    }

    /// A key given as base64 text; `source` names where it came from for the error message.
    public init(base64Key: String, source: String) throws {
        let text = base64Key.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text) else {
            throw SecretSealerError("\(source) is not base64; it must hold \(Self.keyByteCount) random bytes in base64, e.g. from `openssl rand -base64 32`")
        }
        guard bytes.count == Self.keyByteCount else {
            throw SecretSealerError("\(source) decodes to \(bytes.count) bytes; it must hold exactly \(Self.keyByteCount) (e.g. from `openssl rand -base64 32`)")
        }
        try self.init(key: SymmetricKey(data: bytes), source: source)
    }

    /// The key from the environment if set, else from `keyFile`; nil when neither holds one.
    public static func configured(
        keyFile: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SecretSealer? {
        if let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty {
            return try SecretSealer(base64Key: fromEnvironment, source: environmentVariable)
        }
        guard FileManager.default.fileExists(atPath: keyFile) else { return nil }
        let contents: String
        do {
            contents = try String(contentsOfFile: keyFile, encoding: .utf8)
        } catch {
            throw SecretSealerError("cannot read the secrets key file \(keyFile): \(error.localizedDescription)")
        }
        return try SecretSealer(base64Key: contents, source: "the secrets key file \(keyFile)")
    }

    /// A new random key, not written anywhere yet.
    static func random() -> SecretSealer {
        SecretSealer(checkedKey: SymmetricKey(size: .bits256), source: "a new secrets key")
    }

    /// Writes the key to `keyFile` with mode 0600.
    func save(to keyFile: String, logger: Logger?) throws {
        let directory = URL(fileURLWithPath: keyFile).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoded = key.withUnsafeBytes { Data($0).base64EncodedString() }
        try SecretFile.write(Data((encoded + "\n").utf8), to: keyFile)
        logger?.notice("created a new secrets key; servers sharing a store need the same key (copy the file or set \(Self.environmentVariable))", metadata: [
            "key_file": "\(keyFile)",
        ])
    }

    /// What a store keeps to know this key again: an HMAC-SHA256 of a fixed label under the key,
    /// from which the key cannot be recovered.
    var keyCheck: Data {
        Data(HMAC<SHA256>.authenticationCode(for: Self.keyCheckLabel, using: key))
    }

    /// Whether `check` is this key's ``keyCheck``, compared in constant time.
    func matches(keyCheck check: Data) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(check, authenticating: Self.keyCheckLabel, using: key)
    }

    private static let keyCheckLabel = Data("servicepro secrets key check v1".utf8)

    /// `secret` encrypted: a version byte, then nonce, ciphertext and tag.
    public func seal(_ secret: String, boundTo context: String) throws -> Data {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw SecretSealerError("AES-GCM produced no combined representation") }
        return Data([Self.formatVersion]) + combined
    }

    /// The secret `seal` encrypted for the same context; throws if the key, the context or the
    /// bytes differ.
    public func open(_ sealed: Data, boundTo context: String) throws -> String {
        guard sealed.first == Self.formatVersion else {
            throw SecretSealerError("sealed secret of \(context) has an unknown format")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            let plaintext = try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
            return String(decoding: plaintext, as: UTF8.self)
        } catch {
            throw SecretSealerError("sealed secret of \(context) does not open with this key (was SERVICEPRO_SECRETS_KEY or the key file changed?)")
        }
    }
}

public struct SecretSealerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
