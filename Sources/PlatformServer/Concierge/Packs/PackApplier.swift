import Foundation
import RPCRuntime
import ServiceProAPI

/// Applies an industry pack to one tenant, in the caller's transaction: a concierge create seeds
/// its new tenant in the same all-or-nothing transaction that creates it, and ApplyIndustryPack
/// runs it in the tenant's own.
///
/// ```swift
/// let summary = try await database.withTenant("acme") { tx in
///     try await PackApplier.apply(pack, tx, now: Date())
/// }
/// ```
///
/// Merge rules. Items are matched by kind and key: the service name, the FAQ question, the
/// template kind, the automation key; a tenant has one IVR menu and one AI agent config. For
/// each item of the pack:
/// - The tenant does not have it: it is added, and reported as added.
/// - The tenant has it as a pack put it there (the content's hash still equals the hash recorded
///   when it was applied): when the pack's content is the same, it is skipped as
///   ALREADY_PRESENT; otherwise it is replaced by the pack's content and reported as added,
///   since it is pack content the tenant never touched (a newer version of the pack, or the
///   pack of the tenant's new industry).
/// - The tenant changed it since, or made it themselves: it is never overwritten, and is
///   skipped as TENANT_EDITED. Tenant edits always win.
///
/// Automations come with the pack on every plan, and run only on plans with
/// FEATURE_INDUSTRY_AUTOMATIONS (``AutomationJob``): an upgrade switches them on with nothing to
/// apply again, and a downgrade keeps them, as it keeps all the tenant's data.
///
/// Nothing is ever deleted: an item of an earlier pack that the new one lacks stays.
///
/// The pack's IVR menu also goes on the tenant's phone configs whose menu nobody chose
/// (``applyIvrMenu(_:replacing:_:now:)``).
enum PackApplier {
    /// What the merge rules do with one item.
    enum Decision: Equatable, Sendable {
        case add
        case replace
        case skip(PackSkipReason)
    }

    /// What merges, and the catalog's changes to what they merge into, take turns on
    /// (`TenantTransaction.serialize`).
    static let mergeWork = "pack-merge"

    /// Applies `pack` to the transaction's tenant, and reports what it
    /// added and what it skipped, in the pack's order.
    ///
    /// Call routing caches phone configs: after the transaction commits, the caller refreshes it
    /// (as PhoneConfigHandler's `onChange` does), since the pack's menu may have gone on them.
    static func apply(_ pack: IndustryPack, _ tx: TenantTransaction, now: Date) async throws -> AppliedPackSummary {
        // Two applies at once must not both find an item missing and both add it.
        try await tx.serialize(mergeWork)
        let stored = try await PackItemRecords.all(tx)
        let held = Dictionary(stored.map { (ItemID($0.kind, $0.key), $0) }, uniquingKeysWith: { first, _ in first })
        // The menu an earlier pack left, untouched: phone configs playing it follow the new pack.
        let earlierMenu = held[ItemID(.ivrMenu, "")].flatMap { $0.isTenantEdited ? nil : try? $0.decoded(IvrMenu.self) }
        var summary = AppliedPackSummary.with {
            $0.industryPack = pack.name
            $0.version = pack.version
        }
        for (ordinal, item) in try PackItemContent.items(of: pack).enumerated() {
            let existing = held[ItemID(item.kind, item.key)]
            let decision = decide(item, held: existing)
            switch (decision, existing) {
            case (.add, _):
                try await PackItemRecords.insert(item, ordinal: ordinal, from: pack, tx, now: now)
            case (.replace, let existing?):
                try await PackItemRecords.replace(existing, with: item, from: pack, tx, now: now)
            case (.replace, nil), (.skip, _):
                break
            }
            summary.report(item, decision)
        }
        try await applyIvrMenu(pack, replacing: earlierMenu, tx, now: now)
        return summary
    }

    /// The merge rules for one item of the pack, given the tenant's copy, if any.
    static func decide(_ item: PackItemContent, held: StoredPackItem?) -> Decision {
        guard let held else { return .add }
        if held.isTenantEdited { return .skip(.tenantEdited) }
        if held.appliedHash == item.hash { return .skip(.alreadyPresent) }
        return .replace
    }

    /// Gives the tenant's phone configs the pack's IVR menu, placeholders and all (calls fill them
    /// in), where nobody chose a menu: the config has none (or one without options, which plays the
    /// default), still has the standard menu the platform puts on IVR numbers, or plays the menu
    /// an earlier pack left (`earlierMenu`), as pack items the tenant never touched follow the new
    /// pack. A menu anyone wrote is left alone, as edited items are. Returns the names of the
    /// configs changed.
    @discardableResult
    static func applyIvrMenu(_ pack: IndustryPack, replacing earlierMenu: IvrMenu?, _ tx: TenantTransaction, now: Date) async throws -> [String] {
        guard pack.hasIvrMenu else { return [] }
        var changed: [String] = []
        for stored in try await tx.select(from: "phone_configs").map(PhoneConfigRecords.stored(from:)) {
            let current = stored.config.ivrMenu
            let unchosen = current.options.isEmpty || current == .standard || current == earlierMenu
            guard unchosen, current != pack.ivrMenu else { continue }
            var config = stored.config
            config.ivrMenu = pack.ivrMenu
            let updated = try await PhoneConfigRecords.update(config, replacing: stored, sealedSIPPassword: stored.sealedSIPPassword, tx, now: now)
            guard updated else {
                throw ServiceError.aborted(message: "\(stored.config.name) changed while its IVR menu was being set; try again")
            }
            changed.append(stored.config.name)
        }
        return changed
    }

    /// An item's identity among the tenant's items.
    /// Keys match ignoring case, as a pack keeps them unique and the catalog names its items: a
    /// service the business added as "exterior wash" is the pack's "Exterior Wash", and stays
    /// the business's.
    private struct ItemID: Hashable {
        let kind: PackItemKind
        let key: String

        init(_ kind: PackItemKind, _ key: String) {
            self.kind = kind
            self.key = key.lowercased()
        }
    }
}

extension AppliedPackSummary {
    /// Lists `item` as added or skipped, as `decision` says.
    fileprivate mutating func report(_ item: PackItemContent, _ decision: PackApplier.Decision) {
        let reported = PackItem.with {
            $0.kind = item.kind
            $0.key = item.key
            if case .skip(let reason) = decision { $0.skipReason = reason }
        }
        if case .skip = decision { skipped.append(reported) } else { added.append(reported) }
    }
}
