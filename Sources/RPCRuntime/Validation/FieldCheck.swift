import SwiftProtobuf

import Foundation

/// The checks generated validators call, one per kind of field rule.
public enum FieldCheck {
    /// The value without leading and trailing whitespace, for the `trim` rule.
    public static func trimmed(_ value: String) -> String {
        // Most values have nothing to trim, and need not pay for Foundation's bridged scan.
        let whitespace = CharacterSet.whitespacesAndNewlines
        guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last,
              whitespace.contains(first) || whitespace.contains(last)
        else { return value }
        return value.trimmingCharacters(in: whitespace)
    }

    public static func required(_ isSet: Bool, _ field: String, _ violations: inout [FieldViolation]) {
        if !isSet { violations.append(FieldViolation(field: field, description: "is required")) }
    }

    /// Counts Unicode code points, as protovalidate's `max_len` does: counting what a reader sees
    /// as one character would let one letter with thousands of combining marks through.
    public static func maxLength(_ value: String, _ limit: Int, _ field: String, _ violations: inout [FieldViolation]) {
        // UTF-8 has at least one byte a code point, so most values are settled without counting.
        guard value.utf8.count > limit else { return }
        let count = value.unicodeScalars.count
        if count > limit {
            violations.append(FieldViolation(field: field, description: "must be at most \(limit) characters (got \(count))"))
        }
    }

    /// Every string of every request: PostgreSQL refuses a NUL character (U+0000) in any text,
    /// and SQLite would keep it, so both stores answer alike, and before anything is written.
    public static func storable(_ value: String, _ field: String, _ violations: inout [FieldViolation]) {
        if value.utf8.contains(0) {
            violations.append(FieldViolation(field: field, description: "must not contain a NUL character (U+0000)"))
        }
    }

    /// An element of a list with a format (`e164`, `pattern`), which an empty one lacks.
    public static func notEmpty(_ value: String, _ field: String, _ violations: inout [FieldViolation]) {
        if value.isEmpty { violations.append(FieldViolation(field: field, description: "must not be empty")) }
    }

    /// Unset (empty) passes: `required` says whether it must be there.
    public static func e164(_ value: String, _ field: String, _ violations: inout [FieldViolation]) {
        if !value.isEmpty, !PhoneNumber.isE164(value) {
            violations.append(FieldViolation(field: field, description: "must be an E.164 phone number like +19185551234"))
        }
    }

    public static func pattern(_ value: String, _ pattern: FieldPattern, _ field: String, _ violations: inout [FieldViolation]) {
        if !value.isEmpty, !pattern.matches(value) {
            violations.append(FieldViolation(field: field, description: "must match \(pattern.source)"))
        }
    }

    /// Protobuf's range for a Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
    public static func timestamp(_ value: Google_Protobuf_Timestamp, _ field: String, _ violations: inout [FieldViolation]) {
        if !(-62_135_596_800...253_402_300_799).contains(value.seconds) || !(0...999_999_999).contains(value.nanos) {
            violations.append(FieldViolation(field: field, description: "must be a time from year 1 to year 9999"))
        }
    }

    /// Protobuf's range for a Duration: within 10,000 years either way, seconds and nanos of one sign.
    public static func duration(_ value: Google_Protobuf_Duration, _ field: String, _ violations: inout [FieldViolation]) {
        let limit: Int64 = 315_576_000_000
        let signsAgree = value.seconds == 0 || value.nanos == 0 || (value.seconds < 0) == (value.nanos < 0)
        if !(-limit...limit).contains(value.seconds) || !(-999_999_999...999_999_999).contains(value.nanos) || !signsAgree {
            violations.append(FieldViolation(field: field, description: "must be a duration within 10,000 years"))
        }
    }

    /// The `max_items` rule.
    public static func maxItems(_ count: Int, _ limit: Int, _ field: String, _ violations: inout [FieldViolation]) {
        if count > limit {
            violations.append(FieldViolation(field: field, description: "must have at most \(limit) items (got \(count))"))
        }
    }

    /// The `minimum` and `maximum` rules. Integers are compared as `Double`, exact up to 2^53,
    /// far beyond any bound the API declares.
    public static func range(_ value: some BinaryInteger, minimum: Double?, maximum: Double?, _ field: String, _ violations: inout [FieldViolation]) {
        checkRange(Double(value), shown: "\(value)", minimum, maximum, unit: "", field, &violations)
    }

    /// Compared as Float: a bound of 0.1 admits the Float a client writes as 0.1, which is a
    /// little more than the Double 0.1.
    public static func range(_ value: Float, minimum: Double?, maximum: Double?, _ field: String, _ violations: inout [FieldViolation]) {
        let asFloat = { (bound: Double) in Double(Float(bound)) }
        checkRange(Double(value), shown: "\(value)", minimum.map(asFloat), maximum.map(asFloat), unit: "", field, &violations)
    }

    public static func range(_ value: Double, minimum: Double?, maximum: Double?, _ field: String, _ violations: inout [FieldViolation]) {
        checkRange(value, shown: "\(value)", minimum, maximum, unit: "", field, &violations)
    }

    /// A Duration's bounds are in seconds, and so is what the violation says ("-5s").
    public static func range(_ value: Google_Protobuf_Duration, minimum: Double?, maximum: Double?, _ field: String, _ violations: inout [FieldViolation]) {
        let seconds = Double(value.seconds) + Double(value.nanos) / 1_000_000_000
        let shown = value.nanos == 0 ? "\(value.seconds)" : "\(seconds)"
        checkRange(seconds, shown: shown, minimum, maximum, unit: "s", field, &violations)
    }

    private static func checkRange(
        _ value: Double, shown: String, _ minimum: Double?, _ maximum: Double?, unit: String, _ field: String,
        _ violations: inout [FieldViolation]
    ) {
        // Written so that NaN, which compares false with everything, is out of every range.
        guard !(value >= (minimum ?? -.infinity) && value <= (maximum ?? .infinity)) else { return }
        let limits: String
        switch (minimum, maximum) {
        case let (minimum?, maximum?): limits = "must be from \(bound(minimum))\(unit) to \(bound(maximum))\(unit)"
        case let (minimum?, nil): limits = "must be at least \(bound(minimum))\(unit)"
        case let (nil, maximum?): limits = "must be at most \(bound(maximum))\(unit)"
        case (nil, nil): limits = "must be a number"
        }
        violations.append(FieldViolation(field: field, description: "\(limits) (got \(shown)\(unit))"))
    }

    /// A bound as the proto wrote it: `0`, not `0.0`.
    private static func bound(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    public static func definedEnum<E: SwiftProtobuf.Enum & CaseIterable>(_ value: E, _ field: String, _ violations: inout [FieldViolation]) {
        if !E.allCases.contains(value) {
            violations.append(FieldViolation(field: field, description: "has no value \(value.rawValue)"))
        }
    }
}

/// E.164 phone numbers, the only form the platform stores.
public enum PhoneNumber {
    /// `+`, a non-zero digit, then 7 to 14 more digits.
    public static func isE164(_ value: String) -> Bool {
        let digits = value.utf8.dropFirst()
        guard value.utf8.first == UInt8(ascii: "+"), (8...15).contains(digits.count),
              let first = digits.first, first != UInt8(ascii: "0")
        else { return false }
        return digits.allSatisfy(\.isASCIIDigit)
    }
}
