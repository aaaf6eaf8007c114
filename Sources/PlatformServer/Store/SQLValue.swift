import Foundation

/// A value bound into or read out of SQL, the common ground of SQLite and PostgreSQL.
/// Timestamps travel as microseconds since the epoch (BIGINT) so both stores sort them alike.
public enum SQLValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case real(Double)
    case bool(Bool)
    case blob(Data)
    case null
}

/// Types that bind as one SQL value.
public protocol SQLValueConvertible: Sendable {
    var sqlValue: SQLValue { get }
}

extension String: SQLValueConvertible { public var sqlValue: SQLValue { .text(self) } }
extension Int64: SQLValueConvertible { public var sqlValue: SQLValue { .integer(self) } }
extension Int: SQLValueConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int32: SQLValueConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Double: SQLValueConvertible { public var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLValueConvertible { public var sqlValue: SQLValue { .bool(self) } }
extension Data: SQLValueConvertible { public var sqlValue: SQLValue { .blob(self) } }
extension SQLValue: SQLValueConvertible { public var sqlValue: SQLValue { self } }

extension Date: SQLValueConvertible {
    /// Microseconds since 1970. Requests' times are validated to years 1 to 9999, far inside
    /// Int64; a time from elsewhere past that saturates rather than trapping the server.
    public var sqlValue: SQLValue { .integer(microsecondsSince1970) }

    /// The time as stored.
    var microsecondsSince1970: Int64 {
        let microseconds = (timeIntervalSince1970 * 1_000_000).rounded()
        return Int64(exactly: microseconds) ?? (microseconds < 0 ? .min : .max)
    }

    init(microsecondsSince1970 value: Int64) {
        self.init(timeIntervalSince1970: Double(value) / 1_000_000)
    }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}
