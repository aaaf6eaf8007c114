import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.impersonation.v1.ImpersonationService: "login as tenant" (plan section 7).
///
/// An owner starts a session on one tenant with a reason and gets a short-lived token; calls made
/// with it act as that tenant's admin while the runtime and the audit log keep the owner as the
/// real actor. Start, stop and revoke are audit events in the same transaction as their change.
public struct ImpersonationHandler: ImpersonationServiceHandler {
    let database: any Database
    /// Seals the token inside a start's idempotency record, so a retry gets it back while the
    /// store never holds it in the clear.
    let sealer: SecretSealer

    public init(database: any Database, sealer: SecretSealer) {
        self.database = database
        self.sealer = sealer
    }

    public func whoAmI(_ request: WhoAmIRequest, context: RequestContext) async throws -> WhoAmIResponse {
        let principal = context.principal
        var banner: ImpersonationBanner?
        if let sessionID = principal.impersonationSessionID {
            let stored = try await database.transaction(.tenant(principal.tenantID)) { tx in
                try await ImpersonationRecords.find(sessionID: sessionID, tx)
            }
            guard let session = stored?.session else { throw ServiceError.notFound(ImpersonationRecords.name(sessionID)) }
            banner = .with {
                $0.text = "You are viewing as \(session.tenantDisplayName) – Exit"
                $0.tenantDisplayName = session.tenantDisplayName
                $0.expireTime = session.expireTime
                $0.session = session.name
            }
        }
        return WhoAmIResponse.with {
            $0.principal = principal.subject
            $0.realActor = principal.realActor
            $0.role = principal.realActorRole.proto
            $0.effectiveRole = principal.role.proto
            if !principal.role.isPlatform || principal.isImpersonating {
                $0.effectiveTenant = ResourceName.tenant(principal.tenantID)
            }
            if let banner { $0.impersonation = banner }
        }
    }

    public func startImpersonation(_ request: StartImpersonationRequest, context: RequestContext) async throws -> StartImpersonationResponse {
        guard let tenantID = ResourceName.tenantID(of: request.tenant) else {
            throw ServiceError.invalidArgument(field: "tenant", "must be tenants/{tenant}")
        }
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ServiceError.invalidArgument(field: "reason", "is required: say why you impersonate") }
        let lifetime = try ImpersonationRecords.lifetime.seconds(request.hasTtl ? request.ttl : nil)
        let principal = context.principal
        let sealer = sealer
        return try await database.transaction(.platform) { tx in
            let caller = TenantTransaction(tenantID: principal.tenantID, base: tx)
            return try await IdempotencyRecords.once(
                caller, method: "StartImpersonation", for: request,
                sealing: SealedToken(\.token, boundTo: { $0.session.name }, with: sealer)
            ) {
                let target = TenantTransaction(tenantID: tenantID, base: tx)
                guard try await TenantRecords.find(target) != nil else { throw ServiceError.notFound(request.tenant) }
                let started = try await ImpersonationRecords.start(actor: principal, reason: reason, lifetime: lifetime, target)
                try await AuditLog.record(target, context: context, resource: started.session.name, details: [
                    "reason": reason,
                    "ttl": "\(Int(lifetime))s",
                ])
                return StartImpersonationResponse.with {
                    $0.session = started.session
                    $0.token = started.token
                }
            }
        }
    }

    public func stopImpersonation(_ request: StopImpersonationRequest, context: RequestContext) async throws -> ImpersonationSession {
        let principal = context.principal
        let sessionID: String
        if request.name.isEmpty {
            guard let own = principal.impersonationSessionID else {
                throw ServiceError.invalidArgument(field: "name", "is required unless the call is made with the session's own token")
            }
            sessionID = own
        } else {
            sessionID = try Self.sessionID(in: request.name)
        }
        // The session's token names the session, so a stop made with it and retried with the
        // owner's key, naming the session, is the same request.
        var named = request
        named.name = ImpersonationRecords.name(sessionID)
        return try await end(
            sessionID, as: .stopped, reason: nil, method: "StopImpersonation", request: named, context: context
        ) { stored in
            // Stopping is for the owner who started the session; anyone else revokes it.
            guard stored.actor == principal.realActor else {
                throw ServiceError.permissionDenied(
                    reason: "not_session_owner",
                    message: "\(stored.session.name) was started by \(stored.actor); end it with RevokeImpersonation")
            }
        }
    }

    public func revokeImpersonation(_ request: RevokeImpersonationRequest, context: RequestContext) async throws -> ImpersonationSession {
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await end(
            try Self.sessionID(in: request.name), as: .revoked, reason: reason.isEmpty ? nil : reason,
            method: "RevokeImpersonation", request: request, context: context
        ) { _ in }
    }

    public func getImpersonationSession(_ request: GetImpersonationSessionRequest, context: RequestContext) async throws -> ImpersonationSession {
        let sessionID = try Self.sessionID(in: request.name)
        guard let stored = try await database.transaction(.platform, { try await ImpersonationRecords.find(sessionID: sessionID, $0) }) else {
            throw ServiceError.notFound(request.name)
        }
        return stored.session
    }

    public func listImpersonationSessions(_ request: ListImpersonationSessionsRequest, context: RequestContext) async throws -> ListImpersonationSessionsResponse {
        var tenantID: String?
        if !request.tenant.isEmpty {
            guard let id = ResourceName.tenantID(of: request.tenant) else {
                throw ServiceError.invalidArgument(field: "tenant", "must be tenants/{tenant}")
            }
            tenantID = id
        }
        let filter = ImpersonationRecords.ListFilter(tenantID: tenantID, realActor: request.realActor, state: request.state)
        let paging = try PageRequest(request)
        let order = ListOrder(column: "create_time", direction: .newestFirst, idColumn: "session_id")
        let now = Date()
        let sessions = try await database.transaction(.platform) { tx in
            try await order.page(of: ImpersonationRecords.listed, where: filter.conditions(now: now), paging, tx) {
                try ImpersonationRecords.session(from: $0, now: now)
            }
        }
        return ListImpersonationSessionsResponse.with {
            $0.sessions = sessions.items
            $0.nextPageToken = sessions.nextPageToken
        }
    }

    // MARK: Rules

    /// Ends an active session as stopped or revoked, with its audit event, in one transaction
    /// filed under the session's tenant. `check` runs first, on the session as stored.
    private func end(
        _ sessionID: String,
        as state: ImpersonationRecords.StoredState,
        reason: String?,
        method: String,
        request: some RetryableRequest,
        context: RequestContext,
        check: @escaping @Sendable (ImpersonationRecords.Stored) throws -> Void
    ) async throws -> ImpersonationSession {
        let principal = context.principal
        return try await database.transaction(.platform) { tx in
            guard let stored = try await ImpersonationRecords.find(sessionID: sessionID, tx) else {
                throw ServiceError.notFound(ImpersonationRecords.name(sessionID))
            }
            try check(stored)
            // Filed under the real actor's own tenant: a stop made with the session's token, whose
            // answer was lost, is retried with the owner's key (the token no longer works).
            let callerTenant = principal.realActorRole.isPlatform ? TenantRecords.rootID : principal.tenantID
            let caller = TenantTransaction(tenantID: callerTenant, base: tx)
            return try await IdempotencyRecords.once(caller, method: method, for: request) {
                let scoped = TenantTransaction(tenantID: stored.tenantID, base: tx)
                guard try await ImpersonationRecords.end(sessionID: sessionID, as: state, by: principal.realActor, reason: reason, scoped) else {
                    throw ServiceError.failedPrecondition(
                        reason: "impersonation_not_active",
                        message: "\(stored.session.name) is no longer active (\(stored.session.state.shortName))",
                        metadata: ["session": stored.session.name, "state": stored.session.state.shortName])
                }
                var details: [String: String] = [:]
                if let reason { details["reason"] = reason }
                try await AuditLog.record(scoped, context: context, resource: stored.session.name, details: details)
                return try await ImpersonationRecords.find(sessionID: sessionID, tx)!.session
            }
        }
    }

    static func sessionID(in name: String) throws -> String {
        guard name.hasPrefix("impersonationSessions/"), let id = ResourceName.id(of: name, after: "impersonationSessions") else {
            throw ServiceError.invalidArgument(field: "name", "must be impersonationSessions/{session}")
        }
        return id
    }
}

extension ListImpersonationSessionsRequest: PagedListRequest {}

extension ImpersonationSessionState {
    /// Lower-case, for messages and error metadata.
    var shortName: String {
        switch self {
        case .active: return "active"
        case .stopped: return "stopped"
        case .revoked: return "revoked"
        case .expired: return "expired"
        case .unspecified, .UNRECOGNIZED: return "unspecified"
        }
    }
}
