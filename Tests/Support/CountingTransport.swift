import GRPCCore
import Synchronization

/// A client transport that records the calls made through it, by method name, and holds calls
/// while it is held (until `release()`), for tests of how a client spreads its work over calls.
public struct CountingTransport<Base: ClientTransport>: ClientTransport {
    public typealias Bytes = Base.Bytes

    private final class State: Sendable {
        let calls = Mutex<[String]>([])
        let released = Mutex<(Bool, [CheckedContinuation<Void, Never>])>((false, []))
    }

    private let base: Base
    private let state = State()

    /// Calls wait until `release()` unless `held` is false.
    public init(_ base: Base, held: Bool = true) {
        self.base = base
        if !held { release() }
    }

    /// The methods called so far, in order (`HandleInboundMessage`, ...).
    public var calls: [String] { state.calls.withLock { $0 } }

    /// Holds the calls made from now until `release()`.
    public func hold() {
        state.released.withLock { $0.0 = false }
    }

    /// Lets every held call and every later one through.
    public func release() {
        let waiting = state.released.withLock { released in
            released.0 = true
            defer { released.1 = [] }
            return released.1
        }
        waiting.forEach { $0.resume() }
    }

    public var retryThrottle: RetryThrottle? { base.retryThrottle }

    public func connect() async throws { try await base.connect() }

    public func beginGracefulShutdown() { base.beginGracefulShutdown() }

    public func withStream<T: Sendable>(
        descriptor: MethodDescriptor, options: CallOptions,
        _ closure: (RPCStream<Inbound, Outbound>, ClientContext) async throws -> T
    ) async throws -> T {
        state.calls.withLock { $0.append(descriptor.method) }
        await withCheckedContinuation { continuation in
            let isReleased = state.released.withLock { released in
                if !released.0 { released.1.append(continuation) }
                return released.0
            }
            if isReleased { continuation.resume() }
        }
        return try await base.withStream(descriptor: descriptor, options: options, closure)
    }

    public func config(forMethod descriptor: MethodDescriptor) -> MethodConfig? { base.config(forMethod: descriptor) }
}
