import Foundation
import RPCRuntime

/// A tenant's time zone as people give it: an IANA name of a place, such as "America/Chicago",
/// which the system's time zone database knows. Abbreviations ("CST"), offsets and "UTC" are
/// refused: they say nothing about daylight saving time, and a reminder would be an hour off half
/// the year.
enum TimeZoneName {
    /// What is wrong with `value` at `field`; nil when it is empty (unset) or a known zone.
    static func violation(_ value: String, field: String) -> FieldViolation? {
        guard !value.isEmpty else { return nil }
        // Etc/GMT+5 is an offset by another name (and with its sign turned round).
        if value.contains("/"), !value.hasPrefix("Etc/"), TimeZone(identifier: value) != nil { return nil }
        return FieldViolation(field: field, description: "must be an IANA time zone such as America/Chicago")
    }

    /// The zone `value` names; nil when it is empty or not one ``violation(_:field:)`` accepts.
    static func zone(_ value: String) -> TimeZone? {
        guard !value.isEmpty, violation(value, field: "") == nil else { return nil }
        return TimeZone(identifier: value)
    }

    /// Throws INVALID_ARGUMENT naming `field` unless `value` is empty or a known zone.
    static func check(_ value: String, field: String) throws {
        if let violation = violation(value, field: field) { throw ServiceError.invalidArgument([violation]) }
    }
}
