import Foundation
import GRPCCore
import GRPCProtobuf

/// `error: <code>: <message>` on stderr, then the reason and one line per field violation.
enum ErrorReport {
    static func print(_ error: RPCError) {
        var lines = ["error: \(codeName(error.code)): \(error.message)"]
        if let status = try? error.unpackGoogleRPCStatus() {
            for detail in status.details {
                if let info = detail.errorInfo {
                    lines.append("  reason: \(info.reason)" + (info.metadata.isEmpty ? "" : " " + info.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
                }
                if let badRequest = detail.badRequest {
                    for violation in badRequest.violations {
                        lines.append("  field \(violation.field): \(violation.violationDescription)")
                    }
                }
            }
        }
        if error.code == .unavailable {
            lines.append("  hint: is platform-server running? Check --server or `spctl config current-context`.")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// gRPC's canonical names, by status number.
    static let codeNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    static func codeName(_ code: RPCError.Code) -> String {
        codeNames.indices.contains(code.rawValue) ? codeNames[code.rawValue] : "CODE_\(code.rawValue)"
    }
}
