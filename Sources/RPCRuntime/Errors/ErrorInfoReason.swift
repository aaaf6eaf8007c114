import GRPCCore
import GRPCProtobuf

extension RPCError {
    /// The stable reason of the `ErrorInfo` the server sent with this error (see `ServiceError`),
    /// or "" when it sent none.
    public var errorInfoReason: String {
        guard let status = try? unpackGoogleRPCStatus() else { return "" }
        return status.details.lazy.compactMap(\.errorInfo).first?.reason ?? ""
    }
}
