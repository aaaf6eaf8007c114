import Foundation
import Logging
import NIOCore
import ServiceProAPI
import SQLiteNIO

/// Inbound texts the platform could not take yet, in arrival order per line, in a SQLite file
/// that survives restarts. Each is replayed until the platform accepts it; the platform is
/// idempotent on MessageSid, so a replay after a crash between sending and deleting still
/// stores the message exactly once.
///
/// Order is kept per line, the number or messaging service a text was sent to, which belongs
/// to one tenant: a text waits behind its own line's spooled texts, and only those, so one
/// tenant's texts piling up here hold up no one else's.
///
/// Status callbacks the platform could not take wait here too, in a table of their own (see
/// `SpooledStatus`): a call's final status and the voicemail it left, which Twilio never sends
/// again, and texts' delivery reports. Their order does not matter (a status only ever moves
/// forward), so they replay as they come.
///
/// One bridge owns the file, so the spool keeps its counts in memory: every inbound text asks
/// whether its line has texts waiting, and that costs no read of the file. The ownership is
/// enforced: the spool holds SQLite's exclusive lock from open to close, and a second bridge
/// pointed at the same file fails to start rather than replaying texts out of order.
public actor MessageSpool {
    public struct InUse: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "another bridge is using the spool at \(path); give each bridge a spool file of its own (--spool)"
        }
    }

    private let connection: SQLiteConnection
    /// Texts waiting, per line.
    private var waiting: [String: Int]
    private let logger: Logger
    /// SQLiteNIO's close is not idempotent (a second one crashes release builds), so it happens once.
    private var closed = false

    /// The line of a text: its messaging service, which the platform resolves first, else the
    /// number it was sent to.
    public static func line(of request: HandleInboundMessageRequest) -> String {
        request.messagingServiceSid.isEmpty ? request.to : request.messagingServiceSid
    }

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
                request BLOB NOT NULL,
                line TEXT NOT NULL DEFAULT ''
            )
            """,
            // Texts that could not be read back, kept for an operator rather than deleted.
            "CREATE TABLE IF NOT EXISTS unreadable_messages (sequence INTEGER, message_sid TEXT, request BLOB)",
            // A delivery report Twilio sent again, or a webhook replayed, is kept once (a call's
            // status carries the time the bridge took it, so its copies differ).
            """
            CREATE TABLE IF NOT EXISTS spooled_statuses (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                request BLOB NOT NULL,
                spool_time REAL NOT NULL,
                UNIQUE (kind, request)
            )
            """,
            // The forward number the platform last gave for each called number, so a bridge
            // restarted while the platform is away still puts callers through.
            "CREATE TABLE IF NOT EXISTS forward_numbers (called_number TEXT PRIMARY KEY, forward_number TEXT NOT NULL)",
        ] {
            _ = try await connection.query(statement, [])
        }
        try await addLines(connection)
        try await moveCallStatuses(connection)
        _ = try await connection.query("CREATE INDEX IF NOT EXISTS spooled_by_line ON spooled_messages (line, sequence)", [])
        var waiting: [String: Int] = [:]
        for row in try await connection.query("SELECT line, COUNT(*) AS n FROM spooled_messages GROUP BY line", []) {
            waiting[row.column("line")?.string ?? ""] = row.column("n")?.integer ?? 0
        }
        return MessageSpool(connection: connection, waiting: waiting, logger: logger)
    }

    /// Spools written before texts were kept in order per line have no `line` column: it is
    /// added and filled in from the texts they hold, in one transaction. A text that cannot be
    /// read keeps an empty line; replaying moves it aside.
    private static func addLines(_ connection: SQLiteConnection) async throws {
        let columns = try await connection.query("SELECT name FROM pragma_table_info('spooled_messages')", []).compactMap { $0.column("name")?.string }
        guard !columns.contains("line") else { return }
        try await transaction(connection) {
            _ = try await connection.query("ALTER TABLE spooled_messages ADD COLUMN line TEXT NOT NULL DEFAULT ''", [])
            for row in try await connection.query("SELECT sequence, request FROM spooled_messages", []) {
                guard let sequence = row.column("sequence")?.integer, let request = Self.request(in: row) else { continue }
                _ = try await connection.query("UPDATE spooled_messages SET line = ? WHERE sequence = ?", [.text(line(of: request)), .integer(sequence)])
            }
        }
    }

    /// Spools written before delivery reports were kept hold their call statuses in a table of
    /// their own; they move to `spooled_statuses`, in one transaction.
    private static func moveCallStatuses(_ connection: SQLiteConnection) async throws {
        let tables = try await connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'spooled_call_statuses'", [])
        guard !tables.isEmpty else { return }
        try await transaction(connection) {
            _ = try await connection.query("""
                INSERT INTO spooled_statuses (kind, request, spool_time)
                SELECT 'call', request, ? FROM spooled_call_statuses WHERE true ORDER BY sequence
                ON CONFLICT DO NOTHING
                """, [.float(Date().timeIntervalSince1970)])
            _ = try await connection.query("DROP TABLE spooled_call_statuses", [])
        }
    }

    /// Runs `body` in one transaction of `connection`'s: all of it lands, or none.
    private static func transaction(_ connection: SQLiteConnection, _ body: () async throws -> Void) async throws {
        _ = try await connection.query("BEGIN IMMEDIATE", [])
        do {
            try await body()
            _ = try await connection.query("COMMIT", [])
        } catch {
            _ = try? await connection.query("ROLLBACK", [])
            throw error
        }
    }

    private init(connection: SQLiteConnection, waiting: [String: Int], logger: Logger) {
        self.connection = connection
        self.waiting = waiting
        self.logger = logger
    }

    /// Keeps the message for later; a Twilio retry of a spooled message is not spooled twice.
    public func append(_ request: HandleInboundMessageRequest) async throws {
        let bytes: [UInt8] = try request.serializedBytes()
        let line = Self.line(of: request)
        // Counted before the insert, which suspends this actor: a text that arrives meanwhile
        // must see this one waiting, and queue behind it rather than go straight to the platform.
        adjustWaiting(line, by: +1)
        do {
            let inserted = try await connection.query(
                "INSERT INTO spooled_messages (message_sid, request, line) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING sequence",
                [.text(request.messageSid), .blob(ByteBuffer(bytes: bytes)), .text(line)])
            if inserted.isEmpty { adjustWaiting(line, by: -1) }
        } catch {
            adjustWaiting(line, by: -1)
            throw error
        }
    }

    /// The oldest spooled message of a line outside `skipping`, if any, with its line as stored.
    /// One that cannot be read back (it can never be replayed, and would hold up its line's
    /// texts behind it) is moved aside to `unreadable_messages` and the next one returned.
    ///
    /// Each waiting line's first text is found through the `(line, sequence)` index, all in one
    /// statement: however many lines wait, and however long a line passed over has grown, the
    /// next text costs one short lookup a line.
    public func oldest(skipping: Set<String> = []) async throws -> (sequence: Int, line: String, request: HandleInboundMessageRequest)? {
        while true {
            let lines = waiting.keys.filter { !skipping.contains($0) }
            guard !lines.isEmpty else { return nil }
            let linesJSON = String(decoding: try JSONEncoder().encode(lines), as: UTF8.self)
            guard let row = try await connection.query("""
                SELECT sequence, message_sid, request, line FROM spooled_messages WHERE sequence = (
                    SELECT MIN((SELECT sequence FROM spooled_messages WHERE line = waiting.value ORDER BY sequence LIMIT 1))
                    FROM json_each(?) AS waiting)
                """, [.text(linesJSON)]).first, let sequence = row.column("sequence")?.integer else { return nil }
            if let request = Self.request(in: row) {
                return (sequence, row.column("line")?.string ?? "", request)
            }
            logger.critical("moved an unreadable spooled text aside to unreadable_messages", metadata: [
                "message_sid": "\(row.column("message_sid")?.string ?? "")", "sequence": "\(sequence)",
            ])
            _ = try await connection.query("INSERT INTO unreadable_messages SELECT sequence, message_sid, request FROM spooled_messages WHERE sequence = ?", [.integer(sequence)])
            try await remove(sequence: sequence)
        }
    }

    public func remove(sequence: Int) async throws {
        for row in try await connection.query("DELETE FROM spooled_messages WHERE sequence = ? RETURNING line", [.integer(sequence)]) {
            adjustWaiting(row.column("line")?.string ?? "", by: -1)
        }
    }

    // MARK: Statuses

    /// Keeps a status callback for later; one the spool holds already, byte for byte (Twilio's
    /// retry of a delivery report, say), is not kept twice.
    public func appendStatus(_ status: SpooledStatus, now: Date = Date()) async throws {
        _ = try await connection.query(
            "INSERT INTO spooled_statuses (kind, request, spool_time) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [.text(status.kind), .blob(ByteBuffer(bytes: try status.serializedBytes())), .float(now.timeIntervalSince1970)])
    }

    /// The oldest spooled statuses after `sequence`, at most `limit`, with when each was
    /// spooled; one that cannot be read back is dropped with a log line, as it could never be
    /// replayed.
    public func oldestStatuses(after sequence: Int = 0, limit: Int = 100) async throws -> [(sequence: Int, status: SpooledStatus, spoolTime: Date)] {
        var statuses: [(sequence: Int, status: SpooledStatus, spoolTime: Date)] = []
        for row in try await connection.query(
            "SELECT sequence, kind, request, spool_time FROM spooled_statuses WHERE sequence > ? ORDER BY sequence LIMIT ?",
            [.integer(sequence), .integer(limit)]
        ) {
            guard let sequence = row.column("sequence")?.integer else { continue }
            guard case .blob(var buffer)? = row.column("request"),
                  let status = SpooledStatus(kind: row.column("kind")?.string ?? "", bytes: buffer.readBytes(length: buffer.readableBytes) ?? [])
            else {
                logger.critical("dropped an unreadable spooled status", metadata: ["sequence": "\(sequence)"])
                try await removeStatus(sequence: sequence)
                continue
            }
            statuses.append((sequence, status, Date(timeIntervalSince1970: row.column("spool_time")?.double ?? 0)))
        }
        return statuses
    }

    public func removeStatus(sequence: Int) async throws {
        _ = try await connection.query("DELETE FROM spooled_statuses WHERE sequence = ?", [.integer(sequence)])
    }

    /// How many statuses wait (for tests and operators).
    public func statusCount() async throws -> Int {
        try await connection.query("SELECT COUNT(*) AS n FROM spooled_statuses", []).first?.column("n")?.integer ?? 0
    }

    /// How many texts wait, on every line (for tests and operators; the webhooks ask per line).
    public func count() -> Int {
        waiting.values.reduce(0, +)
    }

    /// Whether texts of `request`'s line wait, which a new one must queue behind.
    public func holdsLine(of request: HandleInboundMessageRequest) -> Bool {
        waiting[Self.line(of: request)] != nil
    }

    private func adjustWaiting(_ line: String, by change: Int) {
        let waitingNow = waiting[line, default: 0] + change
        waiting[line] = waitingNow > 0 ? waitingNow : nil
    }

    private static func request(in row: SQLiteRow) -> HandleInboundMessageRequest? {
        guard case .blob(var buffer)? = row.column("request") else { return nil }
        return try? HandleInboundMessageRequest(serializedBytes: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    // MARK: Forward numbers

    /// The forward number last kept for each called number.
    public func forwardNumbers() async throws -> [String: String] {
        var numbers: [String: String] = [:]
        for row in try await connection.query("SELECT called_number, forward_number FROM forward_numbers", []) {
            guard let called = row.column("called_number")?.string, let forward = row.column("forward_number")?.string else { continue }
            numbers[called] = forward
        }
        return numbers
    }

    /// Keeps `forwardNumber` for calls to `calledNumber`; "" for a line that has none.
    public func keepForwardNumber(_ forwardNumber: String, for calledNumber: String) async throws {
        _ = try await connection.query(
            "INSERT INTO forward_numbers (called_number, forward_number) VALUES (?, ?) ON CONFLICT (called_number) DO UPDATE SET forward_number = excluded.forward_number",
            [.text(calledNumber), .text(forwardNumber)])
    }

    /// Keeps `forwardNumbers` (by called number, "" for a line that has none) in place of every
    /// number kept before: what the platform lists now. Two statements, each whole, rather than a
    /// transaction: the actor takes other calls at each `await`, and their statements would land
    /// inside it (and go with a rollback). Between the two, the file holds a superset.
    public func replaceForwardNumbers(with forwardNumbers: [String: String]) async throws {
        let numbers = String(decoding: try JSONEncoder().encode(forwardNumbers), as: UTF8.self)
        _ = try await connection.query("""
            INSERT INTO forward_numbers (called_number, forward_number) SELECT key, value FROM json_each(?) WHERE true
            ON CONFLICT (called_number) DO UPDATE SET forward_number = excluded.forward_number
            """, [.text(numbers)])
        _ = try await connection.query(
            "DELETE FROM forward_numbers WHERE called_number NOT IN (SELECT key FROM json_each(?))", [.text(numbers)])
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
