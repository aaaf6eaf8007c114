import Foundation
import RPCRuntime
import ServiceProAPI

/// servicepro.catalog.v1.CatalogService over the tenant's pack items.
///
/// What a business changes here, the IVR's price list, its auto-reply and its AI receptionist
/// use from the next call or text. A change is the tenant's own edit to the merge rules, so
/// applying a pack again leaves it be. Changes take turns with pack merges (and each other), so
/// a merge never writes over an edit it did not see, and two items of one key never both land.
public struct CatalogHandler: CatalogServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func listCatalogItems(_ request: ListCatalogItemsRequest, context: RequestContext) async throws -> ListCatalogItemsResponse {
        let tenantID = try context.requireTenant()
        let kinds = request.kind.packItemKind.map { [$0] } ?? CatalogItemContent.kinds
        let stored = try await database.withTenant(tenantID) { tx in try await PackItemRecords.all(tx) }
        // Services first, then FAQs, templates, the agent and automations, each kind as the pack
        // listed it, then the business's own in the order they were made.
        let items = stored.compactMap { item in
            kinds.firstIndex(of: item.kind).flatMap { rank in
                CatalogItemContent.item(item, tenantID: tenantID).map { (rank: rank, stored: item, listed: $0) }
            }
        }
        let page = try SortedListPage.of(items, at: { item in
            [SortedListPage.padded(Int64(item.rank)), SortedListPage.padded(item.stored.createTime.microsecondsSince1970),
             SortedListPage.padded(Int64(item.stored.ordinal)), item.stored.key]
        }, request)
        return .with {
            $0.catalogItems = page.items.map(\.listed)
            $0.nextPageToken = page.nextPageToken
        }
    }

    public func getCatalogItem(_ request: GetCatalogItemRequest, context: RequestContext) async throws -> CatalogItem {
        let tenantID = try context.requireTenant()
        return try await database.withTenant(tenantID) { tx in
            guard let found = try await find(request.name, tx) else { throw ServiceError.notFound(request.name) }
            return try Self.readable(found, named: request.name)
        }
    }

    public func createCatalogItem(_ request: CreateCatalogItemRequest, context: RequestContext) async throws -> CatalogItem {
        let tenantID = try context.requireTenant()
        guard let content = request.catalogItem.content else {
            throw ServiceError.invalidArgument(field: "catalog_item.content", "is required: one of service, faq, sms_template, ai_agent or automation")
        }
        let violations = CatalogItemContent.violations(in: content, path: "catalog_item.")
        guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
        let packItem = try CatalogItemContent.packItem(content)
        let id = CatalogItemContent.id(kind: packItem.kind, key: packItem.key)!
        let name = "tenants/\(tenantID)/\(CatalogItemContent.collection)/\(id)"
        return try await database.withTenant(tenantID) { tx in
            try await IdempotencyRecords.once(tx, method: "CreateCatalogItem", for: request) {
                try await tx.serialize(PackApplier.mergeWork)
                if packItem.kind == .automation {
                    // A business makes automations of its own only on a plan that runs them (a
                    // pack's come with it on any plan, and wait for one).
                    guard let tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(ResourceName.tenant(tenantID)) }
                    try PlanCatalog.require(.industryAutomations, in: tenant.planTier.catalogTier)
                }
                guard try await find(name, tx) == nil else {
                    throw ServiceError.alreadyExists(
                        reason: "catalog_item_exists", field: "catalog_item.\(CatalogUpdateMask.fieldName(of: content))",
                        message: "\(name) already exists (\(Self.describe(packItem))); update it instead")
                }
                let limit = PackItemRecords.madeLimit
                guard try await PackItemRecords.count(tx) < limit else {
                    throw ServiceError.failedPrecondition(
                        reason: "catalog_full",
                        message: "tenants/\(tenantID) has \(limit) catalog items, the most a catalog holds; delete one it no longer needs first",
                        metadata: ["limit": "\(limit)"])
                }
                try await PackItemRecords.insertMade(packItem, tx, now: Date())
                try await AuditLog.record(tx, context: context, resource: name)
                return try await written(name, tx)
            }
        }
    }

    public func updateCatalogItem(_ request: UpdateCatalogItemRequest, context: RequestContext) async throws -> CatalogItem {
        let tenantID = try context.requireTenant()
        let name = request.catalogItem.name
        guard CatalogItemContent.id(in: name, tenantID: tenantID) != nil else {
            throw ServiceError.invalidArgument(field: "catalog_item.name", "must be tenants/{tenant}/\(CatalogItemContent.collection)/{item}")
        }
        return try await database.withTenant(tenantID) { tx in
            try await tx.serialize(PackApplier.mergeWork)
            guard let stored = try await find(name, tx) else { throw ServiceError.notFound(name) }
            let current = try Self.readable(stored, named: name)
            try Etag.requireCurrent(request.catalogItem.etag, current: current.etag, of: name)
            let mask = try CatalogUpdateMask(request.updateMask, kind: stored.kind)
            let content = try mask.apply(from: request.catalogItem.content, to: current.content!)
            let violations = CatalogItemContent.violations(in: content, path: "catalog_item.")
            guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
            // An update that changes nothing writes nothing: the etag and update time stay.
            guard content != current.content else { return current }
            let updated = try CatalogItemContent.packItem(content)
            guard try await PackItemRecords.replaceContent(kind: stored.kind, key: stored.key, current: stored.content, with: updated.json, tx, now: Date()) else {
                throw Etag.concurrentChange(of: name)
            }
            try await AuditLog.record(tx, context: context, resource: name, details: mask.paths.auditDetails)
            return try await written(name, tx)
        }
    }

    public func deleteCatalogItem(_ request: DeleteCatalogItemRequest, context: RequestContext) async throws -> DeleteCatalogItemResponse {
        let tenantID = try context.requireTenant()
        return try await database.withTenant(tenantID) { tx in
            try await tx.serialize(PackApplier.mergeWork)
            guard let stored = try await find(request.name, tx) else { throw ServiceError.notFound(request.name) }
            try Etag.requireCurrent(request.etag, current: CatalogItemContent.etag(of: stored), of: request.name)
            guard try await PackItemRecords.delete(kind: stored.kind, key: stored.key, current: stored.content, tx) else {
                throw Etag.concurrentChange(of: request.name)
            }
            try await AuditLog.record(tx, context: context, resource: request.name)
            return DeleteCatalogItemResponse()
        }
    }

    /// The tenant's item `name` names, readable or not; nil when there is none, or `name` is not
    /// one of the tenant's catalog items.
    private func find(_ name: String, _ tx: TenantTransaction) async throws -> StoredPackItem? {
        guard let id = CatalogItemContent.id(in: name, tenantID: tx.tenantID) else { return nil }
        return try await PackItemRecords.all(tx).first { CatalogItemContent.id(kind: $0.kind, key: $0.key) == id }
    }

    /// The item this transaction has just written, as the caller gets it back.
    private func written(_ name: String, _ tx: TenantTransaction) async throws -> CatalogItem {
        guard let stored = try await find(name, tx) else { throw ServiceError.internal("\(name) was written but cannot be read back") }
        return try Self.readable(stored, named: name)
    }

    /// `stored` as a catalog item; FAILED_PRECONDITION `catalog_item_unreadable` when its content
    /// no longer reads as its kind (written by hand, say), which a delete and a new item mend.
    private static func readable(_ stored: StoredPackItem, named name: String) throws -> CatalogItem {
        guard let tenantID = ResourceName.tenantID(of: name), let item = CatalogItemContent.item(stored, tenantID: tenantID) else {
            throw ServiceError.failedPrecondition(
                reason: "catalog_item_unreadable",
                message: "\(name) no longer reads as a \(stored.kind.storedName.replacingOccurrences(of: "_", with: " ")); delete it and create it again")
        }
        return item
    }

    /// How an error names an item: "service \"Full detail\"", "the AI agent settings".
    private static func describe(_ item: PackItemContent) -> String {
        switch item.kind {
        case .service: return "service \"\(item.key)\""
        case .faq: return "question \"\(item.key)\""
        case .smsTemplate: return "the \(item.key) template"
        case .automation: return "automation \(item.key)"
        default: return "the AI agent settings"
        }
    }
}

extension ListCatalogItemsRequest: PagedListRequest {}
