import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.concierge.v1.LoginLinkService: quick login links ("Copy quick login link" after a
/// concierge setup).
///
/// Staff create a link for a tenant role; its token and URL are shown once, and the store keeps
/// only the token's hash (and, for a retried create, a sealed copy in the idempotency record).
/// Whoever holds the token redeems it once, without a bearer token, for a short-lived session
/// token of the link's tenant and role (``LoginSessionAuthenticator`` accepts it). Create, revoke
/// and redeem are audit events in the same transaction as their change. Revoking a link revokes
/// the API keys its session made, whatever the link's state: a link that leaked leaves no key.
public struct LoginLinkHandler: LoginLinkServiceHandler {
    public static let defaultLinkBaseURL = "https://app.servicepro.dev/login"

    let database: any Database
    /// Seals the token inside create's and redeem's idempotency records, so a retry gets it back
    /// while the store never holds it in the clear.
    let sealer: SecretSealer
    /// Told about the keys a revoke revokes, once it has committed.
    let apiKeys: ApiKeyCache
    /// Where the link points; the token goes in its `token` query parameter.
    let linkBaseURL: String

    public init(
        database: any Database,
        sealer: SecretSealer,
        apiKeys: ApiKeyCache,
        linkBaseURL: String = LoginLinkHandler.defaultLinkBaseURL
    ) {
        self.database = database
        self.sealer = sealer
        self.apiKeys = apiKeys
        self.linkBaseURL = linkBaseURL
    }

    public func createLoginLink(_ request: CreateLoginLinkRequest, context: RequestContext) async throws -> CreateLoginLinkResponse {
        let tenantID = try context.requireTenant()
        guard let role = Role(proto: request.role), LoginLinkRecords.grantableRoles.contains(role) else {
            throw ServiceError.invalidArgument(field: "role", "must be ROLE_TENANT_ADMIN or ROLE_TENANT_MEMBER")
        }
        let lifetime = try LoginLinkRecords.lifetime.seconds(request.hasTtl ? request.ttl : nil)
        let recipient = request.recipient.trimmingCharacters(in: .whitespacesAndNewlines)
        let creator = context.principal.realActor
        let sealer = sealer
        var response = try await database.withTenant(tenantID, madeBy: creator) { tx in
            try await IdempotencyRecords.once(
                tx, method: "CreateLoginLink", for: request,
                sealing: SealedToken(\.token, boundTo: { $0.loginLink.name }, with: sealer)
            ) {
                guard try await TenantRecords.find(tx) != nil else { throw ServiceError.notFound(request.parent) }
                try await LiveCreator.require(creator, tx)
                let created = try await LoginLinkRecords.create(
                    role: role, recipient: recipient, lifetime: lifetime, creator: creator, tx)
                var details = ["role": role.rawValue, "ttl": "\(Int(lifetime.rounded()))s"]
                if !recipient.isEmpty { details["recipient"] = recipient }
                try await AuditLog.record(tx, context: context, resource: created.link.name, details: details)
                return CreateLoginLinkResponse.with {
                    $0.loginLink = created.link
                    $0.token = created.token
                }
            }
        }
        // Added after the record is kept: the URL embeds the token.
        response.url = LoginLinkRecords.url(for: response.token, base: linkBaseURL)
        return response
    }

    public func listLoginLinks(_ request: ListLoginLinksRequest, context: RequestContext) async throws -> ListLoginLinksResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        let order = ListOrder(column: "create_time", direction: .newestFirst, idColumn: "link_id")
        let now = Date()
        let conditions = LoginLinkRecords.conditions(state: request.state, now: now)
        let links = try await database.transaction(.tenant(tenantID)) { tx in
            try await order.page(of: "login_links", where: conditions, paging, tx) {
                try LoginLinkRecords.stored(from: $0, now: now).link
            }
        }
        return ListLoginLinksResponse.with {
            $0.loginLinks = links.items
            $0.nextPageToken = links.nextPageToken
        }
    }

    public func getLoginLink(_ request: GetLoginLinkRequest, context: RequestContext) async throws -> LoginLink {
        let tenantID = try context.requireTenant()
        guard let linkID = ResourceName.id(of: request.name, after: "loginLinks"),
              let found = try await database.withTenant(tenantID, { try await LoginLinkRecords.find(linkID: linkID, in: $0, now: Date()) })
        else { throw ServiceError.notFound(request.name) }
        return found.link
    }

    public func revokeLoginLink(_ request: RevokeLoginLinkRequest, context: RequestContext) async throws -> LoginLink {
        let tenantID = try context.requireTenant()
        guard let linkID = ResourceName.id(of: request.name, after: "loginLinks") else {
            throw ServiceError.invalidArgument(field: "name", "must be tenants/{tenant}/loginLinks/{login_link}")
        }
        let actor = context.principal.realActor
        let (link, revokedKeys) = try await database.withTenant(tenantID) { tx in
            var revokedKeys: [ApiKey] = []
            let link = try await IdempotencyRecords.once(tx, method: "RevokeLoginLink", for: request) {
                let now = Date()
                guard let before = try await LoginLinkRecords.find(linkID: linkID, in: tx, now: now) else {
                    throw ServiceError.notFound(request.name)
                }
                // A used link's live session ends; an expired or already revoked link stays as it is.
                let changed = try await LoginLinkRecords.revoke(linkID: linkID, by: actor, tx, now: now)
                try await AuditLog.record(tx, context: context, resource: before.link.name, details: [
                    "previous_state": LoginLinkRecords.stateName(before.link.state),
                    "changed": changed ? "true" : "false",
                ])
                revokedKeys = try await ApiKeyHandler.revokeKeys(madeBy: before.link.name, context: context, tx)
                guard let after = try await LoginLinkRecords.find(linkID: linkID, in: tx, now: now) else {
                    throw ServiceError.notFound(request.name)
                }
                return after.link
            }
            return (link, revokedKeys)
        }
        apiKeys.forget(revokedKeys)
        return link
    }

    public func redeemLoginLink(_ request: RedeemLoginLinkRequest, context: RequestContext) async throws -> RedeemLoginLinkResponse {
        // An unknown token, a malformed one and a wrong secret for a real link all get this same
        // answer, so a caller learns nothing about which links exist.
        let invalid = ServiceError.unauthenticated(
            reason: "invalid_token", message: "this login link is not valid; ask for a new one")
        guard let parsed = LoginLinkRecords.parse(request.token, prefix: LoginLinkRecords.tokenPrefix) else { throw invalid }
        let presented = Tokens.hash(parsed.secret)
        let sealer = sealer
        let sessionLifetime = LoginLinkRecords.sessionLifetime
        // The method takes no key, so anyone may send any token: one that matches no link is
        // refused on a read, beside the writers, rather than taking the store's writer (on SQLite
        // the one every tenant's writes queue for) to find out.
        let known = try await database.read(.platform) { tx in
            try await LoginLinkRecords.findOnAnyTenant(linkID: parsed.linkID, tx)
        }
        guard let known, ConstantTime.equal(known.tokenHash, presented) else { throw invalid }
        // The request has no tenant: the token finds the link across tenants, and the rest is
        // filed under the link's tenant.
        return try await database.transaction(.platform) { tx in
            let now = Date()
            guard let stored = try await LoginLinkRecords.findOnAnyTenant(linkID: parsed.linkID, tx, now: now),
                  ConstantTime.equal(stored.tokenHash, presented)
            else { throw invalid }
            // A refused redeem of a real link is audited under its tenant, naming the link.
            CallRecord.current?.tenantID = stored.tenantID
            CallRecord.current?.resourceName = stored.link.name
            let scoped = TenantTransaction(tenantID: stored.tenantID, base: tx)
            // Keyed by link as well: a request id says nothing about which token it came with.
            return try await IdempotencyRecords.once(
                scoped, method: "RedeemLoginLink", for: request, scope: parsed.linkID,
                sealing: SealedToken(\.token, boundTo: { _ in stored.link.name + "/session" }, with: sealer)
            ) {
                let sessionSecret = Tokens.secret()
                let sessionExpireTime = now.addingTimeInterval(sessionLifetime)
                let redeemed = try await LoginLinkRecords.redeem(
                    linkID: parsed.linkID, sessionTokenHash: Tokens.hash(sessionSecret),
                    sessionExpireTime: sessionExpireTime, scoped, now: now)
                guard redeemed else {
                    // Read again: a concurrent redeem may have won since the first read.
                    let current = try await LoginLinkRecords.find(linkID: parsed.linkID, in: scoped, now: now) ?? stored
                    throw Self.notRedeemable(current.link)
                }
                // Nobody signed in yet: the link itself is the actor that redeemed.
                var redeemer = context
                redeemer.principal = Principal(subject: stored.link.name, role: stored.role, tenantID: stored.tenantID)
                try await AuditLog.record(scoped, context: redeemer, resource: stored.link.name, details: [
                    "role": stored.role.rawValue,
                    "session_ttl": "\(Int(sessionLifetime.rounded()))s",
                ])
                return RedeemLoginLinkResponse.with {
                    $0.tenant = ResourceName.tenant(stored.tenantID)
                    $0.role = stored.role.proto
                    $0.token = "\(LoginLinkRecords.sessionTokenPrefix)\(parsed.linkID)_\(sessionSecret)"
                    $0.expireTime = Google_Protobuf_Timestamp(date: sessionExpireTime)
                }
            }
        }
    }

    // MARK: Rules

    /// Why a link that is not active does not redeem, with the stable reason that says which.
    static func notRedeemable(_ link: LoginLink) -> ServiceError {
        switch link.state {
        case .redeemed:
            return .unauthenticated(reason: "login_link_used", message: "\(link.name) was already used; ask for a new link")
        case .revoked:
            return .unauthenticated(reason: "login_link_revoked", message: "\(link.name) was revoked; ask for a new link")
        case .expired:
            return .unauthenticated(
                reason: "login_link_expired", message: "\(link.name) expired at \(link.expireTime.date); ask for a new link")
        case .active, .unspecified, .UNRECOGNIZED:
            return ServiceError.internal("\(link.name) is \(LoginLinkRecords.stateName(link.state)) but did not redeem")
        }
    }
}

extension ListLoginLinksRequest: PagedListRequest {}
