import RPCRuntime
import ServiceProAPI

/// The amounts the server computes for an invoice, in the currency's minor unit: each line's
/// quantity times unit price, their sum, and the sum plus tax. Integers, so totals add up exactly;
/// amounts too large for 64 bits are refused rather than wrapped.
enum InvoiceTotals {
    /// Fills in the line amounts, subtotal and total of `invoice`, or INVALID_ARGUMENT naming
    /// every line field out of range, e.g. `invoice.lines[0].quantity`.
    static func compute(_ invoice: inout Invoice) throws {
        var violations: [FieldViolation] = []
        var subtotal: Int64 = 0
        var subtotalOverflows = false
        for index in invoice.lines.indices {
            let line = invoice.lines[index]
            let path = "invoice.lines[\(index)]."
            var valid = true
            if line.quantity < 1 {
                violations.append(FieldViolation(field: path + "quantity", description: "must be at least 1"))
                valid = false
            }
            if line.unitPriceCents < 0 {
                violations.append(FieldViolation(field: path + "unit_price_cents", description: "must not be negative"))
                valid = false
            }
            guard valid else { continue }
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
        if invoice.taxCents < 0 {
            violations.append(FieldViolation(field: "invoice.tax_cents", description: "must not be negative"))
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
