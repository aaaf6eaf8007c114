/// Which rows a transaction may see. Tenant-scoped transactions see one tenant's rows: the
/// repositories filter by it, and on PostgreSQL row-level security enforces it again.
public enum DataScope: Sendable, Hashable {
    /// Platform-wide work: authentication, tenant listings, background jobs.
    case platform
    case tenant(String)
}

public enum SQLDialect: Sendable {
    case sqlite, postgres
}

/// The one store interface both backends implement. All work happens in transactions: all or
/// nothing, and scoped to a tenant or the platform.
public protocol Database: Sendable {
    var dialect: SQLDialect { get }

    func transaction<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result

    func close() async throws
}

/// Statements inside one transaction.
public protocol SQLTransaction: Sendable {
    var dialect: SQLDialect { get }
    var scope: DataScope { get }

    @discardableResult
    func query(_ statement: SQLStatement) async throws -> [SQLRow]
}

extension SQLTransaction {
    public func execute(_ statement: SQLStatement) async throws {
        try await query(statement)
    }

    public func first(_ statement: SQLStatement) async throws -> SQLRow? {
        try await query(statement).first
    }
}
