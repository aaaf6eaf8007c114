import GRPCCore
import GRPCInProcessTransport
import Synchronization

/// The client side of `RPCServer`'s in-process transport, failing as a network client would.
///
/// Once the server has stopped, grpc-swift's in-process client refuses new calls with
/// FAILED_PRECONDITION ("the server transport is closed"). To a caller that is a verdict on its
/// request, and the Twilio bridge would answer 400 and drop spooled texts. Over HTTP/2 the same
/// moment is UNAVAILABLE, worth retrying; this transport says that too. Errors from within a call
/// (the platform's own FAILED_PRECONDITION refusals) pass through unchanged.
public struct InProcessClientTransport: ClientTransport {
    public typealias Bytes = InProcessTransport.Client.Bytes

    private let base: InProcessTransport.Client

    init(_ base: InProcessTransport.Client) {
        self.base = base
    }

    public var retryThrottle: RetryThrottle? { base.retryThrottle }

    public func connect() async throws {
        try await base.connect()
    }

    public func beginGracefulShutdown() {
        base.beginGracefulShutdown()
    }

    public func config(forMethod descriptor: MethodDescriptor) -> MethodConfig? {
        base.config(forMethod: descriptor)
    }

    public func withStream<T: Sendable>(
        descriptor: MethodDescriptor,
        options: CallOptions,
        _ closure: (_ stream: RPCStream<Inbound, Outbound>, _ context: ClientContext) async throws -> T
    ) async throws -> T {
        let opened = Atomic(false)
        do {
            return try await base.withStream(descriptor: descriptor, options: options) { stream, context in
                opened.store(true, ordering: .relaxed)
                return try await closure(stream, context)
            }
        } catch let error as RPCError where error.code == .failedPrecondition && !opened.load(ordering: .relaxed) {
            throw RPCError(code: .unavailable, message: "the platform is not serving in-process calls: \(error.message)", cause: error)
        }
    }
}
