import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Where an invoice may go in its life, and what that fixes. A draft is issued, or marked paid
/// straight away, or voided; an issued invoice is paid or voided; paid and void are final. Nothing
/// returns to draft, so what an invoice bills stays as it was sent.
enum InvoiceLifecycle: StatusLifecycle {
    static let whenFinal = ""

    static func nextStatuses(from status: InvoiceStatus) -> Set<InvoiceStatus> {
        switch status {
        case .draft: return [.issued, .paid, .void]
        case .issued: return [.paid, .void]
        case .paid, .void, .unspecified, .UNRECOGNIZED: return []
        }
    }

    /// FAILED_PRECONDITION when `updated` changes what `current`, no longer a draft, was sent as:
    /// its number, lines, currency or tax. Everything else (notes, due time, status, ...) may
    /// still change.
    static func checkSentUnchanged(of name: String, current: Invoice, updated: Invoice) throws {
        guard current.status != .draft, AsSent(current) != AsSent(updated) else { return }
        throw ServiceError.failedPrecondition(
            reason: "invoice_not_draft",
            message: "\(name) is \(current.status.storedName): only a draft's invoice_number, lines, currency_code and tax_cents can change",
            metadata: ["status": current.status.storedName])
    }

    /// What the customer was sent: the number they quote when paying, and what is billed, as the
    /// caller gives it (amounts are the server's).
    private struct AsSent: Equatable {
        var invoiceNumber: String
        var lines: [InvoiceLine]
        var currencyCode: String
        var taxCents: Int64

        init(_ invoice: Invoice) {
            invoiceNumber = invoice.invoiceNumber
            lines = invoice.lines.map { line in
                var line = line
                line.amountCents = 0
                return line
            }
            currencyCode = invoice.currencyCode
            taxCents = invoice.taxCents
        }
    }

    /// Records when `invoice` was issued and paid, the first time its status says so. An invoice
    /// marked paid as a draft was issued at the same moment.
    static func stampTimes(_ invoice: inout Invoice, at now: Date) {
        if [.issued, .paid].contains(invoice.status), !invoice.hasIssueTime {
            invoice.issueTime = Google_Protobuf_Timestamp(date: now)
        }
        if invoice.status == .paid, !invoice.hasPaidTime {
            invoice.paidTime = Google_Protobuf_Timestamp(date: now)
        }
    }
}

extension InvoiceStatus: StoredEnum {}
