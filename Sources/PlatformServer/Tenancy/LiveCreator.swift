import RPCRuntime

/// What a key or a login link makes goes with it when it is revoked: ``ApiKeyHandler`` revokes
/// a key's keys, login links and sessions with it, and a link's session's keys with the link.
/// A create authenticated before such a revoke may reach the store after the revoke looked for
/// what to take, and what it made would then outlive its maker. So a create reads its maker
/// again in its own transaction, locked against a revoke running meanwhile: one waits for the
/// other, and either the create is refused or the revoke finds what it made.
///
/// ```swift
/// return try await database.withTenant(tenantID, madeBy: creator) { tx in
///     try await LiveCreator.require(creator, tx)
///     // ... insert what `creator` makes on the tenant
/// }
/// ```
enum LiveCreator {
    /// Refuses the call when `creator`, a key or a login link on any tenant, has been revoked.
    /// The transaction must see the creator's tenant: ``Database/withTenant(_:madeBy:_:)`` opens one that does.
    static func require(_ creator: String, _ tx: TenantTransaction) async throws {
        guard let tenantID = ResourceName.tenantID(of: creator) else { return }
        let row: SQLStatement
        if let linkID = ResourceName.id(of: creator, after: "loginLinks") {
            row = "FROM login_links WHERE tenant_id = \(tenantID) AND link_id = \(linkID)"
        } else if let keyID = ResourceName.id(of: creator, after: "apiKeys") {
            row = "FROM api_keys WHERE tenant_id = \(tenantID) AND key_id = \(keyID)"
        } else {
            return
        }
        let revoked = try await tx.base.first("SELECT revoke_time " + row + SQLStatement(sql: tx.base.dialect.forShare))?.optionalDate("revoke_time") != nil
        if revoked {
            throw ServiceError.unauthenticated(reason: "session_revoked", message: "\(creator) was revoked while this call ran; nothing was created")
        }
    }
}

extension Database {
    /// Runs `body` in a transaction for `tenantID` that also sees `creator`'s row. A maker on
    /// another tenant (a platform key, or the owner behind an impersonation session) lives on
    /// the root tenant, which the tenant's row-level security hides: the transaction is then
    /// the platform's, and what `body` reads and writes is still kept to `tenantID` by
    /// ``TenantTransaction``, as a revoke by a platform key does.
    func withTenant<Result: Sendable>(
        _ tenantID: String, madeBy creator: String, _ body: @Sendable (TenantTransaction) async throws -> Result
    ) async throws -> Result {
        let scope: DataScope = ResourceName.tenantID(of: creator) == tenantID ? .tenant(tenantID) : .platform
        return try await transaction(scope) { try await body(TenantTransaction(tenantID: tenantID, base: $0)) }
    }
}
