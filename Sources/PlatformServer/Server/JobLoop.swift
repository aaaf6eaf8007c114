import Foundation
import Logging

/// How the platform's background jobs run: a pass, then a pause of `interval`, until the server
/// cancels them when it stops serving. A pass that says more is waiting is followed by the next at
/// once; a failed pass is logged and tried again after the pause; cancellation ends the loop
/// quietly, as it is not a failed pass.
enum JobLoop {
    static func run(every interval: Duration, logger: Logger, failure: Logger.Message, _ pass: () async throws -> Bool) async {
        while !Task.isCancelled {
            do {
                if try await pass() { continue }
            } catch is CancellationError {
                return
            } catch {
                logger.error(failure, metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// A clock that reads `now` at the start of a pass and runs on from there: the times a pass
    /// records as it goes are as late as the pass really took, and a test's pass in the future
    /// records future times.
    static func clock(startingAt now: Date) -> @Sendable () -> Date {
        let shift = now.timeIntervalSinceNow
        return { Date().addingTimeInterval(shift) }
    }
}
