import Foundation

/// Bytes as lowercase hex, two digits a byte: a digest or a slice of one, e.g.
/// `SHA256.hash(data: data).prefix(6).hex` for twelve digits.
extension Sequence where Element == UInt8 {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
