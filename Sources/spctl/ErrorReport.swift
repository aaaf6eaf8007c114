import Foundation
import GRPCCore
import GRPCProtobuf
import RPCRuntime

/// `error: <code>: <message>` on stderr, then the reason and one line per field violation.
enum ErrorReport {
    /// `hint` is what to do next when only the caller can know it (e.g. which token it sent).
    static func print(_ error: RPCError, hint: String? = nil) {
        var lines = ["error: \(error.code.statusName): \(error.message)"]
        if let status = try? error.unpackGoogleRPCStatus() {
            for detail in status.details {
                if let info = detail.errorInfo {
                    lines.append("  reason: \(info.reason)" + (info.metadata.isEmpty ? "" : " " + info.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")))
                }
                if let badRequest = detail.badRequest {
                    // The one the message already says is not said again.
                    for violation in badRequest.violations where error.message != "\(violation.field): \(violation.violationDescription)" {
                        lines.append("  field \(violation.field): \(violation.violationDescription)")
                    }
                }
            }
        }
        if let hint {
            lines.append("  hint: \(hint)")
        } else if error.code == .unavailable {
            lines.append("  hint: is platform-server running? Check --server or `spctl config current-context`.")
        }
        StandardError.say(lines.joined(separator: "\n"))
    }
}
