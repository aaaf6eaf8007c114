import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle

/// Asks the store a trivial question every `interval`, and has health checks answer NOT_SERVING
/// while it gets no answer within `timeout`: a replica whose database is out of reach would
/// otherwise keep saying SERVING while every call fails, and load balancers keep sending it work.
///
/// Each pass asks afresh and waits for that answer alone. A read on a connection whose server
/// went silent ignores cancellation until TCP gives up (a quarter of an hour), so it is left to
/// end on its own: the pool's keep-alive finds its idle connections dead the same way, and a
/// fresh read then gets a new connection, to a failover's new primary, say, and answers.
struct StoreHealthProbe: Service {
    let database: any Database
    let report: @Sendable (Bool) -> Void
    let logger: Logger
    var interval: Duration = .seconds(5)
    var timeout: Duration = .seconds(2)

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    func run() async throws {
        var answered = true
        while !Task.isCancelled {
            let answers = await storeAnswers()
            if answers != answered {
                answered = answers
                report(answers)
                if answers {
                    logger.notice("the store answers again: health checks say SERVING")
                } else {
                    logger.error("the store does not answer: health checks say NOT_SERVING until it does")
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Whether `SELECT 1` comes back within `timeout`: a read still out then is left to end on
    /// its own (`CallDeadline.race`).
    func storeAnswers() async -> Bool {
        let database = self.database
        return (try? await CallDeadline(timeout: timeout).race {
            try await database.read(.platform) { tx in try await tx.first("SELECT 1 AS answer") }
        }) != nil
    }
}
