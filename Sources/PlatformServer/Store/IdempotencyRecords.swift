import Foundation
import RPCRuntime
import SwiftProtobuf

/// Makes a create or action retried with the same `request_id` return its first result. The
/// record is written in the same transaction as the change, so a change and its record exist
/// together or not at all. Records are kept for a day, as long as clients usefully retry.
///
/// A request id is its caller's own: records are keyed by the call's real actor too (the owner
/// behind an impersonation session), so one caller reusing another's id gets a result of its
/// own, never the other's response and the secret it may carry.
enum IdempotencyRecords {
    static let retention: TimeInterval = 24 * 3600

    /// Records were keyed by tenant, method and request id alone. Their callers are unknown, so
    /// they go: a retry across this upgrade makes its change anew.
    static let callerMigration = Migration(
        version: 14,
        name: "idempotency_records_by_caller",
        statements: [
            "DROP TABLE idempotency_records",
            """
            CREATE TABLE idempotency_records (
                tenant_id TEXT NOT NULL,
                caller TEXT NOT NULL DEFAULT '',  -- what a replica of an earlier version writes
                method TEXT NOT NULL,
                request_id TEXT NOT NULL,
                response BLOB NOT NULL,
                create_time BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, caller, method, request_id)
            )
            """,
        ],
        tenantOwnedTables: ["idempotency_records"])

    /// The real actor of the call being handled; empty outside one.
    private static var caller: String { RequestContext.current?.principal.realActor ?? "" }

    /// CreateApiKey's records kept the new key's token in the clear until its token was sealed
    /// like the others; those records go (a retry then makes a new key rather than reading one).
    static let unsealedTokensMigration = Migration(
        version: 12,
        name: "drop_unsealed_api_key_records",
        statements: ["DELETE FROM idempotency_records WHERE method = 'CreateApiKey'"],
        tenantOwnedTables: [])

    /// Deletes every record older than the retention: a request id that is not retried is
    /// otherwise kept for ever, and with it whatever its response held.
    @discardableResult
    static func sweep(now: Date = Date(), _ tx: any SQLTransaction) async throws -> Int {
        try await tx.changes("DELETE FROM idempotency_records WHERE create_time < \(now.addingTimeInterval(-retention))")
    }

    /// Runs `body` unless `requestID` was seen for this method, in which case the stored response
    /// is returned. An empty request id means the caller opted out.
    ///
    /// A response that carries a one-time secret (a token) names it in `sealing`: the record
    /// keeps it sealed, never in the clear.
    static func once<Response: SwiftProtobuf.Message>(
        _ tx: TenantTransaction,
        method: String,
        requestID: String,
        sealing secret: SealedToken<Response>? = nil,
        _ body: () async throws -> Response
    ) async throws -> Response {
        guard !requestID.isEmpty else { return try await body() }
        // A retry that overlaps its first attempt waits for it here, then finds its record,
        // rather than doing the work again and failing on the first attempt's rows.
        try await tx.serialize("idempotency/\(method)/\(caller)/\(requestID)")
        if let stored: Response = try await stored(tx, method: method, requestID: requestID) {
            return try secret?.opened(stored) ?? stored
        }
        let response = try await body()
        try await tx.insert(into: "idempotency_records", [
            ("caller", caller),
            ("method", method),
            ("request_id", requestID),
            ("response", try (secret?.sealed(response) ?? response).serializedBytes() as Data),
            ("create_time", Date()),
        ])
        return response
    }

    /// The response first given to `requestID`, if it is still kept. For a method that must do
    /// outside work (a payment provider's call, say) before its transaction, and so looks before
    /// it acts; it still records its response through `once`.
    static func stored<Response: SwiftProtobuf.Message>(_ tx: TenantTransaction, method: String, requestID: String) async throws -> Response? {
        guard !requestID.isEmpty else { return nil }
        let key: SQLStatement = "caller = \(caller) AND method = \(method) AND request_id = \(requestID)"
        guard let row = try await tx.select("response, create_time", from: "idempotency_records", where: key).first else { return nil }
        guard try row.date("create_time").timeIntervalSinceNow > -retention else {
            try await tx.delete(from: "idempotency_records", where: key)
            return nil
        }
        return try Response(serializedBytes: try row.data("response"))
    }
}
