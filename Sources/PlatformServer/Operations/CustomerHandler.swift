import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.operations.v1.CustomerService over the store.
///
/// Names, numbers, emails and external ids are trimmed (notes are kept as typed); a phone number
/// or external id another of the tenant's customers has is ALREADY_EXISTS. Inbound texts and calls
/// add customers too, by number, through ``CustomerRecords/findOrCreate(phone:_:)``: those
/// have no display name until someone gives them one.
public struct CustomerHandler: CustomerServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func createCustomer(_ request: CreateCustomerRequest, context: RequestContext) async throws -> Customer {
        let tenantID = try context.requireTenant()
        let customer = request.customer
        guard !customer.displayName.isEmpty else {
            throw ServiceError.invalidArgument(field: "customer.display_name", "is required")
        }
        let collection = CustomerRecords.collection
        let id = request.customerID.isEmpty ? ResourceCollection.newID() : request.customerID
        let name = collection.name(tenantID: tenantID, id: id)
        let uniques = CustomerRecords.uniqueValues(of: customer)
        return try await collection.reportingDuplicates(of: uniques, tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                try await IdempotencyRecords.once(tx, method: "CreateCustomer", for: request) {
                    guard try await CustomerRecords.find(id: id, tx) == nil else {
                        throw collection.alreadyExists(tenantID: tenantID, id: id)
                    }
                    try await TenantUniqueKey.check(uniques, excluding: id, tx)
                    try await CustomerRecords.insert(customer, id: id, tx)
                    try await AuditLog.record(tx, context: context, resource: name)
                    return try await CustomerRecords.find(id: id, tx)!
                }
            }
        }
    }

    public func getCustomer(_ request: GetCustomerRequest, context: RequestContext) async throws -> Customer {
        let tenantID = try context.requireTenant()
        guard let id = CustomerRecords.collection.id(in: request.name, tenantID: tenantID),
              let customer = try await database.withTenant(tenantID, { try await CustomerRecords.find(id: id, $0) })
        else { throw ServiceError.notFound(request.name) }
        return customer
    }

    /// By display name (customers not yet named come first); with `min_update_time`, oldest change
    /// first.
    public func listCustomers(_ request: ListCustomersRequest, context: RequestContext) async throws -> ListCustomersResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        var conditions: [SQLStatement] = []
        if !request.phoneNumber.isEmpty { conditions.append("phone = \(request.phoneNumber)") }
        // Mailbox names are case-insensitive in practice: Jane@Example.com is jane@example.com.
        if !request.email.isEmpty { conditions.append("LOWER(email) = LOWER(\(request.email))") }
        if !request.externalID.isEmpty { conditions.append("external_id = \(request.externalID)") }
        let sync = request.hasMinUpdateTime ? ChangeSync(since: request.minUpdateTime.date, collection: CustomerRecords.collection) : nil
        let order = sync?.order ?? ListOrder(column: "display_name", direction: .alphabetical, idColumn: "customer_id")
        let filters = conditions
        let customers = try await database.transaction(.tenant(tenantID)) { tx in
            let changed = try await sync?.conditions(tx) ?? []
            return try await order.page(of: CustomerRecords.collection.table, where: filters + changed, paging, tx, item: CustomerRecords.customer(from:))
        }
        return ListCustomersResponse.with {
            $0.customers = customers.items
            $0.nextPageToken = customers.nextPageToken
        }
    }

    public func updateCustomer(_ request: UpdateCustomerRequest, context: RequestContext) async throws -> Customer {
        let tenantID = try context.requireTenant()
        let name = request.customer.name
        let collection = CustomerRecords.collection
        let id = try collection.requireID(in: name, tenantID: tenantID, field: "customer.name")
        let mask = try CustomerUpdateMask(request.updateMask)
        let input = request.customer
        // Just the unique values this update sets, to check them against the other customers.
        let uniques = CustomerRecords.uniqueValues(of: input).filter { mask.contains($0.key.path) }
        return try await collection.reportingDuplicates(of: uniques, tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                guard let current = try await CustomerRecords.find(id: id, tx) else { throw ServiceError.notFound(name) }
                try Etag.requireCurrent(request.customer.etag, current: current.etag, of: name)
                // A name is changed, not cleared. A customer the platform made for a number that
                // texted or called has none yet, and a sync sending it back unnamed keeps it so.
                if mask.contains("display_name"), input.displayName.isEmpty, !current.displayName.isEmpty {
                    throw ServiceError.invalidArgument(field: "customer.display_name", "must not be empty")
                }
                var customer = current
                mask.apply(from: input, to: &customer)
                // An update that changes nothing writes nothing: the etag and update time stay, so
                // a two-way sync that sends back what it read settles rather than bouncing.
                guard customer != current else { return current }
                try await TenantUniqueKey.check(uniques, excluding: id, tx)
                guard try await CustomerRecords.update(customer, id: id, expectedRevision: Etag.revision(current.etag) ?? 0, tx) else {
                    throw Etag.concurrentChange(of: name)
                }
                try await AuditLog.record(tx, context: context, resource: name, details: mask.paths.auditDetails)
                return try await CustomerRecords.find(id: id, tx)!
            }
        }
    }

    /// The person's texts and calls stay in the logs, unlinked: they are the business's record
    /// of its lines. Appointments and invoices name their customer: one with appointments goes
    /// once they have, and one an invoice bills stays, with the books.
    public func deleteCustomer(_ request: DeleteCustomerRequest, context: RequestContext) async throws -> DeleteCustomerResponse {
        let tenantID = try context.requireTenant()
        let collection = CustomerRecords.collection
        let id = try collection.requireID(in: request.name, tenantID: tenantID, field: "name")
        return try await database.withTenant(tenantID) { tx in
            try await collection.lockForDelete(id: id, tx)
            guard let current = try await CustomerRecords.find(id: id, tx) else { throw ServiceError.notFound(request.name) }
            try Etag.requireCurrent(request.etag, current: current.etag, of: request.name)
            if try await !tx.select("1 AS found", from: "invoices", where: "customer_id = \(id)", limit: 1).isEmpty {
                throw ServiceError.failedPrecondition(
                    reason: "customer_has_records",
                    message: "\(request.name) is billed by invoices, which stay on the books with the customer they bill; it cannot be deleted")
            }
            if try await !tx.select("1 AS found", from: "appointments", where: "customer_id = \(id)", limit: 1).isEmpty {
                throw ServiceError.failedPrecondition(
                    reason: "customer_has_records", message: "\(request.name) has appointments; delete them first")
            }
            let now = Date()
            var details: [String: String] = [:]
            for (table, detail) in [("text_messages", "unlinked_texts"), ("phone_calls", "unlinked_calls")] {
                let unlinked = try await tx.update(table, set: [("customer_id", String?.none), ("update_time", now)], where: "customer_id = \(id)")
                details[detail] = "\(unlinked)"
            }
            guard try await collection.delete(id: id, revision: Etag.revision(current.etag) ?? 0, tx) else {
                throw Etag.concurrentChange(of: request.name)
            }
            try await AuditLog.record(tx, context: context, resource: request.name, details: details)
            return DeleteCustomerResponse()
        }
    }
}

extension ListCustomersRequest: PagedListRequest {}
