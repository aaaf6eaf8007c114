/// Comparisons of secrets (signatures, token hashes) that take the same time wherever the two
/// differ, so response times tell an attacker nothing about how close a guess came.
public enum ConstantTime {
    /// Whether the two byte sequences are equal; the time depends only on their lengths.
    /// Inlinable, so each caller gets a version specialized to its types: the bridge runs it on
    /// every webhook.
    @inlinable
    public static func equal(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
        return difference == 0
    }
}
