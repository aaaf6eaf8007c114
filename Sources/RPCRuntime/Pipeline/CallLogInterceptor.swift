import Foundation
import GRPCCore
import Logging
import Synchronization

/// What the pipeline learns about a call as it runs, for its one log line and, should an audited
/// method fail, its audit event.
public final class CallRecord: Sendable {
    private struct State {
        var principal: Principal?
        var tenantID: String?
        var resourceName: String?
    }

    public let requestID: String
    private let state = Mutex(State())

    init(requestID: String) { self.requestID = requestID }

    public var principal: Principal? {
        get { state.withLock { $0.principal } }
        set { state.withLock { $0.principal = newValue } }
    }

    public var tenantID: String? {
        get { state.withLock { $0.tenantID } }
        set { state.withLock { $0.tenantID = newValue } }
    }

    /// The resource the request names, once the typed stage has read it.
    public var resourceName: String? {
        get { state.withLock { $0.resourceName } }
        set { state.withLock { $0.resourceName = newValue } }
    }

    @TaskLocal public static var current: CallRecord?
}

/// The outermost interceptor: one structured log line per call with method, request id, tenant,
/// principal, status code and latency, written when the response has been fully sent, and the
/// call's metrics (`CallMetrics`). A call that fails INTERNAL is logged at error, with the detail
/// the client never sees (`detail`).
public struct CallLogInterceptor: ServerInterceptor {
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let started = ContinuousClock.now
        let record = CallRecord(requestID: AuthenticationInterceptor.requestID(in: request.metadata))
        let log: @Sendable ((any Error)?) -> Void = { [logger] error in
            let code = error.map(RPCError.code(of:))
            let latency = ContinuousClock.now - started
            CallMetrics.record(method: context.descriptor, code: code, latency: latency)
            logger.log(level: Self.level(of: code), "rpc", metadata: {
                var metadata: Logger.Metadata = [
                    "method": "\(context.descriptor.fullyQualifiedMethod)",
                    "request_id": "\(record.requestID)",
                    "tenant": "\(record.tenantID ?? "-")",
                    "principal": "\(record.principal?.subject ?? "-")",
                    "code": "\(code.map { "\($0)" } ?? "ok")",
                    "latency_ms": "\(latency.roundedMilliseconds)",
                ]
                if let detail = error.flatMap(Self.internalDetail(of:)) { metadata["detail"] = "\(detail)" }
                return metadata
            }())
        }
        do {
            let response = try await CallRecord.$current.withValue(record) { try await next(request, context) }
            switch response.accepted {
            case .success(var contents):
                contents.metadata.replaceOrAddString(record.requestID, forKey: Self.requestIDKey)
                let producer = contents.producer
                contents.producer = { writer in
                    do {
                        let trailers = try await producer(writer)
                        log(nil)
                        return trailers
                    } catch {
                        log(error)
                        throw Self.error(error, carrying: record.requestID)
                    }
                }
                return StreamingServerResponse(accepted: .success(contents))
            case .failure(var error):
                log(error)
                error.metadata.replaceOrAddString(record.requestID, forKey: Self.requestIDKey)
                return StreamingServerResponse(error: error)
            }
        } catch {
            log(error)
            throw Self.error(error, carrying: record.requestID)
        }
    }

    /// Every answer carries the call's request id, the caller's own `x-request-id` or the one made
    /// for it, so a client has something to quote that finds the call's log line and audit event.
    static let requestIDKey = "x-request-id"

    /// `error` as the client receives it, its trailers carrying the request id. The pipeline
    /// turns whatever a handler throws into an RPC error (`RPCPipeline.guarded`); anything else
    /// is left for grpc-swift to answer as UNKNOWN.
    static func error(_ error: any Error, carrying requestID: String) -> any Error {
        var rpcError: RPCError
        switch error {
        case let error as RPCError: rpcError = error
        case let error as any RPCErrorConvertible & Error: rpcError = RPCError(error)
        default: return error
        }
        rpcError.metadata.replaceOrAddString(requestID, forKey: requestIDKey)
        return rpcError
    }

    /// What went wrong inside a call that failed INTERNAL: for the operator, never the client.
    /// An interceptor further in hands its failure on as an `RPCError` with the thrown error
    /// as its cause.
    static func internalDetail(of error: any Error) -> String? {
        let thrown = (error as? RPCError)?.cause ?? error
        guard let error = thrown as? ServiceError, error.code == .internalError else { return nil }
        return error.metadata["detail"]
    }

    /// Success and the answers a client's own request earns are routine; other failures are
    /// worth a look, and an internal error is the server's own fault.
    public static func level(of code: RPCError.Code?) -> Logger.Level {
        switch code {
        case nil, .notFound?, .invalidArgument?: .info
        case .internalError?: .error
        default: .notice
        }
    }
}

extension RPCError {
    /// The status code a thrown error reaches the client with.
    static func code(of error: any Error) -> RPCError.Code {
        switch error {
        case let error as RPCError: return error.code
        case let error as any RPCErrorConvertible: return error.rpcErrorCode
        default: return .unknown
        }
    }
}

extension Duration {
    /// Milliseconds to two decimals: `String(format:)` would cost more than the rest of the line.
    var roundedMilliseconds: Double {
        let (seconds, attoseconds) = components
        return ((Double(seconds) * 1000 + Double(attoseconds) / 1e15) * 100).rounded() / 100
    }
}
