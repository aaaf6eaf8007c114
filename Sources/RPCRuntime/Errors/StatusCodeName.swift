import GRPCCore

extension RPCError.Code {
    /// gRPC's canonical name of the code, as clients and the audit log spell it: `PERMISSION_DENIED`.
    public var statusName: String {
        Self.statusNames.indices.contains(rawValue) ? Self.statusNames[rawValue] : "CODE_\(rawValue)"
    }

    /// By status number; 0 is OK, which is no error code but is what a successful call records.
    static let statusNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
}
