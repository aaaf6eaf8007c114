import Foundation
import Logging
import NIOCore
import ServiceProAPI
import SQLiteNIO

/// Inbound texts the platform could not take yet, in arrival order, in a SQLite file that
/// survives restarts. Each is replayed until the platform accepts it; the platform is
/// idempotent on MessageSid, so a replay after a crash between sending and deleting still
/// stores the message exactly once.
///
/// Order is kept per conversation: a text waits behind the spooled texts of its own
/// conversation, and only those, so one tenant's texts piling up here hold up no one else's.
///
/// One bridge owns the file, so the spool keeps its counts in memory: every inbound text asks
/// whether its conversation has texts waiting, and that costs no read of the file. The
/// ownership is enforced: the spool holds SQLite's exclusive lock from open to close, and a
/// second bridge pointed at the same file fails to start rather than replaying texts out of order.
public actor MessageSpool {
    public struct InUse: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "another bridge is using the spool at \(path); give each bridge a spool file of its own (--spool)"
        }
    }

    private let connection: SQLiteConnection
    /// Texts waiting, per conversation.
    private var waiting: [Conversation: Int]
    private let logger: Logger
    /// SQLiteNIO's close is not idempotent (a second one crashes release builds), so it happens once.
    private var closed = false

    public static func open(path: String, logger: Logger) async throws -> MessageSpool {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            // Taken now and held until close: exclusive locking mode keeps every lock it gets. No
            // waiting for a lock someone else holds (SQLiteNIO's own busy handler retries for ever):
            // the spool is ours from the start or not at all.
            for statement in ["PRAGMA busy_timeout = 0", "PRAGMA locking_mode = EXCLUSIVE", "BEGIN EXCLUSIVE", "COMMIT"] {
                _ = try await connection.query(statement, [])
            }
        } catch {
            try? await connection.close()
            if let error = error as? SQLiteError, error.reason == .busy { throw InUse(path: path) }
            throw error
        }
        for statement in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            """
            CREATE TABLE IF NOT EXISTS spooled_messages (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                message_sid TEXT NOT NULL UNIQUE,
                request BLOB NOT NULL
            )
            """,
            // Texts that could not be read back, kept for an operator rather than deleted.
            "CREATE TABLE IF NOT EXISTS unreadable_messages (sequence INTEGER, message_sid TEXT, request BLOB)",
        ] {
            _ = try await connection.query(statement, [])
        }
        try await addConversations(connection)
        var waiting: [Conversation: Int] = [:]
        let counts = "SELECT IFNULL(from_number, '') AS from_number, IFNULL(to_number, '') AS to_number, COUNT(*) AS n FROM spooled_messages GROUP BY 1, 2"
        for row in try await connection.query(counts, []) {
            waiting[Conversation(from: row.column("from_number")?.string ?? "", to: row.column("to_number")?.string ?? "")] = row.column("n")?.integer ?? 0
        }
        return MessageSpool(connection: connection, waiting: waiting, logger: logger)
    }

    /// Spools written before texts were kept in order per conversation have no conversation
    /// columns: they get them, filled in from the texts they hold. A text that cannot be read
    /// keeps none; replaying moves it aside.
    private static func addConversations(_ connection: SQLiteConnection) async throws {
        let columns = try await connection.query("SELECT name FROM pragma_table_info('spooled_messages')", []).compactMap { $0.column("name")?.string }
        guard !columns.contains("from_number") else { return }
        for statement in ["ALTER TABLE spooled_messages ADD COLUMN from_number TEXT", "ALTER TABLE spooled_messages ADD COLUMN to_number TEXT"] {
            _ = try await connection.query(statement, [])
        }
        for row in try await connection.query("SELECT sequence, request FROM spooled_messages", []) {
            guard let sequence = row.column("sequence")?.integer, let request = Self.request(in: row) else { continue }
            _ = try await connection.query(
                "UPDATE spooled_messages SET from_number = ?, to_number = ? WHERE sequence = ?",
                [.text(request.from), .text(request.to), .integer(sequence)])
        }
    }

    private init(connection: SQLiteConnection, waiting: [Conversation: Int], logger: Logger) {
        self.connection = connection
        self.waiting = waiting
        self.logger = logger
    }

    /// Keeps the message for later; a Twilio retry of a spooled message is not spooled twice.
    public func append(_ request: HandleInboundMessageRequest) async throws {
        let bytes: [UInt8] = try request.serializedBytes()
        let conversation = Conversation(of: request)
        // Counted before the insert, which suspends this actor: a text that arrives meanwhile
        // must see this one waiting, and queue behind it rather than go straight to the platform.
        count(conversation, +1)
        do {
            let inserted = try await connection.query(
                "INSERT INTO spooled_messages (message_sid, request, from_number, to_number) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING sequence",
                [.text(request.messageSid), .blob(ByteBuffer(bytes: bytes)), .text(conversation.from), .text(conversation.to)])
            if inserted.isEmpty { count(conversation, -1) }
        } catch {
            count(conversation, -1)
            throw error
        }
    }

    /// The oldest spooled message outside the conversations `skipping`, if any. One that cannot
    /// be read back (it can never be replayed, and would hold up every text behind it) is moved
    /// aside to `unreadable_messages` and the next one returned.
    public func oldest(skipping: Set<Conversation> = []) async throws -> (sequence: Int, request: HandleInboundMessageRequest)? {
        var query = "SELECT sequence, message_sid, request FROM spooled_messages"
        var binds: [SQLiteData] = []
        if !skipping.isEmpty {
            query += " WHERE (IFNULL(from_number, ''), IFNULL(to_number, '')) NOT IN (VALUES \(Array(repeating: "(?, ?)", count: skipping.count).joined(separator: ", ")))"
            binds = skipping.flatMap { [SQLiteData.text($0.from), .text($0.to)] }
        }
        while let row = try await connection.query(query + " ORDER BY sequence LIMIT 1", binds).first {
            guard let sequence = row.column("sequence")?.integer else { return nil }
            if let request = Self.request(in: row) {
                return (sequence, request)
            }
            logger.critical("moved an unreadable spooled text aside to unreadable_messages", metadata: [
                "message_sid": "\(row.column("message_sid")?.string ?? "")", "sequence": "\(sequence)",
            ])
            _ = try await connection.query("INSERT INTO unreadable_messages SELECT sequence, message_sid, request FROM spooled_messages WHERE sequence = ?", [.integer(sequence)])
            try await remove(sequence: sequence)
        }
        return nil
    }

    public func remove(sequence: Int) async throws {
        let deleted = try await connection.query("DELETE FROM spooled_messages WHERE sequence = ? RETURNING from_number, to_number", [.integer(sequence)])
        for row in deleted {
            count(Conversation(from: row.column("from_number")?.string ?? "", to: row.column("to_number")?.string ?? ""), -1)
        }
    }

    /// How many texts wait.
    public func count() -> Int {
        waiting.values.reduce(0, +)
    }

    /// Whether texts of `request`'s conversation wait, which a new one must queue behind.
    public func holdsConversation(of request: HandleInboundMessageRequest) -> Bool {
        waiting[Conversation(of: request)] != nil
    }

    private func count(_ conversation: Conversation, _ change: Int) {
        let count = waiting[conversation, default: 0] + change
        waiting[conversation] = count > 0 ? count : nil
    }

    private static func request(in row: SQLiteRow) -> HandleInboundMessageRequest? {
        guard case .blob(var buffer)? = row.column("request") else { return nil }
        return try? HandleInboundMessageRequest(serializedBytes: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// Closes the spool's file; later calls, and the deinit, do nothing.
    public func close() async throws {
        guard !closed else { return }
        closed = true
        try await connection.close()
    }

    // The connection must be closed before it goes.
    deinit {
        if !closed { _ = connection.close() }
    }
}

extension MessageSpool {
    /// A sender and the number it wrote to: the texts whose order the platform must see kept.
    public struct Conversation: Hashable, Sendable {
        public let from: String
        public let to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }

        public init(of request: HandleInboundMessageRequest) {
            self.init(from: request.from, to: request.to)
        }
    }
}
