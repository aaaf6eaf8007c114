import Foundation
import RPCRuntime

/// Currency codes as ISO 4217 lists them (ICU's list, through Foundation): the proto's pattern
/// lets any three capital letters through, and an invoice in "ABC" is a typo nobody can pay.
enum CurrencyCode {
    static let known: Set<String> = Set(Locale.Currency.isoCurrencies.map(\.identifier)).subtracting(notMoney)

    /// ISO 4217's codes for what no business bills in: "no currency" and testing (XXX, XTS),
    /// precious metals, bond-market units, drawing rights and codes long withdrawn. The X codes
    /// of real currencies (XAF, XOF, XPF, XCD, XCG) stay.
    static let notMoney: Set<String> = [
        "XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XEU", "XFO", "XFU", "XRE",
    ]

    /// INVALID_ARGUMENT naming `field` unless `code` is empty or an ISO 4217 code.
    static func check(_ code: String, field: String) throws {
        if let violation = violation(code, field: field) { throw ServiceError.invalidArgument([violation]) }
    }

    /// What is wrong with `code` as `field`; nil when it is empty or an ISO 4217 code.
    static func violation(_ code: String, field: String) -> FieldViolation? {
        guard !code.isEmpty, !known.contains(code) else { return nil }
        return FieldViolation(field: field, description: "\"\(code)\" is not an ISO 4217 currency code, such as USD or EUR")
    }
}
