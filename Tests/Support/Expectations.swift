import GRPCCore
import GRPCProtobuf

/// What a failed call said: its code, ErrorInfo reason and BadRequest fields.
public struct CallFailure: Sendable, CustomStringConvertible {
    public let code: RPCError.Code
    public let message: String
    public let reason: String?
    public let fields: [String]
    public let metadata: [String: String]

    public var description: String { "\(code) \(reason ?? "-") \(fields) \(message)" }
}

/// Runs `body`, which must fail with an RPC error, and returns what the error carried.
public func failure(_ body: () async throws -> some Any) async -> CallFailure? {
    do {
        _ = try await body()
        return nil
    } catch let error as RPCError {
        let status = try? error.unpackGoogleRPCStatus()
        let info = status?.details.compactMap(\.errorInfo).first
        let fields = status?.details.compactMap(\.badRequest).flatMap { $0.violations.map(\.field) } ?? []
        return CallFailure(code: error.code, message: error.message, reason: info?.reason, fields: fields, metadata: info?.metadata ?? [:])
    } catch {
        return CallFailure(code: .unknown, message: "\(error)", reason: nil, fields: [], metadata: [:])
    }
}
