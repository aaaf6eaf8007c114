import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Invoices in the store. The customer and appointment are stored by id, the lines as a JSON
/// array (they are only ever read and written with their invoice), the external id as NULL when
/// empty. The invoice number is unique within the tenant; the server numbers invoices
/// `INV-0001`, `INV-0002`, ... when the caller does not.
enum InvoiceRecords {
    static let collection = ResourceCollection(segment: "invoices", table: "invoices", idColumn: "invoice_id", noun: "invoice")
    static let invoiceNumber = TenantUniqueKey(
        collection: InvoiceRecords.collection, path: "invoice_number", column: "invoice_number", index: "invoices_by_number")
    static let externalID = TenantUniqueKey(
        collection: InvoiceRecords.collection, path: "external_id", column: "external_id", index: "invoices_by_external_id")

    /// The values of `invoice` no other invoice of the tenant may have.
    static func uniqueValues(of invoice: Invoice) -> [TenantUniqueKey.Value] {
        [
            TenantUniqueKey.Value(key: invoiceNumber, value: invoice.invoiceNumber),
            TenantUniqueKey.Value(key: externalID, value: invoice.externalID),
        ]
    }

    static func find(id: String, _ tx: TenantTransaction) async throws -> Invoice? {
        try await tx.select(from: collection.table, where: "invoice_id = \(id)").first.map(invoice(from:))
    }

    /// `invoice.customer` and `invoice.appointment` must name the tenant's own, as the caller
    /// checked.
    static func insert(_ invoice: Invoice, id: String, _ tx: TenantTransaction) async throws {
        let now = Date()  // inside the transaction: see ChangeSync
        try await tx.insert(into: collection.table, [("invoice_id", id)] + columns(of: invoice, tenantID: tx.tenantID) + [
            ("create_time", now),
            ("update_time", now),
            ("revision", 1),
        ])
    }

    /// Writes every stored field if the row's revision is still `revision`; false otherwise.
    static func update(_ invoice: Invoice, id: String, expectedRevision revision: Int64, _ tx: TenantTransaction) async throws -> Bool {
        let now = Date()  // inside the transaction: see ChangeSync
        let changed = try await tx.update(
            collection.table,
            set: columns(of: invoice, tenantID: tx.tenantID) + [("update_time", now), ("revision", revision + 1)],
            where: "invoice_id = \(id) AND revision = \(revision)")
        return changed == 1
    }

    /// The number after the highest `INV-<digits>` the tenant has, e.g. `INV-0043` after `INV-0042`,
    /// whatever other numbers callers chose. One query in the store, however many invoices the
    /// tenant has.
    ///
    /// The caller holds the numbering lock (`serializeNumbering`), so concurrent creates get
    /// consecutive numbers rather than a clash. Throws FAILED_PRECONDITION
    /// `invoice_numbers_exhausted` when the next number would be longer than a number may be.
    static func nextNumber(_ tx: TenantTransaction) async throws -> String {
        // The highest is found and incremented as digits, not as a BIGINT: a number a caller
        // chose may have more digits than any integer holds, and numbering must go on after it.
        // Without leading zeros, a longer run of digits is the larger number, and runs of one
        // length order as text.
        let digits = "LTRIM(SUBSTR(invoice_number, 5), '0')"
        let row = try await tx.select(
            "\(digits) AS digits",
            from: collection.table,
            where: """
                SUBSTR(invoice_number, 1, 4) = 'INV-' AND LENGTH(invoice_number) > 4 \
                AND LTRIM(SUBSTR(invoice_number, 5), '0123456789') = ''
                """,
            orderBy: "LENGTH(\(digits)) DESC, \(digits) DESC",
            limit: 1
        ).first
        let next = incremented(try row?.string("digits") ?? "")
        let number = "INV-" + String(repeating: "0", count: max(0, 4 - next.count)) + next
        guard number.count <= maxNumberLength else {
            throw ServiceError.failedPrecondition(
                reason: "invoice_numbers_exhausted",
                message: "the number after the tenant's highest INV- number would be longer than \(maxNumberLength) characters; set invoice.invoice_number")
        }
        return number
    }

    /// `Invoice.invoice_number`'s `max_length`.
    static let maxNumberLength = 64

    /// Writes of invoice numbers, picked or set, go one at a time per tenant: a number picked
    /// while another write sets that same number would clash, and the clash would blame a field
    /// its caller left empty. SQLite runs one writer at a time; on PostgreSQL a transaction lock
    /// per tenant, held until commit, makes the next write see this one's number.
    static func serializeNumbering(_ tx: TenantTransaction) async throws {
        try await tx.serialize("invoice-numbering")
    }

    /// `digits` plus one, in decimal: "0041" → "0042", "999" → "1000", "" → "1".
    static func incremented(_ digits: String) -> String {
        var result = Array(digits.utf8)
        var index = result.endIndex
        while index > result.startIndex {
            index -= 1
            if result[index] == UInt8(ascii: "9") {
                result[index] = UInt8(ascii: "0")
            } else {
                result[index] += 1
                return String(decoding: result, as: UTF8.self)
            }
        }
        return "1" + String(decoding: result, as: UTF8.self)
    }

    // MARK: Rows

    private static func columns(of invoice: Invoice, tenantID: String) throws -> [(String, any SQLValueConvertible)] {
        let lines = try StoredLine.json(invoice.lines)
        return [
            ("customer_id", CustomerRecords.collection.id(in: invoice.customer, tenantID: tenantID)),
            ("appointment_id", AppointmentRecords.collection.id(in: invoice.appointment, tenantID: tenantID)),
            ("invoice_number", invoice.invoiceNumber),
            ("lines", lines),
            ("currency_code", invoice.currencyCode),
            ("subtotal_cents", invoice.subtotalCents),
            ("tax_cents", invoice.taxCents),
            ("total_cents", invoice.totalCents),
            ("status", invoice.status.storedName),
            ("issue_time", invoice.hasIssueTime ? invoice.issueTime.date : nil),
            ("due_time", invoice.hasDueTime ? invoice.dueTime.date : nil),
            ("paid_time", invoice.hasPaidTime ? invoice.paidTime.date : nil),
            ("notes", invoice.notes),
            ("external_id", invoice.externalID.nilIfEmpty),
        ]
    }

    static func invoice(from row: SQLRow) throws -> Invoice {
        let tenantID = try row.string("tenant_id")
        return try Invoice.with {
            $0.name = collection.name(tenantID: tenantID, id: try row.string("invoice_id"))
            $0.customer = CustomerRecords.collection.name(tenantID: tenantID, id: try row.string("customer_id"))
            if let appointment = try row.optionalString("appointment_id") {
                $0.appointment = AppointmentRecords.collection.name(tenantID: tenantID, id: appointment)
            }
            $0.invoiceNumber = try row.string("invoice_number")
            $0.lines = try StoredLine.lines(fromJSON: try row.string("lines"))
            $0.currencyCode = try row.string("currency_code")
            $0.subtotalCents = try row.int("subtotal_cents")
            $0.taxCents = try row.int("tax_cents")
            $0.totalCents = try row.int("total_cents")
            $0.status = InvoiceStatus(storedName: try row.string("status"))
            if let issued = try row.optionalDate("issue_time") { $0.issueTime = Google_Protobuf_Timestamp(date: issued) }
            if let due = try row.optionalDate("due_time") { $0.dueTime = Google_Protobuf_Timestamp(date: due) }
            if let paid = try row.optionalDate("paid_time") { $0.paidTime = Google_Protobuf_Timestamp(date: paid) }
            $0.notes = try row.string("notes")
            $0.externalID = try row.optionalString("external_id") ?? ""
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
            $0.etag = Etag.make(revision: try row.int("revision"))
        }
    }

    /// One line in the `lines` column, with the snake_case keys of the API's fields, so the JSON
    /// reads the same to anyone looking at the table or an export.
    private struct StoredLine: Codable {
        var label: String
        var quantity: Int32
        var unitPriceCents: Int64
        var amountCents: Int64

        enum CodingKeys: String, CodingKey {
            case label, quantity
            case unitPriceCents = "unit_price_cents"
            case amountCents = "amount_cents"
        }

        static func json(_ lines: [InvoiceLine]) throws -> String {
            let stored = lines.map { StoredLine(label: $0.label, quantity: $0.quantity, unitPriceCents: $0.unitPriceCents, amountCents: $0.amountCents) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: try encoder.encode(stored), as: UTF8.self)
        }

        static func lines(fromJSON json: String) throws -> [InvoiceLine] {
            try JSONDecoder().decode([StoredLine].self, from: Data(json.utf8)).map { stored in
                InvoiceLine.with {
                    $0.label = stored.label
                    $0.quantity = stored.quantity
                    $0.unitPriceCents = stored.unitPriceCents
                    $0.amountCents = stored.amountCents
                }
            }
        }
    }
}
