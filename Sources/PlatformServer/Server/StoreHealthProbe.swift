import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle
import Synchronization

/// Asks the store a trivial question every `interval`, and has health checks answer NOT_SERVING
/// while it gets no answer within `timeout`: a replica whose database is out of reach would
/// otherwise keep saying SERVING while every call fails, and load balancers keep sending it work.
struct StoreHealthProbe: Service {
    let database: any Database
    let report: @Sendable (Bool) -> Void
    let logger: Logger
    var interval: Duration = .seconds(5)
    var timeout: Duration = .seconds(2)
    /// Reads still out at most. A read on a connection whose server went silent is not waited
    /// for (it ignores cancellation until TCP gives up, a quarter of an hour later), and each
    /// holds a connection of the pool meanwhile. One fresh read beside it finds a store that
    /// answers on its other connections (a failover's new primary, say); while both are out, the
    /// probe says NOT_SERVING until one comes back, rather than take more of the pool.
    static let maxOutstanding = 2

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    func run() async throws {
        var answered = true
        var outstanding: [Read] = []
        while !Task.isCancelled {
            if outstanding.count < Self.maxOutstanding { outstanding.append(Read(database)) }
            let answers = await Self.answer(of: outstanding, within: timeout) == true
            outstanding.removeAll(where: \.isDone)
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
        for read in outstanding { read.task.cancel() }
    }

    /// Whether `SELECT 1` comes back within `timeout`.
    func storeAnswers() async -> Bool {
        await Self.answer(of: [Read(database)], within: timeout) == true
    }

    /// One `SELECT 1`, started at once.
    final class Read: Sendable {
        let task: Task<Bool, Never>
        private let done: Done

        private final class Done: Sendable {
            let value = Atomic(false)
        }

        init(_ database: any Database) {
            let done = Done()
            self.done = done
            task = Task {
                defer { done.value.store(true, ordering: .releasing) }
                return (try? await database.read(.platform) { tx in try await tx.first("SELECT 1 AS answer") }) != nil
            }
        }

        var isDone: Bool { done.value.load(ordering: .acquiring) }
    }

    /// The first answer of `reads`, or nil when none answers within `timeout`. Not waited for
    /// past it, even cancelled (see ``maxOutstanding``).
    static func answer(of reads: [Read], within timeout: Duration) async -> Bool? {
        let (answers, answer) = AsyncStream<Bool?>.makeStream()
        for read in reads { Task { answer.yield(await read.task.value) } }
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
