import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.operations.v1.InvoiceService over the store.
///
/// An invoice bills one of the tenant's own customers, optionally for one of that customer's
/// appointments; naming another tenant's gets the same INVALID_ARGUMENT as naming a missing one.
/// The server computes line amounts and totals, numbers invoices `INV-0001`, `INV-0002`, ... per
/// tenant when the caller leaves the number empty, and stamps the issue and paid times unless the
/// caller gives them (an import keeps its dates). Only a
/// draft's number, lines, currency and tax may change (see ``InvoiceLifecycle``).
public struct InvoiceHandler: InvoiceServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func createInvoice(_ request: CreateInvoiceRequest, context: RequestContext) async throws -> Invoice {
        let tenantID = try context.requireTenant()
        var invoice = Self.normalized(request.invoice)
        var violations: [FieldViolation] = []
        if invoice.customer.isEmpty { violations.append(FieldViolation(field: "invoice.customer", description: "is required")) }
        if invoice.currencyCode.isEmpty { violations.append(FieldViolation(field: "invoice.currency_code", description: "is required")) }
        guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
        try CurrencyCode.check(invoice.currencyCode, field: "invoice.currency_code")
        if invoice.status == .unspecified { invoice.status = .draft }
        try InvoiceTotals.compute(&invoice)
        try InvoiceLifecycle.stampTimes(&invoice, current: nil, at: Date())

        let collection = InvoiceRecords.collection
        let id = request.invoiceID.isEmpty ? ResourceCollection.newID() : request.invoiceID
        let name = collection.name(tenantID: tenantID, id: id)
        let newInvoice = invoice
        return try await collection.reportingDuplicates(of: InvoiceRecords.uniqueValues(of: newInvoice), tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                try await IdempotencyRecords.once(tx, method: "CreateInvoice", for: request) {
                    guard try await InvoiceRecords.find(id: id, tx) == nil else {
                        throw collection.alreadyExists(tenantID: tenantID, id: id)
                    }
                    _ = try await CustomerRecords.collection.referencedID(newInvoice.customer, field: "invoice.customer", tx)
                    try await Self.checkAppointment(of: newInvoice, tx)
                    var numbered = newInvoice
                    try await InvoiceRecords.serializeNumbering(tx)
                    if numbered.invoiceNumber.isEmpty { numbered.invoiceNumber = try await InvoiceRecords.nextNumber(tx) }
                    try await TenantUniqueKey.check(InvoiceRecords.uniqueValues(of: numbered), excluding: id, tx)
                    try await InvoiceRecords.insert(numbered, id: id, tx)
                    try await AuditLog.record(tx, context: context, resource: name)
                    return try await InvoiceRecords.find(id: id, tx)!
                }
            }
        }
    }

    public func getInvoice(_ request: GetInvoiceRequest, context: RequestContext) async throws -> Invoice {
        let tenantID = try context.requireTenant()
        guard let id = InvoiceRecords.collection.id(in: request.name, tenantID: tenantID),
              let invoice = try await database.withTenant(tenantID, { try await InvoiceRecords.find(id: id, $0) })
        else { throw ServiceError.notFound(request.name) }
        return invoice
    }

    /// Newest first; with `min_update_time`, oldest change first.
    public func listInvoices(_ request: ListInvoicesRequest, context: RequestContext) async throws -> ListInvoicesResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        var conditions: [SQLStatement] = []
        if let customerID = try CustomerRecords.collection.filterID(request.customer, field: "customer", tenantID: tenantID) {
            conditions.append("customer_id = \(customerID)")
        }
        if request.status != .unspecified { conditions.append("status = \(request.status.storedName)") }
        if !request.externalID.isEmpty { conditions.append("external_id = \(request.externalID)") }
        let sync = request.hasMinUpdateTime ? ChangeSync(since: request.minUpdateTime.date, collection: InvoiceRecords.collection) : nil
        let order = sync?.order ?? ListOrder(column: "create_time", direction: .newestFirst, idColumn: "invoice_id")
        let filters = conditions
        let invoices = try await database.transaction(.tenant(tenantID)) { tx in
            let changed = try await sync?.conditions(tx) ?? []
            return try await order.page(of: InvoiceRecords.collection.table, where: filters + changed, paging, tx, item: InvoiceRecords.invoice(from:))
        }
        return ListInvoicesResponse.with {
            $0.invoices = invoices.items
            $0.nextPageToken = invoices.nextPageToken
        }
    }

    public func updateInvoice(_ request: UpdateInvoiceRequest, context: RequestContext) async throws -> Invoice {
        let tenantID = try context.requireTenant()
        let name = request.invoice.name
        let collection = InvoiceRecords.collection
        let id = try collection.requireID(in: name, tenantID: tenantID, field: "invoice.name")
        let mask = try InvoiceUpdateMask(request.updateMask)
        let input = Self.normalized(request.invoice)
        if mask.contains("invoice_number"), input.invoiceNumber.isEmpty {
            throw ServiceError.invalidArgument(field: "invoice.invoice_number", "must not be empty")
        }
        if mask.contains("currency_code") {
            if input.currencyCode.isEmpty { throw ServiceError.invalidArgument(field: "invoice.currency_code", "must not be empty") }
            try CurrencyCode.check(input.currencyCode, field: "invoice.currency_code")
        }
        // Left at 0 it would not say which status: a client that names the field sets it.
        if mask.contains("status"), input.status == .unspecified {
            throw ServiceError.invalidArgument(field: "invoice.status", "must be a status when update_mask names it")
        }
        // Just the unique values this update sets, to check them against the other invoices.
        let uniques = InvoiceRecords.uniqueValues(of: input).filter { mask.contains($0.key.path) }
        return try await collection.reportingDuplicates(of: uniques, tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                if mask.contains("invoice_number") { try await InvoiceRecords.serializeNumbering(tx) }
                guard let current = try await InvoiceRecords.find(id: id, tx) else { throw ServiceError.notFound(name) }
                try Etag.requireCurrent(request.invoice.etag, current: current.etag, of: name)
                var invoice = current
                mask.apply(from: input, to: &invoice)
                try InvoiceLifecycle.checkTransition(of: name, from: current.status, to: invoice.status)
                try InvoiceLifecycle.checkSentUnchanged(of: name, current: current, updated: invoice)
                if mask.contains("appointment") { try await Self.checkAppointment(of: invoice, tx) }
                try InvoiceTotals.compute(&invoice)
                try InvoiceLifecycle.stampTimes(&invoice, current: current, at: Date())
                // An update that changes nothing writes nothing: the etag and update time stay, so
                // a two-way sync that sends back what it read settles rather than bouncing.
                guard invoice != current else { return current }
                try await TenantUniqueKey.check(uniques, excluding: id, tx)
                guard try await InvoiceRecords.update(invoice, id: id, expectedRevision: Etag.revision(current.etag) ?? 0, tx) else {
                    throw Etag.concurrentChange(of: name)
                }
                try await AuditLog.record(tx, context: context, resource: name, details: mask.paths.auditDetails)
                return try await InvoiceRecords.find(id: id, tx)!
            }
        }
    }

    /// An invoice's appointment, when it has one, must be one of the tenant's appointments for the
    /// invoice's customer.
    static func checkAppointment(of invoice: Invoice, _ tx: TenantTransaction) async throws {
        guard !invoice.appointment.isEmpty else { return }
        let appointmentID = try await AppointmentRecords.collection.referencedID(invoice.appointment, field: "invoice.appointment", tx)
        guard try await AppointmentRecords.find(id: appointmentID, tx)?.customer == invoice.customer else {
            throw ServiceError.invalidArgument(field: "invoice.appointment", "\(invoice.appointment) is an appointment of another customer")
        }
    }

    /// `invoice` as the store keeps it, so that an update sending back what it read changes nothing.
    static func normalized(_ invoice: Invoice) -> Invoice {
        var invoice = invoice
        if invoice.hasDueTime { invoice.dueTime = invoice.dueTime.asStored }
        if invoice.hasIssueTime { invoice.issueTime = invoice.issueTime.asStored }
        if invoice.hasPaidTime { invoice.paidTime = invoice.paidTime.asStored }
        return invoice
    }

    /// Only a draft goes: an invoice sent out stays on the books, and is voided instead. A draft
    /// was never sent, so the number of the last one deleted may be given to the next invoice.
    public func deleteInvoice(_ request: DeleteInvoiceRequest, context: RequestContext) async throws -> DeleteInvoiceResponse {
        let tenantID = try context.requireTenant()
        let collection = InvoiceRecords.collection
        let id = try collection.requireID(in: request.name, tenantID: tenantID, field: "name")
        return try await database.withTenant(tenantID) { tx in
            try await collection.lockForDelete(id: id, tx)
            guard let current = try await InvoiceRecords.find(id: id, tx) else { throw ServiceError.notFound(request.name) }
            try Etag.requireCurrent(request.etag, current: current.etag, of: request.name)
            guard current.status == .draft else {
                let instead = current.status == .issued ? "set its status to INVOICE_STATUS_VOID instead" : "it stays on the books"
                throw ServiceError.failedPrecondition(
                    reason: "invoice_not_draft", message: "\(request.name) is \(current.status.storedName), not a draft; \(instead)")
            }
            guard try await collection.delete(id: id, revision: Etag.revision(current.etag) ?? 0, tx) else {
                throw Etag.concurrentChange(of: request.name)
            }
            try await AuditLog.record(tx, context: context, resource: request.name)
            return DeleteInvoiceResponse()
        }
    }
}

extension ListInvoicesRequest: PagedListRequest {}
