import Foundation

/// One result row, by column name. Getters throw a ``StoreError`` naming the column when the
/// stored value does not have the expected type, which points at a schema bug, not bad input.
public struct SQLRow: Sendable {
    public let values: [String: SQLValue]

    public init(values: [String: SQLValue]) { self.values = values }

    public func string(_ column: String) throws -> String {
        guard let value = try optionalString(column) else { throw StoreError.unexpectedNull(column) }
        return value
    }

    public func optionalString(_ column: String) throws -> String? {
        switch values[column] {
        case .text(let value)?: return value
        case .null?, nil: return nil
        case let other?: throw StoreError.typeMismatch(column: column, value: "\(other)")
        }
    }

    public func int(_ column: String) throws -> Int64 {
        guard let value = try optionalInt(column) else { throw StoreError.unexpectedNull(column) }
        return value
    }

    public func optionalInt(_ column: String) throws -> Int64? {
        switch values[column] {
        case .integer(let value)?: return value
        case .real(let value)?: return Int64(value)
        case .bool(let value)?: return value ? 1 : 0
        case .null?, nil: return nil
        case let other?: throw StoreError.typeMismatch(column: column, value: "\(other)")
        }
    }

    public func bool(_ column: String) throws -> Bool {
        switch values[column] {
        case .bool(let value)?: return value
        case .integer(let value)?: return value != 0
        case let other: throw StoreError.typeMismatch(column: column, value: "\(String(describing: other))")
        }
    }

    public func data(_ column: String) throws -> Data {
        guard let value = try optionalData(column) else { throw StoreError.unexpectedNull(column) }
        return value
    }

    public func optionalData(_ column: String) throws -> Data? {
        switch values[column] {
        case .blob(let value)?: return value
        case .null?, nil: return nil
        case let other?: throw StoreError.typeMismatch(column: column, value: "\(other)")
        }
    }

    public func date(_ column: String) throws -> Date {
        Date(microsecondsSince1970: try int(column))
    }

    public func optionalDate(_ column: String) throws -> Date? {
        try optionalInt(column).map(Date.init(microsecondsSince1970:))
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case unexpectedNull(String)
    case typeMismatch(column: String, value: String)

    public var description: String {
        switch self {
        case .unexpectedNull(let column): return "column \(column) is unexpectedly NULL"
        case .typeMismatch(let column, let value): return "column \(column) holds an unexpected value \(value)"
        }
    }
}
