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
/// One bridge owns the file, so the spool keeps its count in memory: every inbound text asks
/// whether anything waits, and that costs no read of the file. The ownership is enforced: the
/// spool holds SQLite's exclusive lock from open to close, and a second bridge pointed at the
/// same file fails to start rather than replaying texts out of order.
public actor MessageSpool {
    public struct InUse: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "another bridge is using the spool at \(path); give each bridge a spool file of its own (--spool)"
        }
    }

    private let connection: SQLiteConnection
    private var pending: Int
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
        let pending = try await connection.query("SELECT COUNT(*) AS n FROM spooled_messages", []).first?.column("n")?.integer ?? 0
        return MessageSpool(connection: connection, pending: pending, logger: logger)
    }

    private init(connection: SQLiteConnection, pending: Int, logger: Logger) {
        self.connection = connection
        self.pending = pending
        self.logger = logger
    }

    /// Keeps the message for later; a Twilio retry of a spooled message is not spooled twice.
    public func append(_ request: HandleInboundMessageRequest) async throws {
        let bytes: [UInt8] = try request.serializedBytes()
        // Counted before the insert, which suspends this actor: a text that arrives meanwhile
        // must see this one waiting, and queue behind it rather than go straight to the platform.
        pending += 1
        do {
            let inserted = try await connection.query(
                "INSERT INTO spooled_messages (message_sid, request) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING sequence",
                [.text(request.messageSid), .blob(ByteBuffer(bytes: bytes))])
            if inserted.isEmpty { pending -= 1 }
        } catch {
            pending -= 1
            throw error
        }
    }

    /// The oldest spooled message, if any. One that cannot be read back (it can never be
    /// replayed, and would hold up every text behind it) is moved aside to `unreadable_messages`
    /// and the next one returned.
    public func oldest() async throws -> (sequence: Int, request: HandleInboundMessageRequest)? {
        while let row = try await connection.query("SELECT sequence, message_sid, request FROM spooled_messages ORDER BY sequence LIMIT 1", []).first {
            guard let sequence = row.column("sequence")?.integer else { return nil }
            if case .blob(var buffer)? = row.column("request"),
               let request = try? HandleInboundMessageRequest(serializedBytes: buffer.readBytes(length: buffer.readableBytes) ?? []) {
                return (sequence, request)
            }
            logger.critical("moved an unreadable spooled text aside to unreadable_messages", metadata: [
                "message_sid": "\(row.column("message_sid")?.string ?? "")", "sequence": "\(sequence)",
            ])
            _ = try await connection.query("INSERT INTO unreadable_messages SELECT * FROM spooled_messages WHERE sequence = ?", [.integer(sequence)])
            try await remove(sequence: sequence)
        }
        return nil
    }

    public func remove(sequence: Int) async throws {
        let deleted = try await connection.query("DELETE FROM spooled_messages WHERE sequence = ? RETURNING sequence", [.integer(sequence)])
        pending -= deleted.count
    }

    /// How many texts wait.
    public func count() -> Int {
        pending
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
