import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Customers in the store. The phone number (column `phone`), email and external id are stored as
/// NULL when empty, so the tenant's unique indexes on the number and the external id ignore unset
/// ones. Inbound texts and calls find or create customers by number; the API manages the rest.
enum CustomerRecords {
    static let collection = ResourceCollection(segment: "customers", table: "customers", idColumn: "customer_id", noun: "customer")
    static let phoneNumber = TenantUniqueKey(
        collection: CustomerRecords.collection, path: "phone_number", column: "phone", index: "customers_by_phone")
    static let externalID = TenantUniqueKey(
        collection: CustomerRecords.collection, path: "external_id", column: "external_id", index: "customers_by_external_id")

    /// What refers to a customer, found by it: a delete looks for appointments and invoices that
    /// name it, and unlinks its texts and calls; the logs' customer filter reads them too.
    static let referencesMigration = Migration(
        version: 30,
        name: "customer_and_appointment_references",
        statements: [
            "CREATE INDEX appointments_by_customer ON appointments (tenant_id, customer_id)",
            "CREATE INDEX invoices_by_customer ON invoices (tenant_id, customer_id)",
            "CREATE INDEX invoices_by_appointment ON invoices (tenant_id, appointment_id)",
            "CREATE INDEX text_messages_by_customer ON text_messages (tenant_id, customer_id)",
            "CREATE INDEX phone_calls_by_customer ON phone_calls (tenant_id, customer_id)",
        ],
        tenantOwnedTables: [])

    /// The values of `customer` no other customer of the tenant may have.
    static func uniqueValues(of customer: Customer) -> [TenantUniqueKey.Value] {
        [
            TenantUniqueKey.Value(key: phoneNumber, value: customer.phoneNumber),
            TenantUniqueKey.Value(key: externalID, value: customer.externalID),
        ]
    }

    static func find(id: String, _ tx: TenantTransaction) async throws -> Customer? {
        try await tx.select(from: collection.table, where: "customer_id = \(id)").first.map(customer(from:))
    }

    static func insert(_ customer: Customer, id: String, _ tx: TenantTransaction) async throws {
        let now = Date()  // inside the transaction: see ChangeSync
        try await tx.insert(into: collection.table, newRow(customer, id: id, now: now))
    }

    /// Writes every stored field if the row's revision is still `revision`; false otherwise.
    static func update(_ customer: Customer, id: String, expectedRevision revision: Int64, _ tx: TenantTransaction) async throws -> Bool {
        let now = Date()  // inside the transaction: see ChangeSync
        let changed = try await tx.update(
            collection.table,
            set: columns(of: customer) + [("update_time", now), ("revision", revision + 1)],
            where: "customer_id = \(id) AND revision = \(revision)")
        return changed == 1
    }

    /// The customer with this number, created on first contact (an inbound text or call), with
    /// no name yet. Returns (id, created); nil when the number is not E.164, e.g. a withheld one.
    static func findOrCreate(phone: String, _ tx: TenantTransaction) async throws -> (id: String, created: Bool)? {
        // A withheld number is no one's: linking it would make every anonymous caller one customer.
        guard CallerNumber.canTakeTexts(phone) else { return nil }
        func existing() async throws -> (id: String, created: Bool)? {
            try await tx.select("customer_id", from: collection.table, where: "phone = \(phone)").first.map { (try $0.string("customer_id"), false) }
        }
        if let found = try await existing() { return found }
        // Two first texts from a new number at once: the second finds the first's customer.
        let id = ResourceCollection.newID()
        let now = Date()  // inside the transaction: see ChangeSync
        if try await tx.insertIfAbsent(into: collection.table, newRow(Customer.with { $0.phoneNumber = phone }, id: id, now: now)) {
            return (id, true)
        }
        return try await existing()
    }

    // MARK: Rows

    /// A new customer's row: its id, its fields, and the first revision.
    private static func newRow(_ customer: Customer, id: String, now: Date) -> [(String, any SQLValueConvertible)] {
        [("customer_id", id)] + columns(of: customer) + [("create_time", now), ("update_time", now), ("revision", 1)]
    }

    private static func columns(of customer: Customer) -> [(String, any SQLValueConvertible)] {
        [
            ("display_name", customer.displayName),
            ("phone", customer.phoneNumber.nilIfEmpty),
            ("email", customer.email.nilIfEmpty),
            ("notes", customer.notes),
            ("external_id", customer.externalID.nilIfEmpty),
        ]
    }

    static func customer(from row: SQLRow) throws -> Customer {
        try Customer.with {
            $0.name = collection.name(tenantID: try row.string("tenant_id"), id: try row.string("customer_id"))
            $0.displayName = try row.string("display_name")
            $0.phoneNumber = try row.optionalString("phone") ?? ""
            $0.email = try row.optionalString("email") ?? ""
            $0.notes = try row.string("notes")
            $0.externalID = try row.optionalString("external_id") ?? ""
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
            $0.etag = Etag.make(revision: try row.int("revision"))
        }
    }
}
