import Foundation
import RPCRuntime
import SwiftProtobuf

/// Makes a create or action retried with the same `request_id` return its first result. The
/// record is written in the same transaction as the change, so a change and its record exist
/// together or not at all. Records are kept for a day, as long as clients usefully retry.
///
/// A record keeps a digest of its request (``RetryableRequest/retryDigest``): the id sent again
/// with a different request is INVALID_ARGUMENT, never the answer to the first.
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

    /// Records kept no digest of their request; those written before it match any request.
    static let requestDigestMigration = Migration(
        version: 24,
        name: "idempotency_records_request_digest",
        statements: ["ALTER TABLE idempotency_records ADD COLUMN request_digest BLOB"],
        tenantOwnedTables: [])

    /// The real actor of the call being handled; empty outside one.
    private static var caller: String { RequestContext.current?.principal.realActor ?? "" }

    /// CreateApiKey's records kept the new key's token in the clear until its token was sealed
    /// like the others; those records go (a retry then makes a new key rather than reading one).
    static let unsealedTokensMigration = Migration(
        version: 12,
        name: "drop_unsealed_api_key_records",
        statements: ["DELETE FROM idempotency_records WHERE method = 'CreateApiKey'"],
        tenantOwnedTables: [])

    /// The sweep's index: without it each pass, every five minutes on every replica, read the
    /// whole table to find what is past its day.
    static let sweepIndexMigration = Migration(
        version: 37,
        name: "idempotency_records_by_create_time",
        statements: ["CREATE INDEX idempotency_records_by_create_time ON idempotency_records (create_time)"],
        tenantOwnedTables: [])

    /// Deletes every record older than the retention: a request id that is not retried is
    /// otherwise kept for ever, and with it whatever its response held.
    @discardableResult
    static func sweep(now: Date = Date(), _ tx: any SQLTransaction) async throws -> Int {
        try await tx.changes("DELETE FROM idempotency_records WHERE create_time < \(now.addingTimeInterval(-retention))")
    }

    /// Runs `body` unless `request`'s id was seen for this method, in which case the stored
    /// response is returned. An empty request id means the caller opted out. `scope` narrows the
    /// id, for a request whose id alone does not say whose it is (a login link's redeem).
    ///
    /// A response that carries a one-time secret (a token) names it in `sealing`: the record
    /// keeps it sealed, never in the clear.
    static func once<Response: SwiftProtobuf.Message>(
        _ tx: TenantTransaction,
        method: String,
        for request: some RetryableRequest,
        scope: String? = nil,
        sealing secret: SealedToken<Response>? = nil,
        _ body: () async throws -> Response
    ) async throws -> Response {
        guard let requestID = key(of: request, scope: scope) else { return try await body() }
        // A retry that overlaps its first attempt waits for it here, then finds its record,
        // rather than doing the work again and failing on the first attempt's rows.
        try await tx.serialize("idempotency/\(method)/\(caller)/\(requestID)")
        if let stored: Response = try await stored(tx, method: method, for: request, scope: scope) {
            return try secret?.opened(stored) ?? stored
        }
        let response = try await body()
        try await tx.insert(into: "idempotency_records", [
            ("caller", caller),
            ("method", method),
            ("request_id", requestID),
            ("request_digest", try request.retryDigest),
            ("response", try (secret?.sealed(response) ?? response).serializedBytes() as Data),
            ("create_time", Date()),
        ])
        return response
    }

    /// The response first given to `request`'s id, if it is still kept. For a method that must
    /// do outside work (a payment provider's call, say) before its transaction, and so looks
    /// before it acts; it still records its response through `once`.
    static func stored<Response: SwiftProtobuf.Message>(
        _ tx: TenantTransaction, method: String, for request: some RetryableRequest, scope: String? = nil
    ) async throws -> Response? {
        guard let requestID = key(of: request, scope: scope) else { return nil }
        let key: SQLStatement = "caller = \(caller) AND method = \(method) AND request_id = \(requestID)"
        guard let row = try await tx.select("request_digest, response, create_time", from: "idempotency_records", where: key).first else {
            return nil
        }
        guard try row.date("create_time").timeIntervalSinceNow > -retention else {
            try await tx.delete(from: "idempotency_records", where: key)
            return nil
        }
        if let digest = try row.optionalData("request_digest"), digest != (try request.retryDigest) {
            throw ServiceError.invalidArgument(
                field: "request_id",
                "was sent within the last day with a different request; a new request needs a new request_id")
        }
        return try Response(serializedBytes: try row.data("response"))
    }

    private static func key(of request: some RetryableRequest, scope: String?) -> String? {
        guard !request.requestID.isEmpty else { return nil }
        return scope.map { "\($0)/\(request.requestID)" } ?? request.requestID
    }
}
