import Foundation
import ServiceProAPI
import SwiftProtobuf

/// A tenant's copy of one pack item: a service, FAQ, SMS template, automation, its IVR menu or
/// its AI agent config.
struct StoredPackItem: Sendable {
    var kind: PackItemKind
    /// As ``PackItemContent/key``.
    var key: String
    /// JSON in the protobuf mapping, with the proto's field names.
    var content: String
    /// The content's hash when a pack last wrote it; nil for an item the tenant made.
    var appliedHash: String?
    /// `industryPacks/{pack}` and its version, when a pack last wrote the item.
    var pack: String?
    var packVersion: String?
    var createTime: Date
    var updateTime: Date
    /// Its place in the pack that added it; 0 for an item the tenant made.
    var ordinal: Int = 0

    /// The hash of the content as it is now; nil when it no longer parses as its kind's message.
    var currentHash: String? { PackItemContent.hash(kind: kind, json: content) }

    /// The tenant changed it since a pack put it there, or made it themselves: the merge rules
    /// never overwrite it.
    var isTenantEdited: Bool {
        guard let appliedHash else { return true }
        return currentHash != appliedHash
    }

    /// The content as its kind's message, e.g. `item.decoded(ServiceOffering.self)`.
    func decoded<Content: SwiftProtobuf.Message>(_ type: Content.Type) throws -> Content {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return try Content(jsonString: content, options: options)
    }
}

/// Pack items in the store, one row per tenant, kind and key.
///
/// Whoever writes an item other than through ``PackApplier`` (an editor of services or
/// templates, say) changes `content` and leaves `applied_hash` alone, or writes NULL for an
/// item the tenant creates: that is what tells the merge rules the tenant's content from a
/// pack's. `ordinal` is the item's place in the pack that added it, so a tenant's services list
/// in the pack's order, after any added earlier.
enum PackItemRecords {
    static let table = "pack_items"

    static let migration = Migration(
        version: 7,
        name: "industry_packs",
        statements: [
            """
            CREATE TABLE pack_items (
                tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                item_key TEXT NOT NULL,
                content TEXT NOT NULL,
                applied_hash TEXT,
                pack TEXT,
                pack_version TEXT,
                ordinal BIGINT NOT NULL DEFAULT 0,
                create_time BIGINT NOT NULL,
                update_time BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, kind, item_key)
            )
            """,
        ],
        tenantOwnedTables: ["pack_items"]
    )

    /// How many items a tenant's catalog may hold before `CreateCatalogItem` refuses another: a
    /// business's services, FAQs, templates and automations run to dozens, and every price list,
    /// AI receptionist turn and automation pass reads them all. Applying a pack, whose items are
    /// fixed and few, is never refused by it.
    static let madeLimit = 500

    /// How many items the tenant has, of packs and its own.
    static func count(_ tx: TenantTransaction) async throws -> Int {
        Int(try await tx.select("COUNT(*) AS n", from: table).first?.int("n") ?? 0)
    }

    /// The tenant's items, of one kind or of all, in the order they were added.
    static func all(_ tx: TenantTransaction, kind: PackItemKind? = nil) async throws -> [StoredPackItem] {
        let condition = kind.map { kind -> SQLStatement in "kind = \(kind.storedName)" }
        return try await tx.select(from: table, where: condition, orderBy: "create_time, ordinal, kind, item_key").map(item(from:))
    }

    /// The tenant's AI agent config, unless it has none or it no longer reads as one.
    static func aiAgent(_ tx: TenantTransaction) async throws -> AiAgentConfig? {
        try await all(tx, kind: .aiAgent).first.flatMap { try? $0.decoded(AiAgentConfig.self) }
    }

    /// The tenant's automations, but those that no longer read as one.
    static func automationRules(_ tx: TenantTransaction) async throws -> [AutomationRule] {
        try await all(tx, kind: .automation).compactMap { try? $0.decoded(AutomationRule.self) }
    }

    /// The tenant's SMS template of `kind`, unless it has none or it no longer reads as one.
    static func smsTemplate(_ kind: SmsTemplateKind, _ tx: TenantTransaction) async throws -> SmsTemplate? {
        try await all(tx, kind: .smsTemplate).first { $0.key == kind.keyName }.flatMap { try? $0.decoded(SmsTemplate.self) }
    }

    /// Adds `item` as `pack` has it.
    static func insert(_ item: PackItemContent, ordinal: Int, from pack: IndustryPack, _ tx: TenantTransaction, now: Date) async throws {
        try await tx.insert(into: table, [
            ("kind", item.kind.storedName),
            ("item_key", item.key),
            ("content", item.json),
            ("applied_hash", item.hash),
            ("pack", pack.name),
            ("pack_version", pack.version),
            ("ordinal", ordinal),
            ("create_time", now),
            ("update_time", now),
        ])
    }

    /// Replaces the tenant's item `stored` with `item` as `pack` has it, key and all (a new
    /// version of a pack may write a key in another case); the item keeps its place.
    static func replace(_ stored: StoredPackItem, with item: PackItemContent, from pack: IndustryPack, _ tx: TenantTransaction, now: Date) async throws {
        try await tx.update(table, set: [
            ("item_key", item.key),
            ("content", item.json),
            ("applied_hash", item.hash),
            ("pack", pack.name),
            ("pack_version", pack.version),
            ("update_time", now),
        ], where: "kind = \(stored.kind.storedName) AND item_key = \(stored.key)")
    }

    /// Adds an item the tenant made: no pack wrote it, so the merge rules never replace it.
    static func insertMade(_ item: PackItemContent, _ tx: TenantTransaction, now: Date) async throws {
        try await tx.insert(into: table, [
            ("kind", item.kind.storedName),
            ("item_key", item.key),
            ("content", item.json),
            ("create_time", now),
            ("update_time", now),
        ])
    }

    /// Sets the content of the item of `kind` keyed `key` to `json` if it is still `current`;
    /// false when another writer changed or deleted it first. The applied hash stays, so the
    /// merge rules see the change as the tenant's.
    static func replaceContent(kind: PackItemKind, key: String, current: String, with json: String, _ tx: TenantTransaction, now: Date) async throws -> Bool {
        try await tx.update(table, set: [("content", json), ("update_time", now)], where: "kind = \(kind.storedName) AND item_key = \(key) AND content = \(current)") == 1
    }

    /// Deletes the item of `kind` keyed `key` if its content is still `current`; false when
    /// another writer changed or deleted it first.
    static func delete(kind: PackItemKind, key: String, current: String, _ tx: TenantTransaction) async throws -> Bool {
        try await tx.delete(from: table, where: "kind = \(kind.storedName) AND item_key = \(key) AND content = \(current)") == 1
    }

    private static func item(from row: SQLRow) throws -> StoredPackItem {
        StoredPackItem(
            kind: PackItemKind(storedName: try row.string("kind")),
            key: try row.string("item_key"),
            content: try row.string("content"),
            appliedHash: try row.optionalString("applied_hash"),
            pack: try row.optionalString("pack"),
            packVersion: try row.optionalString("pack_version"),
            createTime: try row.date("create_time"),
            updateTime: try row.date("update_time"),
            ordinal: Int(try row.int("ordinal")))
    }
}

/// Stored as `service`, `faq`, `sms_template`, `automation`, `ivr_menu`, `ai_agent`.
extension PackItemKind: StoredEnum {}
