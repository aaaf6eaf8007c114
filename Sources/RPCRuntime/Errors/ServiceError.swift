import GRPCCore
import GRPCProtobuf

/// A domain error with the status code, stable reason and details a client needs to act on it.
/// Thrown anywhere in the pipeline or a handler, it reaches the client as a `google.rpc.Status`
/// with an `ErrorInfo` (domain `servicepro.dev`) and, for bad input, `BadRequest` violations.
///
/// ```swift
/// throw ServiceError.alreadyExists(reason: "tenant_exists", message: "tenants/acme already exists")
/// ```
public struct ServiceError: Error, Sendable, Hashable, CustomStringConvertible {
    public static let domain = "servicepro.dev"

    public var code: RPCError.Code
    /// Stable snake_case reason clients can switch on.
    public var reason: String
    public var message: String
    public var metadata: [String: String]
    public var violations: [FieldViolation]

    public init(code: RPCError.Code, reason: String, message: String, metadata: [String: String] = [:], violations: [FieldViolation] = []) {
        self.code = code
        self.reason = reason
        self.message = message
        self.metadata = metadata
        self.violations = violations
    }

    public var description: String { "\(code): \(message) [\(reason)]" }

    /// `error` as a client is told of it: a ServiceError as it is, an RPCError (or what converts
    /// to one) by its code, message and ErrorInfo reason, a cancellation as CANCELLED, and anything
    /// else as INTERNAL with its description as the detail, for the server's log only.
    public init(_ error: any Error) {
        switch error {
        case let error as ServiceError:
            self = error
        case let error as RPCError:
            self.init(code: error.code, reason: error.errorInfoReason, message: error.message)
        case let error as any RPCErrorConvertible & Error:
            self.init(RPCError(error))
        case is CancellationError:
            self.init(code: .cancelled, reason: "cancelled", message: "the call was cancelled")
        default:
            self = .internal(String(reflecting: error))
        }
    }

    public static func invalidArgument(_ violations: [FieldViolation]) -> ServiceError {
        let summary = violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
        return ServiceError(code: .invalidArgument, reason: "invalid_argument", message: summary, violations: violations)
    }

    public static func invalidArgument(field: String, _ description: String) -> ServiceError {
        invalidArgument([FieldViolation(field: field, description: description)])
    }

    public static func unauthenticated(reason: String, message: String) -> ServiceError {
        ServiceError(code: .unauthenticated, reason: reason, message: message)
    }

    public static func permissionDenied(reason: String, message: String) -> ServiceError {
        ServiceError(code: .permissionDenied, reason: reason, message: message)
    }

    /// The same answer whether the resource does not exist or belongs to another tenant.
    public static func notFound(_ resourceName: String) -> ServiceError {
        ServiceError(code: .notFound, reason: "not_found", message: "\(resourceName) not found", metadata: ["resource": resourceName])
    }

    public static func alreadyExists(
        reason: String = "already_exists", field: String? = nil, message: String, metadata: [String: String] = [:]
    ) -> ServiceError {
        ServiceError(
            code: .alreadyExists, reason: reason, message: message, metadata: metadata,
            violations: field.map { [FieldViolation(field: $0, description: message)] } ?? [])
    }

    public static func failedPrecondition(reason: String, message: String, metadata: [String: String] = [:]) -> ServiceError {
        ServiceError(code: .failedPrecondition, reason: reason, message: message, metadata: metadata)
    }

    /// An etag that no longer matches: re-read and retry.
    public static func aborted(reason: String = "etag_mismatch", message: String) -> ServiceError {
        ServiceError(code: .aborted, reason: reason, message: message)
    }

    public static func unimplemented(_ method: String) -> ServiceError {
        ServiceError(code: .unimplemented, reason: "not_implemented_yet", message: "\(method) is not implemented yet")
    }

    /// Details stay in the server log; the client gets a generic message.
    public static func `internal`(_ logMessage: String) -> ServiceError {
        ServiceError(code: .internalError, reason: "internal", message: "internal error", metadata: ["detail": logMessage])
    }

    /// The status travels in HTTP/2 headers, and an answer whose headers outgrow what peers
    /// accept never arrives (the client sees the stream reset). A value echoed from the request,
    /// a 100 KB name say, is cut short to this many bytes of UTF-8: bytes, since the message is
    /// sent again percent-encoded (a non-ASCII byte takes three) beside the base64 status.
    static let maxEchoedLength = 512

    /// The violations sent are cut off once their text passes this many bytes, the rest counted
    /// in one last violation: a request with 200 bad invoice lines would otherwise answer with
    /// trailers past the 8 KiB most gRPC clients take, and they would see the connection drop,
    /// not the INVALID_ARGUMENT. The first ones say what to mend first.
    static let maxViolationBytes = 2_048

    /// `violations` (each already clipped) as sent: whole until their text passes
    /// ``maxViolationBytes``, then one more, on the first field left out, saying how many were
    /// left out: at least that many when the checks stopped collecting
    /// (``FieldViolation/collectedLimit``).
    private static func bounded(_ violations: [FieldViolation]) -> [FieldViolation] {
        var bytes = 0
        for (index, violation) in violations.enumerated() {
            bytes += violation.field.utf8.count + violation.description.utf8.count
            guard bytes > maxViolationBytes, index > 0 else { continue }
            let omitted = violations.count - index
            let count = violations.count >= FieldViolation.collectedLimit ? "at least \(omitted)" : "\(omitted)"
            return Array(violations[..<index]) + [FieldViolation(
                field: violation.field, description: "and \(count) more problem\(omitted == 1 ? "" : "s") with this request, not listed: mend these and send it again")]
        }
        return violations
    }

    /// Cut by Unicode scalar, not by character: one character can carry any number of
    /// combining marks, and would pass whole.
    private static func clipped(_ text: String) -> String {
        guard text.utf8.count > maxEchoedLength else { return text }
        var bytes = 0
        let kept = text.unicodeScalars.prefix { scalar in
            bytes += UTF8.width(scalar)
            return bytes <= maxEchoedLength
        }
        return String(String.UnicodeScalarView(kept)) + "…"
    }

    /// The status as sent on the wire.
    public var googleStatus: GoogleRPCStatus {
        var details: [ErrorDetails] = [
            .errorInfo(reason: reason, domain: Self.domain, metadata: code == .internalError ? [:] : metadata.mapValues(Self.clipped))
        ]
        if !violations.isEmpty {
            let clipped = violations.map { FieldViolation(field: Self.clipped($0.field), description: Self.clipped($0.description)) }
            details.append(.badRequest(violations: Self.bounded(clipped).map {
                ErrorDetails.BadRequest.FieldViolation(field: $0.field, description: $0.description)
            }))
        }
        return GoogleRPCStatus(code: code, message: Self.clipped(message), details: details)
    }
}

extension ServiceError: RPCErrorConvertible {
    public var rpcErrorCode: RPCError.Code { code }
    public var rpcErrorMessage: String { Self.clipped(message) }
    public var rpcErrorMetadata: Metadata { googleStatus.rpcErrorMetadata }
}
