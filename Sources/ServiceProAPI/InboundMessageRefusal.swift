import GRPCCore
import RPCRuntime

/// One text's error in a BatchHandleInboundMessages answer, both ways: the platform writes the
/// error the text's own HandleInboundMessage call would have failed with, and the bridge reads
/// it back as that call's error, so a batched text is answered as a text sent alone would be.
extension InboundMessageRefusal {
    public init(_ error: ServiceError) {
        self.init()
        code = Int32(error.code.rawValue)
        reason = error.reason
        message = error.rpcErrorMessage
    }

    /// The error as a call of its own would have thrown it, ErrorInfo reason included.
    public var rpcError: RPCError {
        let code = Status.Code(rawValue: Int(self.code)).flatMap(RPCError.Code.init) ?? .unknown
        return RPCError(ServiceError(code: code, reason: reason, message: message))
    }
}
