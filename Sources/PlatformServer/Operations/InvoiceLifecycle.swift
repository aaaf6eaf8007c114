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

    /// How far ahead of the server's clock a given time may be: another system's clock, a
    /// moment off.
    static let clockSkew: TimeInterval = 5 * 60

    /// Records when `invoice` was issued and paid, the first time its status says so: at the
    /// time the caller gave with that change (an import from another system keeps its dates),
    /// else `now`. An invoice marked paid as a draft was issued when it was paid.
    ///
    /// `current` is the stored invoice (nil on create), whose times are fixed once set. A time
    /// given without the status that sets it, in the future, or a payment before the issue, is
    /// INVALID_ARGUMENT.
    static func stampTimes(_ invoice: inout Invoice, current: Invoice?, at now: Date) throws {
        let issued = [.issued, .paid].contains(invoice.status)
        let paid = invoice.status == .paid
        try checkGiven(\.issueTime, \.hasIssueTime, "issue_time", of: invoice, current: current, allowed: issued, status: "ISSUED or PAID", now: now)
        try checkGiven(\.paidTime, \.hasPaidTime, "paid_time", of: invoice, current: current, allowed: paid, status: "PAID", now: now)
        if paid, !invoice.hasPaidTime { invoice.paidTime = Google_Protobuf_Timestamp(date: now) }
        if issued, !invoice.hasIssueTime {
            invoice.issueTime = paid ? invoice.paidTime : Google_Protobuf_Timestamp(date: now)
        }
        if invoice.hasIssueTime, invoice.hasPaidTime, invoice.paidTime.date < invoice.issueTime.date {
            throw ServiceError.invalidArgument(field: "invoice.paid_time", "must not be before issue_time")
        }
    }

    /// A time the caller gave: one the stored invoice does not have yet, set with the status
    /// that sets it, and not in the future. Sending back the stored one is no change.
    private static func checkGiven(
        _ time: KeyPath<Invoice, Google_Protobuf_Timestamp>, _ has: KeyPath<Invoice, Bool>, _ field: String,
        of invoice: Invoice, current: Invoice?, allowed: Bool, status: String, now: Date
    ) throws {
        let stored = current.flatMap { $0[keyPath: has] ? $0[keyPath: time] : nil }
        let given = invoice[keyPath: has] ? invoice[keyPath: time] : nil
        guard given != stored else { return }
        if let stored {
            throw ServiceError.failedPrecondition(
                reason: "invoice_time_fixed", message: "\(field) is fixed once set; it is \(stored.date.formatted(.iso8601))", metadata: ["field": field])
        }
        guard let given else { return }
        guard allowed else {
            throw ServiceError.invalidArgument(field: "invoice.\(field)", "can be given only with status \(status)")
        }
        if given.date > now.addingTimeInterval(clockSkew) {
            throw ServiceError.invalidArgument(field: "invoice.\(field)", "must not be in the future")
        }
    }
}

extension InvoiceStatus: StoredEnum {}
