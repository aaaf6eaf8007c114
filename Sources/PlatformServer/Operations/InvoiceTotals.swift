import RPCRuntime
import ServiceProAPI

/// The amounts the server computes for an invoice, in the currency's minor unit: each line's
/// quantity times unit price, their sum, and the sum plus tax. Integers, so totals add up exactly;
/// amounts too large for 64 bits are refused rather than wrapped. Quantities of at least 1 and
/// amounts that are not negative are the field rules' to check, before the handler runs.
enum InvoiceTotals {
    /// Fills in the line amounts, subtotal and total of `invoice`, or INVALID_ARGUMENT naming
    /// the field that makes an amount too large, e.g. `invoice.lines[0].unit_price_cents`.
    static func compute(_ invoice: inout Invoice) throws {
        var violations: [FieldViolation] = []
        var subtotal: Int64 = 0
        var subtotalOverflows = false
        for index in invoice.lines.indices {
            let line = invoice.lines[index]
            let path = "invoice.lines[\(index)]."
            let (amount, amountOverflows) = Int64(line.quantity).multipliedReportingOverflow(by: line.unitPriceCents)
            guard !amountOverflows else {
                violations.append(FieldViolation(field: path + "unit_price_cents", description: "makes the line's amount too large"))
                continue
            }
            invoice.lines[index].amountCents = amount
            let (sum, sumOverflows) = subtotal.addingReportingOverflow(amount)
            subtotal = sum
            subtotalOverflows = subtotalOverflows || sumOverflows
        }
        if subtotalOverflows {
            violations.append(FieldViolation(field: "invoice.lines", description: "add up to more than an invoice can hold"))
        }
        let (total, totalOverflows) = subtotal.addingReportingOverflow(invoice.taxCents)
        if totalOverflows, violations.isEmpty {
            violations.append(FieldViolation(field: "invoice.tax_cents", description: "makes the total too large"))
        }
        guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
        invoice.subtotalCents = subtotal
        invoice.totalCents = total
    }
}
