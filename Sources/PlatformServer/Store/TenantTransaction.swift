import Crypto
import Foundation

/// A transaction confined to one tenant. Every statement it builds carries `tenant_id`: inserts
/// get it added, reads, updates and deletes get it as a filter. Repositories of tenant-owned
/// tables go through it, so no query of theirs can reach another tenant's rows.
public struct TenantTransaction: Sendable {
    public let tenantID: String
    public let base: any SQLTransaction

    public init(tenantID: String, base: any SQLTransaction) {
        self.tenantID = tenantID
        self.base = base
    }

    public func insert(into table: String, _ columns: [(String, any SQLValueConvertible)]) async throws {
        try await base.execute(insertStatement(into: table, columns))
    }

    /// Inserts the row unless one with the same unique key is there; true when it inserted. Two
    /// transactions inserting the same key at once do not fail: on PostgreSQL the second waits
    /// for the first and then inserts nothing, and a read after it sees the first's row.
    public func insertIfAbsent(into table: String, _ columns: [(String, any SQLValueConvertible)]) async throws -> Bool {
        try await base.changes(insertStatement(into: table, columns) + " ON CONFLICT DO NOTHING") == 1
    }

    private func insertStatement(into table: String, _ columns: [(String, any SQLValueConvertible)]) -> SQLStatement {
        let names = (["tenant_id"] + columns.map(\.0)).joined(separator: ", ")
        return "INSERT INTO \(raw: table) (\(raw: names)) VALUES (\(SQLStatement.list([tenantID] + columns.map(\.1))))"
    }

    public func select(
        _ columns: String = "*",
        from table: String,
        where condition: SQLStatement? = nil,
        orderBy: String? = nil,
        limit: Int? = nil,
        forUpdate: Bool = false
    ) async throws -> [SQLRow] {
        var statement: SQLStatement = "SELECT \(raw: columns) FROM \(raw: table) WHERE tenant_id = \(tenantID)"
        if let condition { statement = statement + " AND (" + condition + ")" }
        if let orderBy { statement = statement + SQLStatement(sql: " ORDER BY \(orderBy)") }
        if let limit { statement = statement + " LIMIT \(limit)" }
        if forUpdate { statement = statement + SQLStatement(sql: base.dialect.forUpdate) }
        return try await base.query(statement)
    }

    /// Returns the number of rows changed.
    @discardableResult
    public func update(_ table: String, set assignments: [(String, any SQLValueConvertible)], where condition: SQLStatement) async throws -> Int {
        let sets = SQLStatement.joined(assignments.map { SQLStatement("\(raw: $0.0) = \($0.1.sqlValue)") }, separator: ", ")
        return try await base.changes("UPDATE \(raw: table) SET \(sets) WHERE tenant_id = \(tenantID) AND (\(condition))")
    }

    @discardableResult
    public func delete(from table: String, where condition: SQLStatement? = nil) async throws -> Int {
        var statement: SQLStatement = "DELETE FROM \(raw: table) WHERE tenant_id = \(tenantID)"
        if let condition { statement = statement + " AND (" + condition + ")" }
        return try await base.changes(statement)
    }

    /// Makes transactions of this tenant that do `work` take turns until this one ends, so two
    /// of them cannot both read a state and both act on it. On PostgreSQL an advisory lock keyed
    /// by tenant and work, the same on every replica; SQLite runs one writer at a time anyway.
    func serialize(_ work: String) async throws {
        guard base.dialect == .postgres else { return }
        let key = SHA256.hash(data: Data("\(work)/\(tenantID)".utf8)).prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        try await base.execute("SELECT pg_advisory_xact_lock(\(key))")
    }
}

extension Database {
    /// Runs `body` in a transaction scoped to one tenant.
    public func withTenant<Result: Sendable>(
        _ tenantID: String,
        _ body: @Sendable (TenantTransaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(.tenant(tenantID)) { tx in
            try await body(TenantTransaction(tenantID: tenantID, base: tx))
        }
    }
}
