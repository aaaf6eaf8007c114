import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Impersonation sessions in the store, filed under the impersonated tenant. A session's token is
/// `spi_<session id>_<secret>`: the session id finds the row and only the secret's SHA-256 is
/// kept, as for API keys. A session is stored active, stopped or revoked; an active one past its
/// expire time reads as expired, so nothing has to run when it runs out.
enum ImpersonationRecords {
    static let tokenPrefix = "spi_"
    /// 30 minutes unless asked otherwise, and never more than an hour.
    static let lifetime = LifetimeRule(default: 30 * 60, max: 60 * 60, maxText: "60 minutes")

    struct Started {
        var session: ImpersonationSession
        var token: String
    }

    /// A session as stored, with what authentication and the handlers decide on.
    struct Stored {
        var tenantID: String
        var sessionID: String
        var actor: String
        var tokenHash: Data
        var session: ImpersonationSession
    }

    static func name(_ sessionID: String) -> String { "impersonationSessions/\(sessionID)" }

    /// A new active session of `actor` on `tx`'s tenant, and its token.
    static func start(
        actor: Principal, reason: String, lifetime: TimeInterval, _ tx: TenantTransaction, now: Date = Date()
    ) async throws -> Started {
        let sessionID = Tokens.id(bytes: 8)
        let secret = Tokens.secret()
        try await tx.insert(into: "impersonation_sessions", [
            ("session_id", sessionID),
            ("actor", actor.realActor),
            ("actor_tenant_id", actor.tenantID),
            ("reason", reason),
            ("token_hash", Tokens.hash(secret)),
            ("create_time", now),
            ("expire_time", now.addingTimeInterval(lifetime)),
            ("state", StoredState.active.rawValue),
        ])
        let stored = try await find(sessionID: sessionID, tx.base, now: now)!
        return Started(session: stored.session, token: "\(tokenPrefix)\(sessionID)_\(secret)")
    }

    /// The session with this id, within the transaction's scope.
    static func find(sessionID: String, _ tx: any SQLTransaction, now: Date = Date()) async throws -> Stored? {
        var condition: SQLStatement = "s.session_id = \(sessionID)"
        if case .tenant(let tenantID) = tx.scope { condition = condition + " AND s.tenant_id = \(tenantID)" }
        return try await tx.first("\(selectSessions) WHERE \(condition)").map { try stored(from: $0, now: now) }
    }

    /// A row of ``selectSessions`` as authentication and the handlers use it.
    private static func stored(from row: SQLRow, now: Date) throws -> Stored {
        Stored(
            tenantID: try row.string("tenant_id"),
            sessionID: try row.string("session_id"),
            actor: try row.string("actor"),
            tokenHash: try row.data("token_hash"),
            session: try session(from: row, now: now))
    }

    /// Ends an active session; false when it was no longer active.
    static func end(
        sessionID: String, as state: StoredState, by actor: String, reason: String?, _ tx: TenantTransaction, now: Date = Date()
    ) async throws -> Bool {
        try await tx.update(
            "impersonation_sessions",
            set: [("state", state.rawValue), ("end_time", now), ("ended_by", actor), ("end_reason", reason)],
            where: "session_id = \(sessionID) AND state = \(StoredState.active.rawValue) AND expire_time > \(now)") == 1
    }

    /// Revokes the active sessions `starter` (an API key's name) started, on every tenant; the
    /// sessions revoked, as they were before.
    static func revokeAll(
        startedBy starter: String, by actor: String, reason: String, _ tx: any SQLTransaction, now: Date = Date()
    ) async throws -> [Stored] {
        let active = try await tx.query(
            "\(selectSessions) WHERE s.actor = \(starter) AND s.state = \(StoredState.active.rawValue) AND s.expire_time > \(now)")
        var revoked: [Stored] = []
        for row in active {
            let session = try stored(from: row, now: now)
            let scoped = TenantTransaction(tenantID: session.tenantID, base: tx)
            if try await end(sessionID: session.sessionID, as: .revoked, by: actor, reason: reason, scoped, now: now) {
                revoked.append(session)
            }
        }
        return revoked
    }

    struct ListFilter {
        var tenantID: String?
        var realActor: String
        var state: ImpersonationSessionState

        /// The sessions in ``listed`` that match, their state as of `now`.
        func conditions(now: Date) -> [SQLStatement] {
            var conditions: [SQLStatement] = []
            if let tenantID { conditions.append("tenant_id = \(tenantID)") }
            if !realActor.isEmpty { conditions.append("actor = \(realActor)") }
            switch state {
            case .active: conditions.append("state = \(StoredState.active.rawValue) AND expire_time > \(now)")
            case .expired: conditions.append("state = \(StoredState.active.rawValue) AND expire_time <= \(now)")
            case .stopped: conditions.append("state = \(StoredState.stopped.rawValue)")
            case .revoked: conditions.append("state = \(StoredState.revoked.rawValue)")
            case .unspecified, .UNRECOGNIZED: break
            }
            return conditions
        }
    }

    /// Sessions with their tenant's current display name, for banners and lists.
    private static let selectSessions: SQLStatement = """
        SELECT s.*, t.display_name AS tenant_display_name
        FROM impersonation_sessions s LEFT JOIN tenants t ON t.tenant_id = s.tenant_id
        """

    /// The sessions as ``selectSessions`` reads them, as a table to list.
    static let listed = "(\(selectSessions.sql)) AS sessions"

    enum StoredState: String {
        case active, stopped, revoked
    }

    static func session(from row: SQLRow, now: Date) throws -> ImpersonationSession {
        let sessionID = try row.string("session_id")
        let start = try row.date("create_time")
        let expire = try row.date("expire_time")
        let state: ImpersonationSessionState
        switch StoredState(rawValue: try row.string("state")) {
        case .active?: state = expire > now ? .active : .expired
        case .stopped?: state = .stopped
        case .revoked?: state = .revoked
        case nil: throw ServiceError.internal("impersonation session \(sessionID) has an unknown state")
        }
        return try ImpersonationSession.with {
            $0.name = name(sessionID)
            $0.realActor = try row.string("actor")
            $0.tenant = ResourceName.tenant(try row.string("tenant_id"))
            $0.tenantDisplayName = try row.optionalString("tenant_display_name") ?? ""
            $0.reason = try row.string("reason")
            $0.ttl = Google_Protobuf_Duration(rounding: expire.timeIntervalSince(start), rule: .toNearestOrAwayFromZero)
            $0.state = state
            $0.tokenPrefix = "\(tokenPrefix)\(sessionID)"
            $0.startTime = Google_Protobuf_Timestamp(date: start)
            $0.expireTime = Google_Protobuf_Timestamp(date: expire)
            if let end = try row.optionalDate("end_time") {
                $0.endTime = Google_Protobuf_Timestamp(date: end)
            }
            $0.endedBy = try row.optionalString("ended_by") ?? ""
            $0.endReason = try row.optionalString("end_reason") ?? ""
        }
    }
}
