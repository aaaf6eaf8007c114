/// SQL text with `?` placeholders and the values bound to them. Interpolated values become
/// binds, never text, so statements are injection-safe by construction:
/// ```swift
/// let rows = try await tx.query("SELECT * FROM tenants WHERE tenant_id = \(id)")
/// ```
/// `\(raw:)` splices trusted SQL (identifiers, fragments written in code).
public struct SQLStatement: Sendable, ExpressibleByStringInterpolation {
    public private(set) var sql: String
    public private(set) var binds: [SQLValue]

    public init(sql: String, binds: [SQLValue] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(sql: value)
    }

    public init(stringInterpolation: Interpolation) {
        self.init(sql: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    public struct Interpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [SQLValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) { sql += literal }

        public mutating func appendInterpolation(_ value: some SQLValueConvertible) {
            sql += "?"
            binds.append(value.sqlValue)
        }

        /// NULL for nil. Spelled out, so the compiler does not take an optional here for a
        /// description printed by mistake.
        public mutating func appendInterpolation<Value: SQLValueConvertible>(_ value: Value?) {
            sql += "?"
            binds.append(value.sqlValue)
        }

        public mutating func appendInterpolation(raw: String) { sql += raw }

        public mutating func appendInterpolation(_ fragment: SQLStatement) {
            sql += fragment.sql
            binds += fragment.binds
        }
    }

    public static func + (lhs: SQLStatement, rhs: SQLStatement) -> SQLStatement {
        SQLStatement(sql: lhs.sql + rhs.sql, binds: lhs.binds + rhs.binds)
    }

    /// `?, ?, …` with `values` bound in order: a row of VALUES.
    public static func list(_ values: [any SQLValueConvertible]) -> SQLStatement {
        SQLStatement(sql: Array(repeating: "?", count: values.count).joined(separator: ", "), binds: values.map(\.sqlValue))
    }

    /// `fragments` joined by `separator`, e.g. conditions joined by " AND ". Built in place: a
    /// batch insert joins hundreds of fragments.
    public static func joined(_ fragments: [SQLStatement], separator: String) -> SQLStatement {
        var joined = SQLStatement(sql: "")
        for (index, fragment) in fragments.enumerated() {
            if index > 0 { joined.sql += separator }
            joined.sql += fragment.sql
            joined.binds += fragment.binds
        }
        return joined
    }
}
