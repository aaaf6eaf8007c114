import GRPCCore
import NIOCore
import NIOPosix

/// A deadline on client calls, enforced by one timer on an event loop that cancels the call when
/// it fires.
///
/// ```swift
/// let deadline = CallDeadline(timeout: .seconds(5))
/// let reply = try await deadline.run { try await inbound.handleInboundMessage(message, metadata: key) }
/// ```
///
/// grpc-swift's own `CallOptions.timeout` runs every call in a task group beside a task that
/// sleeps until the deadline, and sends the deadline to the server, which does the same. On this
/// machine that cost more than the timer does (`rpc-floor --deadline`, docs/benchmarks.md). The
/// server still learns of an abandoned call at once: cancelling the call resets its HTTP/2
/// stream, which cancels the handler. What the server does not get is `grpc-timeout`, so its
/// `RequestContext.deadline` is unset for these calls.
public struct CallDeadline: Sendable {
    public let timeout: Duration
    private let timers: any EventLoopGroup

    public init(timeout: Duration, timers: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.timeout = timeout
        self.timers = timers
    }

    /// Runs `call`; past the deadline it is cancelled and `DEADLINE_EXCEEDED` thrown, as
    /// grpc-swift throws for a call with a timeout. Cancelling the caller cancels the call.
    public func run<Result: Sendable>(_ call: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let deadline = ContinuousClock.now + timeout
        let task = Task(operation: call)
        let timer = timers.any().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { task.cancel() }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        } catch where ContinuousClock.now >= deadline {
            throw RPCError(code: .deadlineExceeded, message: "no answer within \(timeout)")
        }
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
