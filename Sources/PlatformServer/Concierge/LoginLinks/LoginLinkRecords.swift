import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Quick login links in the store, filed under the tenant they log into.
///
/// A link's token is `spl_<link id>_<secret>`: the link id finds the row and only the secret's
/// SHA-256 is kept, as for API keys and impersonation sessions. Redeeming a link, once, stores the
/// session it opened on the same row: the session's token is `sps_<link id>_<secret>`, again kept
/// only as a hash, with its own expire time. A link is active until it is redeemed, revoked or
/// past its expire time; nothing has to run when it runs out.
enum LoginLinkRecords {
    static let tokenPrefix = "spl_"
    static let sessionTokenPrefix = "sps_"
    /// A link works for a day unless asked otherwise, and never more than a week.
    static let lifetime = LifetimeRule(default: 24 * 3600, max: 7 * 24 * 3600, maxText: "7 days")
    /// How long the session a redeemed link opens lasts: a working day.
    static let sessionLifetime: TimeInterval = 12 * 3600
    /// The roles a link may grant.
    static let grantableRoles: Set<Role> = [.tenantAdmin, .tenantMember]

    static let migration = Migration(
        version: 9,
        name: "login_links",
        statements: [
            // Only SHA-256 hashes of the link's and its session's secrets are kept. A link is
            // redeemed at most once: redeem_time is set by one conditional update.
            """
            CREATE TABLE login_links (
                tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                link_id TEXT NOT NULL,
                role TEXT NOT NULL,
                recipient TEXT NOT NULL DEFAULT '',
                token_hash BLOB NOT NULL,
                creator TEXT NOT NULL,
                create_time BIGINT NOT NULL,
                expire_time BIGINT NOT NULL,
                redeem_time BIGINT,
                revoke_time BIGINT,
                revoked_by TEXT,
                session_token_hash BLOB,
                session_expire_time BIGINT,
                PRIMARY KEY (tenant_id, link_id)
            )
            """,
            // Redeeming and session authentication find a link by id across tenants.
            "CREATE UNIQUE INDEX login_links_by_id ON login_links (link_id)",
            "CREATE UNIQUE INDEX login_links_by_token_hash ON login_links (token_hash)",
            "CREATE INDEX login_links_by_time ON login_links (tenant_id, create_time DESC, link_id)",
        ],
        tenantOwnedTables: ["login_links"]
    )

    struct Created {
        var link: LoginLink
        var token: String
    }

    /// A link as stored, with what redeeming and authentication decide on.
    struct Stored {
        var tenantID: String
        var linkID: String
        var role: Role
        var tokenHash: Data
        var link: LoginLink
    }

    /// A token split into the link id that finds the row and the secret whose hash is compared.
    struct ParsedToken {
        var linkID: String
        var secret: String
    }

    static func name(tenantID: String, linkID: String) -> String { "tenants/\(tenantID)/loginLinks/\(linkID)" }

    /// A new active link on `tx`'s tenant, and its token.
    static func create(
        role: Role, recipient: String, lifetime: TimeInterval, creator: String, _ tx: TenantTransaction, now: Date = Date()
    ) async throws -> Created {
        let linkID = Tokens.id(bytes: 8)
        let secret = Tokens.secret()
        try await tx.insert(into: "login_links", [
            ("link_id", linkID),
            ("role", role.rawValue),
            ("recipient", recipient),
            ("token_hash", Tokens.hash(secret)),
            ("creator", creator),
            ("create_time", now),
            ("expire_time", now.addingTimeInterval(lifetime)),
        ])
        let stored = try await find(linkID: linkID, in: tx, now: now)!
        return Created(link: stored.link, token: "\(tokenPrefix)\(linkID)_\(secret)")
    }

    /// The link with this id on `tx`'s tenant.
    static func find(linkID: String, in tx: TenantTransaction, now: Date = Date()) async throws -> Stored? {
        guard let row = try await tx.select(from: "login_links", where: "link_id = \(linkID)").first else { return nil }
        return try stored(from: row, now: now)
    }

    /// The link with this id on any tenant, for a platform-scoped transaction: redeeming knows
    /// only the token.
    static func findOnAnyTenant(linkID: String, _ tx: any SQLTransaction, now: Date = Date()) async throws -> Stored? {
        guard let row = try await tx.first("SELECT * FROM login_links WHERE link_id = \(linkID)") else { return nil }
        return try stored(from: row, now: now)
    }

    /// Marks an active link redeemed and stores the session it opens; false when the link was no
    /// longer active. One conditional update, so of concurrent redeems exactly one wins.
    static func redeem(
        linkID: String, sessionTokenHash: Data, sessionExpireTime: Date, _ tx: TenantTransaction, now: Date = Date()
    ) async throws -> Bool {
        try await tx.update(
            "login_links",
            set: [("redeem_time", now), ("session_token_hash", sessionTokenHash), ("session_expire_time", sessionExpireTime)],
            where: "link_id = \(linkID) AND \(activeCondition(now: now))") == 1
    }

    /// Revokes an active link, or ends the live session a redeemed one opened (a forwarded link
    /// may have been redeemed by someone else); false when there was nothing left to stop: the
    /// link was already revoked, or it expired, or so did its session.
    static func revoke(linkID: String, by actor: String, _ tx: TenantTransaction, now: Date = Date()) async throws -> Bool {
        try await tx.update(
            "login_links", set: [("revoke_time", now), ("revoked_by", actor)],
            where: "link_id = \(linkID) AND \(liveCondition(now: now))") == 1
    }

    /// A link that still lets someone in: active, or redeemed with its session still open.
    private static func liveCondition(now: Date) -> SQLStatement {
        "(\(activeCondition(now: now)) OR (redeem_time IS NOT NULL AND revoke_time IS NULL AND session_expire_time > \(now)))"
    }

    /// Revokes, on every tenant, the links `creator` (an API key's name) made that are still
    /// live: not yet redeemed, or with a session still open; the links revoked, as they were.
    static func revokeAll(createdBy creator: String, by actor: String, _ tx: any SQLTransaction, now: Date = Date()) async throws -> [Stored] {
        let live = try await tx.query("SELECT * FROM login_links WHERE creator = \(creator) AND \(liveCondition(now: now))")
            .map { try stored(from: $0, now: now) }
        var revoked: [Stored] = []
        for link in live {
            if try await revoke(linkID: link.linkID, by: actor, TenantTransaction(tenantID: link.tenantID, base: tx), now: now) {
                revoked.append(link)
            }
        }
        return revoked
    }

    /// The links in `state` as of `now`, for a listing.
    static func conditions(state: LoginLinkState, now: Date) -> [SQLStatement] {
        switch state {
        case .active: return [activeCondition(now: now)]
        case .redeemed: return ["redeem_time IS NOT NULL"]
        case .revoked: return ["redeem_time IS NULL AND revoke_time IS NOT NULL"]
        case .expired: return ["redeem_time IS NULL AND revoke_time IS NULL AND expire_time <= \(now)"]
        case .unspecified, .UNRECOGNIZED: return []
        }
    }

    /// Rows of links that still redeem.
    static func activeCondition(now: Date) -> SQLStatement {
        "(redeem_time IS NULL AND revoke_time IS NULL AND expire_time > \(now))"
    }

    // MARK: Tokens

    /// `<prefix><link id>_<secret>` split into its parts, or nil when it is not of that form.
    static func parse(_ token: String, prefix: String) -> ParsedToken? {
        guard token.hasPrefix(prefix) else { return nil }
        let parts = token.dropFirst(prefix.count).split(separator: "_", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].count <= 64 else { return nil }
        return ParsedToken(linkID: String(parts[0]), secret: String(parts[1]))
    }

    /// The URL handed to the recipient: `base` with the token as its `token` query parameter.
    /// Tokens are letters, digits and underscores, so they need no escaping.
    static func url(for token: String, base: String) -> String {
        "\(base)\(base.contains("?") ? "&" : "?")token=\(token)"
    }

    // MARK: Rows

    static func stored(from row: SQLRow, now: Date) throws -> Stored {
        let tenantID = try row.string("tenant_id")
        let linkID = try row.string("link_id")
        guard let role = Role(rawValue: try row.string("role")) else {
            throw ServiceError.internal("login link \(linkID) has an unknown role")
        }
        let expire = try row.date("expire_time")
        let redeemed = try row.optionalDate("redeem_time")
        let revoked = try row.optionalDate("revoke_time")
        let state: LoginLinkState
        if redeemed != nil {
            state = .redeemed
        } else if revoked != nil {
            state = .revoked
        } else {
            state = expire > now ? .active : .expired
        }
        let link = try LoginLink.with {
            $0.name = name(tenantID: tenantID, linkID: linkID)
            $0.role = role.proto
            $0.recipient = try row.string("recipient")
            $0.state = state
            $0.tokenPrefix = "\(tokenPrefix)\(linkID)"
            $0.creator = try row.string("creator")
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.expireTime = Google_Protobuf_Timestamp(date: expire)
            if let redeemed { $0.redeemTime = Google_Protobuf_Timestamp(date: redeemed) }
            if let revoked { $0.revokeTime = Google_Protobuf_Timestamp(date: revoked) }
        }
        return Stored(tenantID: tenantID, linkID: linkID, role: role, tokenHash: try row.data("token_hash"), link: link)
    }

    /// Lower-case, for messages and error metadata.
    static func stateName(_ state: LoginLinkState) -> String {
        switch state {
        case .active: return "active"
        case .redeemed: return "redeemed"
        case .revoked: return "revoked"
        case .expired: return "expired"
        case .unspecified, .UNRECOGNIZED: return "unspecified"
        }
    }
}
