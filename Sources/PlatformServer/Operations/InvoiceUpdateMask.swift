import ServiceProAPI
import SwiftProtobuf

/// The fields an UpdateInvoice may change: edit a draft, issue, mark paid, void. Totals follow
/// the lines and tax; the customer is not one of them. The issue and paid times may be given
/// only with the change of status that sets them (see ``InvoiceLifecycle``).
struct InvoiceUpdateMask: Sendable {
    static let fields: Set<String> = [
        "appointment", "invoice_number", "lines", "currency_code", "tax_cents", "status", "due_time", "notes", "external_id",
        "issue_time", "paid_time",
    ]

    let paths: UpdateMaskPaths

    init(_ mask: Google_Protobuf_FieldMask) throws {
        paths = try UpdateMaskPaths(mask, updatable: Self.fields)
    }

    func contains(_ path: String) -> Bool { paths.contains(path) }

    func apply(from source: Invoice, to target: inout Invoice) {
        for path in paths.paths {
            switch path {
            case "appointment": target.appointment = source.appointment
            case "invoice_number": target.invoiceNumber = source.invoiceNumber
            case "lines": target.lines = source.lines
            case "currency_code": target.currencyCode = source.currencyCode
            case "tax_cents": target.taxCents = source.taxCents
            case "status": target.status = source.status
            case "due_time":
                if source.hasDueTime { target.dueTime = source.dueTime } else { target.clearDueTime() }
            case "issue_time":
                if source.hasIssueTime { target.issueTime = source.issueTime } else { target.clearIssueTime() }
            case "paid_time":
                if source.hasPaidTime { target.paidTime = source.paidTime } else { target.clearPaidTime() }
            case "notes": target.notes = source.notes
            case "external_id": target.externalID = source.externalID
            default: break
            }
        }
    }
}
