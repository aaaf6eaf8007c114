import GRPCCore
import NIOCore
import NIOPosix
import Synchronization

/// A deadline on a call (an RPC, or a store read), enforced by one timer on an event loop that cancels the call when
/// it fires.
///
/// ```swift
/// let deadline = CallDeadline(timeout: .seconds(5))
/// let reply = try await deadline.run { try await inbound.handleInboundMessage(message, metadata: key) }
/// ```
///
/// grpc-swift's own `CallOptions.timeout` runs every call in a task group beside a task that
/// sleeps until the deadline, and sends the deadline to the server as `grpc-timeout`, where
/// another such pair waits. On this machine that cost more than the timer does (`rpc-floor
/// --deadline`, docs/benchmarks.md). The server loses little by not hearing the deadline: for a
/// timeout, as for a cancelled call, grpc-swift only runs the handler's
/// `withRPCCancellationHandler` blocks and never cancels its task. Its `RequestContext.deadline`
/// is unset for these calls.
public struct CallDeadline: Sendable {
    public let timeout: Duration
    private let timers: any EventLoopGroup

    public init(timeout: Duration, timers: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.timeout = timeout
        self.timers = timers
    }

    /// Runs `call`. Once the timer has fired and cancelled it, the call's failure, whatever it
    /// is, is thrown as `DEADLINE_EXCEEDED`, as grpc-swift does for a call with a timeout; an
    /// answer or a failure that came before the timer fired is the call's own. Cancelling the
    /// caller cancels the call.
    public func run<Result: Sendable>(_ call: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let expiry = Expiry()
        let task = Task(operation: call)
        let timer = timers.any().scheduleTask(in: TimeAmount(timeout)) {
            expiry.fired.store(true, ordering: .releasing)
            task.cancel()
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
        } catch where expiry.fired.load(ordering: .acquiring) {
            throw RPCError(code: .deadlineExceeded, message: "no answer within \(timeout)")
        }
    }

    private final class Expiry: Sendable {
        let fired = Atomic(false)
    }
}
