import Foundation

/// The wait before trying again after a failure that may pass (a provider down or overloaded).
enum Backoff {
    /// `first` after the first failed attempt (`attempt` 1), doubling after each further one.
    /// The caller caps it.
    static func doubling(afterAttempt attempt: Int, first: TimeInterval) -> TimeInterval {
        first * pow(2, Double(min(max(attempt, 1) - 1, 30)))
    }
}
