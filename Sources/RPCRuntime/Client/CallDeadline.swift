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

    /// Runs `call` against the timer, and throws `DEADLINE_EXCEEDED` the moment it fires, leaving
    /// `call` cancelled to end on its own: for a call that cancelling does not end at once, such
    /// as an item waiting for its batch (`NaturalBatcher`), whose caller must still answer in time.
    /// Cancelling the caller cancels the call and throws `CancellationError` at once.
    public func race<Result: Sendable>(_ call: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let answer = Answer<Result>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // A caller cancelled already has its answer: the call is not started.
                guard answer.wait(continuation) else { return }
                let task = Task {
                    do { answer.give(.success(try await call())) } catch { answer.give(.failure(error)) }
                }
                let timer = timers.any().scheduleTask(in: TimeAmount(timeout)) { [timeout] in
                    answer.give(.failure(RPCError(code: .deadlineExceeded, message: "no answer within \(timeout)")))
                    task.cancel()
                }
                answer.whenGiven { timer.cancel(); task.cancel() }
            }
        } onCancel: {
            answer.give(.failure(CancellationError()))
        }
    }

    /// The first of the call's outcome, the timer and the caller's cancellation, given once to
    /// whoever waits; the rest are dropped. `whenGiven` runs once, after the first.
    private final class Answer<Value: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Value, any Error>?
            var given: Swift.Result<Value, any Error>?
            var cleanup: (@Sendable () -> Void)?
            var done = false
        }
        private let state = Mutex(State())

        /// Whether `continuation` waits; false when the answer was given already, and is now.
        func wait(_ continuation: CheckedContinuation<Value, any Error>) -> Bool {
            let early = state.withLock { state -> Swift.Result<Value, any Error>? in
                guard let given = state.given else {
                    state.continuation = continuation
                    return nil
                }
                return given
            }
            guard let early else { return true }
            continuation.resume(with: early)
            return false
        }

        func give(_ outcome: Swift.Result<Value, any Error>) {
            let (continuation, cleanup) = state.withLock { state -> (CheckedContinuation<Value, any Error>?, (@Sendable () -> Void)?) in
                guard !state.done else { return (nil, nil) }
                state.done = true
                state.given = outcome
                defer { state.continuation = nil; state.cleanup = nil }
                return (state.continuation, state.cleanup)
            }
            continuation?.resume(with: outcome)
            cleanup?()
        }

        func whenGiven(_ cleanup: @escaping @Sendable () -> Void) {
            let now = state.withLock { state -> Bool in
                guard state.done else {
                    state.cleanup = cleanup
                    return false
                }
                return true
            }
            if now { cleanup() }
        }
    }

    private final class Expiry: Sendable {
        let fired = Atomic(false)
    }
}
