import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle

/// Asks the store a trivial question every `interval`, and has health checks answer NOT_SERVING
/// while it gets no answer within `timeout`: a replica whose database is out of reach would
/// otherwise keep saying SERVING while every call fails, and load balancers keep sending it work.
struct StoreHealthProbe: Service {
    let database: any Database
    let report: @Sendable (Bool) -> Void
    let logger: Logger
    var interval: Duration = .seconds(5)
    var timeout: Duration = .seconds(2)

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    func run() async throws {
        var answered = true
        // A read that has not come back is asked again rather than joined by another: each
        // would hold a connection of the pool until the server's silence ends.
        var outstanding: Task<Bool, Never>?
        while !Task.isCancelled {
            let read = outstanding ?? startRead()
            let answer = await Self.answer(of: read, within: timeout)
            outstanding = answer == nil ? read : nil
            let answers = answer == true
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
        outstanding?.cancel()
    }

    /// Whether `SELECT 1` comes back within `timeout`.
    func storeAnswers() async -> Bool {
        await Self.answer(of: startRead(), within: timeout) == true
    }

    private func startRead() -> Task<Bool, Never> {
        let database = self.database
        return Task { (try? await database.read(.platform) { tx in try await tx.first("SELECT 1 AS answer") }) != nil }
    }

    /// What `read` answers, or nil when it has not answered within `timeout`. Not waited for
    /// past it, even cancelled: a query on a connection whose server went silent (a partition, a
    /// frozen host) ignores cancellation until TCP gives up on it, a quarter of an hour later.
    static func answer(of read: Task<Bool, Never>, within timeout: Duration) async -> Bool? {
        let (answers, answer) = AsyncStream<Bool?>.makeStream()
        Task { answer.yield(await read.value) }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            answer.yield(nil)
        }
        defer {
            timer.cancel()
            answer.finish()
        }
        for await first in answers { return first }
        return nil
    }
}
