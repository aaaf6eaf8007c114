import Foundation
import RPCRuntime

/// Currency codes as ISO 4217 lists them (ICU's list, through Foundation): the proto's pattern
/// lets any three capital letters through, and an invoice in "ABC" is a typo nobody can pay.
enum CurrencyCode {
    static let known: Set<String> = Set(Locale.Currency.isoCurrencies.map(\.identifier))

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
