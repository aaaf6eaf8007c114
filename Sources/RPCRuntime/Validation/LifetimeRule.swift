import Foundation
import SwiftProtobuf

/// How long a caller may ask something to last (a session, a link) with a `ttl` field: the
/// default when unset, otherwise positive and no longer than the maximum.
public struct LifetimeRule: Sendable {
    public let defaultSeconds: TimeInterval
    public let maxSeconds: TimeInterval
    /// The maximum as the caller reads it in an error, e.g. "7 days".
    public let maxText: String

    public init(default defaultSeconds: TimeInterval, max maxSeconds: TimeInterval, maxText: String) {
        self.defaultSeconds = defaultSeconds
        self.maxSeconds = maxSeconds
        self.maxText = maxText
    }

    /// The lifetime asked for, in seconds; INVALID_ARGUMENT naming `ttl` when it breaks the rule.
    public func seconds(_ ttl: Google_Protobuf_Duration?) throws -> TimeInterval {
        guard let ttl else { return defaultSeconds }
        let seconds = TimeInterval(ttl.seconds) + TimeInterval(ttl.nanos) / 1e9
        guard seconds > 0 else { throw ServiceError.invalidArgument(field: "ttl", "must be positive") }
        guard seconds <= maxSeconds else { throw ServiceError.invalidArgument(field: "ttl", "must be at most \(maxText)") }
        return seconds
    }
}
