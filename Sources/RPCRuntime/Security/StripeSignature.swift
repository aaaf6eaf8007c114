import Crypto
import Foundation

/// Stripe's webhook signature, checked the way Stripe's own libraries check it. The header is
/// `t=<unix time>,v1=<hex>[,v1=<hex>...]`; each v1 is HMAC-SHA256 of `"<t>.<raw body>"` under an
/// endpoint secret. Any v1 may match any configured secret, so secrets rotate without downtime.
/// A timestamp older than the tolerance is refused, so a captured webhook cannot be replayed later.
///
/// The platform checks it before applying an event; a bridge given the secrets checks it too, so
/// forged webhooks stop at the edge.
public enum StripeSignature {
    public static let defaultTolerance: TimeInterval = 300

    /// The secrets in a comma-separated list, as `SERVICEPRO_STRIPE_WEBHOOK_SECRETS` holds them
    /// (two while one is rotated out).
    public static func secrets(fromList list: String?) -> [String] {
        (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case malformedHeader
        case noMatchingSignature
        case timestampOutsideTolerance

        public var description: String {
            switch self {
            case .malformedHeader: return "the Stripe-Signature header has no timestamp or no v1 signature"
            case .noMatchingSignature: return "no v1 signature matches the payload under any configured webhook secret"
            case .timestampOutsideTolerance: return "the signature's timestamp is outside the tolerance"
            }
        }
    }

    public static func verify(payload: Data, header: String, secrets: [String], now: Date = Date(), tolerance: TimeInterval = defaultTolerance) throws(Failure) {
        var timestamp: Int64?
        var signatures: [Data] = []
        for element in header.split(separator: ",") {
            let pair = element.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": if let bytes = Data(hex: pair[1]) { signatures.append(bytes) }
            default: continue  // v0 and future schemes are not ours to trust.
            }
        }
        guard let timestamp, !signatures.isEmpty else { throw .malformedHeader }
        var signed = Data("\(timestamp).".utf8)
        signed.append(payload)
        let matches = secrets.contains { secret in
            let expected = Data(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8))))
            // Each comparison takes the same time whatever bytes differ, so the time taken says
            // nothing about the expected signature; only how many candidates came before a match.
            return signatures.contains { ConstantTime.equal($0, expected) }
        }
        guard matches else { throw .noMatchingSignature }
        guard Double(timestamp) >= now.timeIntervalSince1970 - tolerance else { throw .timestampOutsideTolerance }
    }
}

extension Data {
    /// Lowercase or uppercase hex; nil for anything else.
    fileprivate init?(hex: String) {
        guard hex.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
