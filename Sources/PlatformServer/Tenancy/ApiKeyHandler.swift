import RPCRuntime
import ServiceProAPI

/// servicepro.tenancy.v1.ApiKeyService over the store.
public struct ApiKeyHandler: ApiKeyServiceHandler {
    let database: any Database
    /// Told about each revocation once it has committed.
    let cache: ApiKeyCache
    /// Seals a new key's token in the create's idempotency record.
    let sealer: SecretSealer

    public init(database: any Database, cache: ApiKeyCache, sealer: SecretSealer) {
        self.database = database
        self.cache = cache
        self.sealer = sealer
    }

    public func createApiKey(_ request: CreateApiKeyRequest, context: RequestContext) async throws -> CreateApiKeyResponse {
        let tenantID = try context.requireTenant()
        guard let role = Role(proto: request.role) else {
            throw ServiceError.invalidArgument(field: "role", "must be a defined role")
        }
        try Self.checkMayGrant(role, tenantID: tenantID, caller: context.principal)
        let sealer = sealer, creator = context.principal.realActor
        return try await database.withTenant(tenantID, madeBy: creator) { tx in
            try await IdempotencyRecords.once(
                tx, method: "CreateApiKey", for: request,
                sealing: SealedToken(\.token, boundTo: { $0.apiKey.name }, with: sealer)
            ) {
                guard let tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(request.parent) }
                try await LiveCreator.require(creator, tx)
                // A partner key is of no use on a plan without the partner API; say so now.
                if role == .partner { try PlanCatalog.require(.partnerAPI, in: tenant.planTier.catalogTier) }
                let issued = try await ApiKeyRecords.issue(
                    displayName: request.displayName, role: role, creator: creator, tx)
                try await AuditLog.record(tx, context: context, resource: issued.apiKey.name, details: ["role": role.rawValue])
                return CreateApiKeyResponse.with {
                    $0.apiKey = issued.apiKey
                    $0.token = issued.token
                }
            }
        }
    }

    /// Platform roles live on the root tenant and only the owner hands them out; nobody grants
    /// more than they hold.
    static func checkMayGrant(_ role: Role, tenantID: String, caller: Principal) throws {
        if role.isPlatform {
            guard tenantID == TenantRecords.rootID else {
                throw ServiceError.invalidArgument(field: "role", "platform roles exist only on tenants/root")
            }
            guard caller.role == .platformOwner else {
                throw ServiceError.permissionDenied(reason: "role_not_grantable", message: "only the platform owner can create \(role.rawValue) keys")
            }
        }
    }

    /// Keys with platform roles are the owner's to revoke as well as to grant: staff or a root
    /// admin could otherwise lock the owner out, or cut the Twilio bridge off.
    static func checkMayRevoke(_ role: Role?, caller: Principal) throws {
        if role?.isPlatform ?? true, caller.role != .platformOwner {
            throw ServiceError.permissionDenied(
                reason: "role_not_revocable", message: "only the platform owner can revoke \(role?.rawValue ?? "platform") keys")
        }
    }

    public func listApiKeys(_ request: ListApiKeysRequest, context: RequestContext) async throws -> ListApiKeysResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        let keys = try await database.transaction(.tenant(tenantID)) { tx in
            try await ListOrder(column: "create_time", direction: .newestFirst, idColumn: "key_id")
                .page(of: "api_keys", where: [], paging, tx, item: ApiKeyRecords.apiKey(from:))
        }
        return ListApiKeysResponse.with {
            $0.apiKeys = keys.items
            $0.nextPageToken = keys.nextPageToken
        }
    }

    public func getApiKey(_ request: GetApiKeyRequest, context: RequestContext) async throws -> ApiKey {
        let tenantID = try context.requireTenant()
        guard let keyID = ResourceName.id(of: request.name, after: "apiKeys"),
              let key = try await database.withTenant(tenantID, { try await ApiKeyRecords.find(keyID: keyID, $0) })
        else { throw ServiceError.notFound(request.name) }
        return key
    }

    public func revokeApiKey(_ request: RevokeApiKeyRequest, context: RequestContext) async throws -> ApiKey {
        let tenantID = try context.requireTenant()
        guard let keyID = ResourceName.id(of: request.name, after: "apiKeys") else {
            throw ServiceError.invalidArgument(field: "name", "must be tenants/{tenant}/apiKeys/{api_key}")
        }
        defer { cache.forget(keyID: keyID) }
        // What a platform key started may be on any tenant; a tenant's own people revoke under
        // its row-level security, as every other call of theirs runs.
        let scope: DataScope = context.principal.role.isPlatform ? .platform : .tenant(tenantID)
        let (revoked, alsoRevoked) = try await database.transaction(scope) { base in
            let tx = TenantTransaction(tenantID: tenantID, base: base)
            guard let key = try await ApiKeyRecords.find(keyID: keyID, tx) else { throw ServiceError.notFound(request.name) }
            try Self.checkMayRevoke(Role(proto: key.role), caller: context.principal)
            // Revoking a revoked key again changes nothing, and its event says so.
            let changed = try await ApiKeyRecords.revoke(keyID: keyID, tx)
            try await AuditLog.record(tx, context: context, resource: request.name, details: ["changed": changed ? "true" : "false"])
            var alsoRevoked = try await Self.endWhatItStarted(key.name, context: context, base)
            if request.revokeKeysItMade { alsoRevoked += try await Self.revokeKeysMade(by: key.name, context: context, base) }
            // Gone if its tenant was deleted in between (on PostgreSQL each statement sees the
            // latest commit): the key is no more, as for any other missing key.
            guard let revoked = try await ApiKeyRecords.find(keyID: keyID, tx) else { throw ServiceError.notFound(request.name) }
            return (revoked, alsoRevoked)
        }
        cache.forget(alsoRevoked)
        return revoked
    }

    /// A revoked key's impersonation sessions, and the login links it made that are still live
    /// with the keys their sessions made, end with it, each on its tenant's record and audit
    /// trail: a leaked key is not left working through what it handed out, and nothing reads as
    /// active while its token is refused. The keys revoked on the way, for the cache to forget.
    private static func endWhatItStarted(_ keyName: String, context: RequestContext, _ tx: any SQLTransaction) async throws -> [ApiKey] {
        let actor = context.principal.realActor
        let reason = "\(keyName), which made it, was revoked"
        for session in try await ImpersonationRecords.revokeAll(startedBy: keyName, by: actor, reason: reason, tx) {
            let scoped = TenantTransaction(tenantID: session.tenantID, base: tx)
            try await AuditLog.record(scoped, context: context, resource: session.session.name, details: ["reason": reason])
        }
        var keys: [ApiKey] = []
        for link in try await LoginLinkRecords.revokeAll(createdBy: keyName, by: actor, tx) {
            let scoped = TenantTransaction(tenantID: link.tenantID, base: tx)
            try await AuditLog.record(scoped, context: context, resource: link.link.name, details: ["reason": reason])
            keys += try await revokeKeys(madeBy: link.link.name, context: context, scoped)
        }
        return keys
    }

    /// Revokes the keys `maker` (a key) made, and those they made, on every tenant the
    /// transaction sees (a platform key makes keys on any tenant, and a staff key it made makes
    /// keys on others), each with its audit event; what each of them started ends with it. The
    /// keys revoked. A key revoked before is passed through: the keys it made still go.
    private static func revokeKeysMade(by maker: String, context: RequestContext, _ tx: any SQLTransaction) async throws -> [ApiKey] {
        var revoked: [ApiKey] = []
        var makers = [maker]
        while let maker = makers.popLast() {
            for row in try await tx.query("SELECT * FROM api_keys WHERE creator = \(maker) ORDER BY tenant_id, key_id") {
                let key = try ApiKeyRecords.apiKey(from: row)
                let scoped = TenantTransaction(tenantID: try row.string("tenant_id"), base: tx)
                makers.append(key.name)
                guard try await ApiKeyRecords.revoke(keyID: try row.string("key_id"), scoped) else { continue }
                try await AuditLog.record(scoped, context: context, resource: key.name, details: ["reason": "\(maker), which made it, was revoked with the keys it made"])
                revoked.append(key)
                revoked += try await endWhatItStarted(key.name, context: context, tx)
            }
        }
        return revoked
    }

    /// Revokes the keys `maker` (a login link) made in its session, and those they made, each
    /// with its audit event; the keys revoked.
    static func revokeKeys(madeBy maker: String, context: RequestContext, _ tx: TenantTransaction) async throws -> [ApiKey] {
        let keys = try await ApiKeyRecords.revokeAll(madeBy: maker, tx)
        for key in keys {
            try await AuditLog.record(tx, context: context, resource: key.name, details: ["reason": "\(maker), whose session made it, was revoked"])
        }
        return keys
    }
}

extension ListApiKeysRequest: PagedListRequest {}
