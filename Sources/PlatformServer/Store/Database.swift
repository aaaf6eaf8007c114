/// Which rows a transaction may see. Tenant-scoped transactions see one tenant's rows: the
/// repositories filter by it, and on PostgreSQL row-level security enforces it again.
public enum DataScope: Sendable, Hashable {
    /// Platform-wide work: authentication, tenant listings, background jobs.
    case platform
    case tenant(String)
}

public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// ` FOR SHARE` on PostgreSQL: the rows read stay as read until the transaction ends, and a
    /// writer changing them waits (and is waited for). SQLite's one writer needs none.
    var forShare: String { self == .postgres ? " FOR SHARE" : "" }

    /// ` FOR UPDATE` on PostgreSQL: the rows read are the transaction's until it ends, and a
    /// reader sharing them (``forShare``) waits for it. SQLite's one writer needs none.
    var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }

    /// What a job's claim puts after the query that picks its rows: on PostgreSQL, skip the rows
    /// another worker's claim has locked instead of waiting for them and finding them taken
    /// (`of` names the table whose rows are locked, when the query joins). SQLite has one writer
    /// at a time, so there is nothing to skip.
    ///
    /// The picking query goes in a `WITH picked AS MATERIALIZED (...)` that the claim's UPDATE
    /// reads: run as a subquery of the UPDATE, PostgreSQL may run it again for each row, and
    /// each run skips the rows the UPDATE has already taken and picks more, past its LIMIT.
    func skipLocked(of table: String? = nil) -> String {
        guard self == .postgres else { return "" }
        return " FOR UPDATE" + (table.map { " OF \($0)" } ?? "") + " SKIP LOCKED"
    }
}

/// The one store interface both backends implement. All work happens in transactions: all or
/// nothing, and scoped to a tenant or the platform.
public protocol Database: Sendable {
    var dialect: SQLDialect { get }

    func transaction<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result

    /// Read-only work that may run beside writers: on SQLite a separate read connection (WAL
    /// lets it read while a write is in progress), so a check on every call, such as
    /// authentication, never queues behind the writes. Each statement sees the latest committed
    /// state; where several reads must agree with each other, use `snapshot` or a transaction.
    func read<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result

    /// Read-only work whose statements all see one committed state, however long it runs, while
    /// writers go on: an export. On SQLite a read transaction on a connection of its own (the
    /// WAL grows until it ends); on PostgreSQL a REPEATABLE READ transaction (vacuum keeps the
    /// rows it may still see). `body` must not return while a task of its own still uses the
    /// transaction.
    func snapshot<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result

    /// One statement, atomic by itself: for the hottest writes, which need no transaction
    /// around them. SQLite runs it as it is, without BEGIN and COMMIT.
    func execute<Result: Sendable>(
        _ scope: DataScope,
        _ statement: SQLStatement,
        _ rows: @Sendable ([SQLRow]) throws -> Result
    ) async throws -> Result

    func close() async throws
}

extension Database {
    /// Backends without a cheaper path run the statement in a transaction.
    public func execute<Result: Sendable>(
        _ scope: DataScope,
        _ statement: SQLStatement,
        _ rows: @Sendable ([SQLRow]) throws -> Result
    ) async throws -> Result {
        try await transaction(scope) { try rows(try await $0.query(statement)) }
    }

    /// Backends without a separate read path read in a transaction.
    public func read<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(scope, body)
    }
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

    /// Runs an INSERT, UPDATE or DELETE and returns how many rows it changed, without reading
    /// them back: a purge of millions of rows counts them in the database, not in memory.
    public func changes(_ statement: SQLStatement) async throws -> Int {
        switch dialect {
        case .postgres:
            return Int(try await first("WITH changed AS (" + statement + " RETURNING 1) SELECT COUNT(*) AS n FROM changed")?.int("n") ?? 0)
        case .sqlite:
            // The transaction has the connection to itself, so the last change counted is this one.
            try await execute(statement)
            return Int(try await first("SELECT changes() AS n")?.int("n") ?? 0)
        }
    }
}
