import Logging
import ServiceLifecycle

/// A PostgreSQL notification channel, followed for as long as the server runs: LISTEN, hand each
/// payload on, and after a lost connection say so and listen again. What is announced while no
/// one listens is lost, so a follower trusts what it keeps only between `listening` and `lost`.
struct ChangeFeed: Service {
    let database: PostgresDatabase
    let channel: String
    /// What the channel announces, for the operator: "API key changes".
    let subject: String
    /// What losing the feed costs, for the operator: "every call reads its key from the store
    /// until it is back".
    let whileLost: String
    /// Runs each time LISTEN is in effect.
    let listening: @Sendable () -> Void
    /// Runs for each payload.
    let received: @Sendable (String) -> Void
    /// Runs each time the connection is gone, and once more when the feed stops.
    let lost: @Sendable () -> Void
    var retryDelay: Duration = .seconds(1)
    let logger: Logger

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    func run() async throws {
        defer { lost() }
        while !Task.isCancelled {
            do {
                try await database.listen(on: channel, subscribed: listening, received: received)
            } catch {
                if Task.isCancelled { break }
                logger.warning("lost the feed of \(subject); \(whileLost)", metadata: [
                    "error": "\(String(reflecting: error))",
                ])
            }
            lost()
            try? await Task.sleep(for: retryDelay)
        }
    }
}
