import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Tenants in the store. The tenants table is tenant-owned like any other: a tenant's row is
/// reached through that tenant's scoped transaction, and listings run platform-wide.
enum TenantRecords {
    static let rootID = "root"

    /// Where the tenant's customers book online; '' when unset, as the branding's URLs are.
    static let bookingURLMigration = Migration(
        version: 19,
        name: "tenants_booking_url",
        statements: ["ALTER TABLE tenants ADD COLUMN booking_url TEXT NOT NULL DEFAULT ''"],
        tenantOwnedTables: [])

    static func find(_ tx: TenantTransaction) async throws -> Tenant? {
        try await tx.select(from: "tenants").first.map(tenant(from:))
    }

    static func insert(_ tenant: Tenant, _ tx: TenantTransaction, now: Date = Date()) async throws {
        try await tx.insert(into: "tenants", columns(of: tenant) + [
            ("create_time", now),
            ("update_time", now),
            ("revision", 1),
        ])
        try await BillingRecords.insert(tx, now: now)
    }

    /// Writes every stored field of `tenant` if its revision is still `revision`; false otherwise.
    static func update(_ tenant: Tenant, expectedRevision revision: Int64, _ tx: TenantTransaction, now: Date = Date()) async throws -> Bool {
        let changed = try await tx.update(
            "tenants",
            set: columns(of: tenant) + [("update_time", now), ("revision", revision + 1)],
            where: "revision = \(revision)")
        return changed == 1
    }

    /// ALREADY_EXISTS `tenant_exists` naming `field`: another tenant has `tenantID`.
    static func exists(_ tenantID: String, field: String) -> ServiceError {
        ServiceError.alreadyExists(reason: "tenant_exists", field: field, message: "tenants/\(tenantID) already exists")
    }

    /// Whether `error` is the store refusing a second tenant with an id already taken: what a
    /// create that raced another past `checkIDFree` meets (PostgreSQL runs writers side by side).
    static func isIDTaken(_ error: any Error) -> Bool {
        UniqueViolation(error)?.isOn(index: "tenants_pkey", columns: ["tenant_id"]) == true
    }

    /// ALREADY_EXISTS naming `field` unless `tenantID` is free for a new tenant: no tenant has
    /// it, and no deleted one had it.
    static func checkIDFree(_ tenantID: String, field: String, _ tx: any SQLTransaction) async throws {
        if try await tx.first("SELECT 1 AS taken FROM tenants WHERE tenant_id = \(tenantID)") != nil {
            throw exists(tenantID, field: field)
        }
        if try await isRetired(tenantID, tx) {
            throw ServiceError.alreadyExists(
                reason: "tenant_id_retired", field: field,
                message: "tenants/\(tenantID) belonged to a deleted tenant, whose audit trail keeps the id; choose another \(field)")
        }
    }

    /// Whether `tenantID` belonged to a tenant that was deleted. Its audit trail outlives it under
    /// that id, so the id is retired: a new tenant taking it would read the old one's trail as its
    /// own, and Stripe events naming it would reach the new one.
    static func isRetired(_ tenantID: String, _ tx: any SQLTransaction) async throws -> Bool {
        try await tx.first("""
            SELECT 1 AS deleted FROM audit_events
            WHERE tenant_id = \(tenantID) AND method = '/servicepro.tenancy.v1.TenantService/DeleteTenant' AND outcome = 'OK'
            """) != nil
    }

    /// Locks the tenant's row and its billing record's until the transaction ends, so what a change
    /// checks on them (an etag, a Stripe subscription) still holds when it commits: on PostgreSQL
    /// each statement reads the latest commit, and a ChangePlan or a Stripe webhook could land in
    /// between. SQLite runs one writing transaction at a time already.
    static func lockForChange(_ tx: TenantTransaction) async throws {
        guard tx.base.dialect == .postgres else { return }
        // In the order billing changes take them (`BillingRecords.save`: the billing record, then
        // the tenant), so the two wait for each other rather than deadlock.
        _ = try await tx.base.query("SELECT tenant_id FROM tenant_billing WHERE tenant_id = \(tx.tenantID) FOR UPDATE")
        _ = try await tx.base.query("SELECT tenant_id FROM tenants WHERE tenant_id = \(tx.tenantID) FOR UPDATE")
    }

    /// Every tenant-owned table but `audit_events`, children before parents: the audit trail
    /// outlives the tenant, and the deletion itself is one of its events. Export archive chunks go
    /// with their jobs (ON DELETE CASCADE).
    static let deletedTables = [
        "export_jobs", "login_links", "outbox_messages", "pack_items", "invoices", "appointments",
        "text_messages", "phone_calls", "customers", "phone_configs", "impersonation_sessions",
        "idempotency_records", "api_keys", "tenant_billing", "tenants",
    ]

    /// Deletes the tenant's rows in ``deletedTables``. The numbers the platform bought for it are
    /// released after ``NumberReleaseRecords/grace``, unless a config takes them before then.
    static func delete(_ tx: TenantTransaction, now: Date = Date()) async throws {
        try await PhoneConfigRecords.giveUpNumbers(reason: .tenantDeleted, after: now.addingTimeInterval(NumberReleaseRecords.grace), tx, now: now)
        for table in deletedTables {
            try await tx.delete(from: table)
        }
    }

    struct ListFilter {
        var status: TenantStatus
        var tier: PlanTier
        var industry: String

        /// The tenants that match.
        var conditions: [SQLStatement] {
            var conditions: [SQLStatement] = []
            if status != .unspecified { conditions.append("status = \(status.storedName)") }
            if tier != .unspecified { conditions.append("plan_tier = \(tier.storedName)") }
            if !industry.isEmpty { conditions.append("industry = \(industry)") }
            return conditions
        }
    }

    /// How many tenants match the filter within the transaction's scope, as a listing's total.
    static func count(_ filter: ListFilter, _ tx: any SQLTransaction) async throws -> Int {
        var conditions: [SQLStatement] = ["1 = 1"]
        if case .tenant(let tenantID) = tx.scope { conditions.append("tenant_id = \(tenantID)") }
        conditions += filter.conditions
        let matching = SQLStatement.joined(conditions, separator: " AND ")
        let total = try await tx.first("SELECT COUNT(*) AS total FROM tenants WHERE \(matching)")?.int("total") ?? 0
        return Int(total)
    }

    private static func columns(of tenant: Tenant) -> [(String, any SQLValueConvertible)] {
        [
            ("display_name", tenant.displayName),
            ("industry", tenant.industry),
            ("city", tenant.city),
            ("contact_name", tenant.contact.personName),
            ("contact_email", tenant.contact.email),
            ("contact_phone", tenant.contact.phone),
            ("plan_tier", tenant.planTier.storedName),
            ("status", tenant.status.storedName),
            ("logo_url", tenant.branding.logoURL),
            ("primary_color", tenant.branding.primaryColor),
            ("accent_color", tenant.branding.accentColor),
            ("booking_url", tenant.bookingURL),
            ("time_zone", tenant.timeZone),
            ("review_url", tenant.reviewURL),
            ("internal_notes", tenant.internalNotes),
            ("trial_end_time", tenant.hasTrialEndTime ? tenant.trialEndTime.date : nil),
        ]
    }

    static func tenant(from row: SQLRow) throws -> Tenant {
        let id = try row.string("tenant_id")
        return try Tenant.with {
            $0.name = ResourceName.tenant(id)
            $0.slug = id
            $0.displayName = try row.string("display_name")
            $0.industry = try row.string("industry")
            $0.city = try row.string("city")
            $0.contact = .with {
                $0.personName = (try? row.string("contact_name")) ?? ""
                $0.email = (try? row.string("contact_email")) ?? ""
                $0.phone = (try? row.string("contact_phone")) ?? ""
            }
            $0.planTier = PlanTier(storedName: try row.string("plan_tier"))
            $0.status = TenantStatus(storedName: try row.string("status"))
            $0.branding = .with {
                $0.logoURL = (try? row.string("logo_url")) ?? ""
                $0.primaryColor = (try? row.string("primary_color")) ?? ""
                $0.accentColor = (try? row.string("accent_color")) ?? ""
            }
            $0.bookingURL = try row.string("booking_url")
            $0.timeZone = try row.string("time_zone")
            $0.reviewURL = try row.string("review_url")
            $0.internalNotes = try row.string("internal_notes")
            if let trialEnd = try row.optionalDate("trial_end_time") {
                $0.trialEndTime = Google_Protobuf_Timestamp(date: trialEnd)
            }
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
            $0.etag = Etag.make(revision: try row.int("revision"))
        }
    }
}

extension PlanTier {
    var storedName: String {
        switch self {
        case .starter: return "starter"
        case .pro: return "pro"
        case .elite: return "elite"
        case .unspecified, .UNRECOGNIZED: return "starter"
        }
    }

    init(storedName: String) {
        switch storedName {
        case "pro": self = .pro
        case "elite": self = .elite
        default: self = .starter
        }
    }

    var catalogTier: PlanCatalog.Tier { PlanCatalog.Tier(rawValue: storedName) ?? .starter }
}

extension TenantStatus {
    /// Whether the tenant gets what its plan gives: not when suspended or cancelled. Its data
    /// stays, and its callers are still put through, but the menu, the AI receptionist and texts
    /// sent on its behalf stop.
    var isInGoodStanding: Bool {
        switch self {
        case .suspended, .cancelled: return false
        case .active, .trialing, .pastDue, .unspecified, .UNRECOGNIZED: return true
        }
    }

    var storedName: String {
        switch self {
        case .active: return "active"
        case .trialing: return "trialing"
        case .pastDue: return "past_due"
        case .suspended: return "suspended"
        case .cancelled: return "cancelled"
        case .unspecified, .UNRECOGNIZED: return "active"
        }
    }

    init(storedName: String) {
        switch storedName {
        case "trialing": self = .trialing
        case "past_due": self = .pastDue
        case "suspended": self = .suspended
        case "cancelled": self = .cancelled
        default: self = .active
        }
    }
}
