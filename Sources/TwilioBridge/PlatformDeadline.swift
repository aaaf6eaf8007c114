import GRPCCore
import NIOCore
import NIOPosix

/// How long a webhook waits for the platform, enforced by one timer on an event loop that cancels
/// the call when it fires.
///
/// grpc-swift's own `CallOptions.timeout` runs every call in a task group beside a task sleeping
/// until the deadline. On an inbound text that group cost more than the timer does (see
/// docs/benchmarks.md). The platform still learns of an abandoned call at once: cancelling the
/// call resets its HTTP/2 stream, which cancels the handler.
struct PlatformDeadline: Sendable {
    let timeout: Duration
    let timers: any EventLoopGroup

    init(timeout: Duration, timers: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.timeout = timeout
        self.timers = timers
    }

    /// Runs `call`; past the deadline it is cancelled and `DEADLINE_EXCEEDED` thrown, as
    /// grpc-swift does for a call with a timeout.
    func run<Result: Sendable>(_ call: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let deadline = ContinuousClock.now + timeout
        let task = Task(operation: call)
        let timer = timers.any().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { task.cancel() }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        } catch where ContinuousClock.now >= deadline {
            throw RPCError(code: .deadlineExceeded, message: "the platform did not answer within \(timeout)")
        }
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
