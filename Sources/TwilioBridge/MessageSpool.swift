import Foundation
import Logging
import NIOCore
import ServiceProAPI
import SQLiteNIO

/// Inbound texts the platform could not take yet, in arrival order, in a SQLite file that
/// survives restarts. Each is replayed until the platform accepts it; the platform is
/// idempotent on MessageSid, so a replay after a crash between sending and deleting still
/// stores the message exactly once.
public actor MessageSpool {
    private let connection: SQLiteConnection
    /// SQLiteNIO's close is not idempotent (a second one crashes release builds), so it happens once.
    private var closed = false

    public static func open(path: String, logger: Logger) async throws -> MessageSpool {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
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
        ] {
            _ = try await connection.query(statement, [])
        }
        return MessageSpool(connection: connection)
    }

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Keeps the message for later; a Twilio retry of a spooled message is not spooled twice.
    public func append(_ request: HandleInboundMessageRequest) async throws {
        let bytes: [UInt8] = try request.serializedBytes()
        _ = try await connection.query(
            "INSERT OR IGNORE INTO spooled_messages (message_sid, request) VALUES (?, ?)",
            [.text(request.messageSid), .blob(ByteBuffer(bytes: bytes))])
    }

    /// The oldest spooled message, if any.
    public func oldest() async throws -> (sequence: Int, request: HandleInboundMessageRequest)? {
        guard let row = try await connection.query("SELECT sequence, request FROM spooled_messages ORDER BY sequence LIMIT 1", []).first,
              let sequence = row.column("sequence")?.integer,
              case .blob(var buffer)? = row.column("request")
        else { return nil }
        let request = try HandleInboundMessageRequest(serializedBytes: buffer.readBytes(length: buffer.readableBytes) ?? [])
        return (sequence, request)
    }

    public func remove(sequence: Int) async throws {
        _ = try await connection.query("DELETE FROM spooled_messages WHERE sequence = ?", [.integer(sequence)])
    }

    public func count() async throws -> Int {
        try await connection.query("SELECT COUNT(*) AS n FROM spooled_messages", []).first?.column("n")?.integer ?? 0
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
