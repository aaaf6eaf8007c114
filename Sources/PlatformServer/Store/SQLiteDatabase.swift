import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization

/// The embedded store: one SQLite file in WAL mode. SQLite has one writer at a time, so
/// transactions are serialized here rather than left to fail with SQLITE_BUSY.
///
/// The writer connection has a thread of its own, which runs its statements one after another
/// in the order they were sent. So single statements (`execute`) need not wait for each other:
/// they share the lock and queue on that thread, back to back, instead of handing the lock from
/// task to task between statements. A transaction holds the lock alone, from BEGIN to COMMIT.
public final class SQLiteDatabase: Database {
    public var dialect: SQLDialect { .sqlite }

    private let path: String
    private let ownership: StoreFileLock
    private let connection: SQLiteConnection
    private let writerThread: NIOThreadPool
    private let lock = AsyncLock()
    /// Reads beside the writer; see `read`.
    private let reader: SQLiteConnection
    private let readLock = AsyncLock()
    private let logger: Logger
    /// Set by the first close. SQLiteNIO's close is not idempotent: a second one passes a null
    /// handle to SQLite, which crashes in release builds (debug builds have SQLite's API armour).
    private let closed = Mutex(false)

    /// Opens (creating if needed) the database file.
    public static func open(path: String, logger: Logger) async throws -> SQLiteDatabase {
        let ownership = try StoreFileLock(claiming: path)
        let writerThread = NIOThreadPool(numberOfThreads: 1)
        writerThread.start()
        do {
            return try await open(path: path, ownership: ownership, writerThread: writerThread, logger: logger)
        } catch {
            try? await writerThread.shutdownGracefully()
            ownership.release()
            throw error
        }
    }

    private static func open(path: String, ownership: StoreFileLock, writerThread: NIOThreadPool, logger: Logger) async throws -> SQLiteDatabase {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: writerThread, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000", "PRAGMA synchronous = NORMAL"] {
            _ = try await connection.query(pragma, [])
        }
        let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        for pragma in ["PRAGMA query_only = ON", "PRAGMA busy_timeout = 5000"] {
            _ = try await reader.query(pragma, [])
        }
        return SQLiteDatabase(path: path, ownership: ownership, connection: connection, writerThread: writerThread, reader: reader, logger: logger)
    }

    private init(path: String, ownership: StoreFileLock, connection: SQLiteConnection, writerThread: NIOThreadPool, reader: SQLiteConnection, logger: Logger) {
        self.path = path
        self.ownership = ownership
        self.connection = connection
        self.writerThread = writerThread
        self.reader = reader
        self.logger = logger
    }

    public func transaction<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        try await lock.withLock {
            _ = try await connection.query("BEGIN IMMEDIATE", [])
            do {
                let result = try await body(SQLiteTransaction(connection: connection, scope: scope))
                try await finish("COMMIT")
                return result
            } catch {
                try? await finish("ROLLBACK")
                throw error
            }
        }
    }

    /// On the writer, in SQLite's implicit transaction of one statement, queued behind the
    /// statements sent before it (but never inside a transaction).
    public func execute<Result: Sendable>(
        _ scope: DataScope,
        _ statement: SQLStatement,
        _ rows: @Sendable ([SQLRow]) throws -> Result
    ) async throws -> Result {
        try await lock.withLock(.shared) {
            try rows(try await SQLiteTransaction(connection: connection, scope: scope).query(statement))
        }
    }

    /// Statements run one by one on the read connection, each in its own implicit transaction.
    public func read<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        try await readLock.withLock {
            try await body(SQLiteTransaction(connection: reader, scope: scope))
        }
    }

    /// On a connection of its own, so the shared reader stays free for the checks on every call.
    /// The transaction's state is fixed by its first read; closing the connection ends it.
    public func snapshot<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let result: Result
        do {
            for statement in ["PRAGMA query_only = ON", "PRAGMA busy_timeout = 5000", "BEGIN"] {
                _ = try await connection.query(statement, [])
            }
            result = try await body(SQLiteTransaction(connection: connection, scope: scope))
        } catch {
            // The future-based close: the async one skips the work for a cancelled task.
            try? await connection.close().get()
            throw error
        }
        try await connection.close().get()
        return result
    }

    /// Ends the open transaction even when the calling task is cancelled: the async query API
    /// skips work for a cancelled task, which would leave the one connection inside a transaction
    /// and fail every later BEGIN.
    private func finish(_ statement: String) async throws {
        let ended: EventLoopFuture<[SQLiteRow]> = connection.query(statement, [])
        _ = try await ended.get()
    }

    /// Closes the connection; later calls, and the deinit, do nothing.
    public func close() async throws {
        guard closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        // Statements already queued on the writer run first: the handle is closed after them.
        try await lock.withLock(.exclusive) {
            // The future-based close, not the async one: that one skips the work when the calling
            // task is already cancelled, which would leave the handle open for the deinit to trip on.
            defer { ownership.release() }
            do {
                try await reader.close().get()
                try await connection.close().get()
            } catch {
                try? await writerThread.shutdownGracefully()
                throw error
            }
            try await writerThread.shutdownGracefully()
        }
    }

    // The connection must be closed before it goes, whichever way the owner ended.
    deinit {
        if !closed.withLock({ $0 }) {
            _ = reader.close()
            let writerThread = self.writerThread
            connection.close().whenComplete { _ in writerThread.shutdownGracefully { _ in } }
            ownership.release()
        }
    }
}

struct SQLiteTransaction: SQLTransaction {
    let connection: SQLiteConnection
    let scope: DataScope
    var dialect: SQLDialect { .sqlite }

    @discardableResult
    func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        let rows = try await connection.query(statement.sql, statement.binds.map(Self.encode))
        return rows.map { row in
            var values = [String: SQLValue](minimumCapacity: row.columns.count)
            for column in row.columns {
                values[column.name] = Self.decode(column.data)
            }
            return SQLRow(values: values)
        }
    }

    private static func encode(_ value: SQLValue) -> SQLiteData {
        switch value {
        case .text(let text): return .text(text)
        case .integer(let integer): return .integer(Int(integer))
        case .real(let real): return .float(real)
        case .bool(let bool): return .integer(bool ? 1 : 0)
        case .blob(let data): return .blob(ByteBuffer(bytes: data))
        case .null: return .null
        }
    }

    private static func decode(_ data: SQLiteData) -> SQLValue {
        switch data {
        case .integer(let integer): return .integer(Int64(integer))
        case .float(let real): return .real(real)
        case .text(let text): return .text(text)
        case .blob(var buffer): return .blob(Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
        case .null: return .null
        }
    }
}
