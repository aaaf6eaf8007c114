import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The production store: PostgreSQL through postgres-nio's connection pool. Every transaction
/// sets `app.tenant_id` (or `app.platform`) with `set_config(..., true)`, which row-level
/// security policies read, so a query that forgets its tenant filter still sees one tenant.
public final class PostgresDatabase: Database {
    public var dialect: SQLDialect { .postgres }

    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger

    /// Connects to `url` (`postgres://user:password@host:port/database`, with libpq's `sslmode`
    /// and `sslrootcert`), with at most `maximumConnections` connections open.
    public init(url: String, maximumConnections: Int = 20, logger: Logger) throws {
        let url = try DatabaseURL(url)
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database,
            tls: Self.tls(url))
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = Self.startupParameters
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.runTask = Task { await client.run() }
    }

    /// As `init`, once one connection to `url` has been made and closed. The pool retries a
    /// server that cannot be reached, or refuses the login, for about a minute and then reports
    /// only that its circuit breaker tripped; this says at once what the server said, or why it
    /// could not be reached.
    public static func open(url: String, maximumConnections: Int = 20, logger: Logger) async throws -> PostgresDatabase {
        try await checkConnection(DatabaseURL(url), logger: logger)
        return try PostgresDatabase(url: url, maximumConnections: maximumConnections, logger: logger)
    }

    /// What every transaction here is written for, whatever the database or role defaults to:
    /// each statement sees what committed before it began (ChangeSync relies on it).
    static let startupParameters = [("default_transaction_isolation", "read committed")]

    /// One connection made with the pool's settings, directly, within 10 s, and closed.
    static func checkConnection(_ url: DatabaseURL, logger: Logger) async throws {
        let tls: PostgresConnection.Configuration.TLS
        do {
            tls = try Self.connectionTLS(url)
        } catch {
            throw PostgresConnectionFailure(url, reason: "cannot set up TLS with sslrootcert \(url.rootCertificatePath ?? "-"): \(error)")
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = startupParameters
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw PostgresConnectionFailure(url, reason: PostgresConnectionFailure.reason(error, tlsMode: url.tlsMode))
        }
        try? await connection.close()
    }

    /// libpq's modes in postgres-nio's terms: `require` encrypts without checking whom it
    /// talks to (unless `sslrootcert` is given: then, as in libpq, it checks like `verify-ca`);
    /// `verify-ca` checks the certificate, `verify-full` its host name too. Nil for `disable`;
    /// `required` is false where a server without TLS is spoken to in plaintext.
    static func tlsConfiguration(_ url: DatabaseURL) -> (configuration: TLSConfiguration, required: Bool)? {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let path = url.rootCertificatePath { tls.trustRoots = .file(path) }
        switch url.tlsMode {
        case .disable:
            return nil
        case .allow, .prefer:
            tls.certificateVerification = .none
            return (tls, false)
        case .require:
            tls.certificateVerification = url.rootCertificatePath == nil ? .none : .noHostnameVerification
            return (tls, true)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return (tls, true)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return (tls, true)
        }
    }

    /// ``tlsConfiguration(_:)`` for the pool.
    static func tls(_ url: DatabaseURL) -> PostgresClient.Configuration.TLS {
        guard let tls = tlsConfiguration(url) else { return .disable }
        return tls.required ? .require(tls.configuration) : .prefer(tls.configuration)
    }

    /// ``tlsConfiguration(_:)`` for a single connection, which takes a context built from it.
    static func connectionTLS(_ url: DatabaseURL) throws -> PostgresConnection.Configuration.TLS {
        guard let tls = tlsConfiguration(url) else { return .disable }
        let context = try NIOSSLContext(configuration: tls.configuration)
        return tls.required ? .require(context) : .prefer(context)
    }

    public func transaction<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(scope, characteristics: nil, body)
    }

    public func snapshot<Result: Sendable>(
        _ scope: DataScope,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(scope, characteristics: "ISOLATION LEVEL REPEATABLE READ, READ ONLY", body)
    }

    /// `characteristics` are SET TRANSACTION's, set before the transaction's first query.
    private func transaction<Result: Sendable>(
        _ scope: DataScope,
        characteristics: String?,
        _ body: @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                if let characteristics {
                    try await connection.query(PostgresQuery(unsafeSQL: "SET TRANSACTION \(characteristics)"), logger: logger)
                }
                try await connection.query(Self.setScope(scope), logger: logger)
                return try await body(PostgresTransaction(connection: connection, scope: scope, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            // The body's own error (a domain error, say) is what callers act on, once rolled back.
            if let closureError = error.closureError, error.rollbackError == nil { throw closureError }
            throw error
        }
    }

    /// One statement in a transaction of its own. BEGIN, the scope's setting, the statement and
    /// COMMIT go to the connection at once: postgres-nio runs them back to back on the
    /// connection's event loop, so the four round trips need no task switch between them. A
    /// statement that fails leaves the transaction aborted, and the COMMIT queued behind it then
    /// rolls back.
    public func execute<Result: Sendable>(
        _ scope: DataScope,
        _ statement: SQLStatement,
        _ rows: @Sendable ([SQLRow]) throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            let steps: [EventLoopFuture<PostgresQueryResult>] = [
                connection.query("BEGIN", logger: logger),
                connection.query(Self.setScope(scope), logger: logger),
                connection.query(PostgresTransaction.postgresQuery(statement), logger: logger),
                connection.query("COMMIT", logger: logger),
            ]
            var results: [PostgresQueryResult] = []
            var firstError: (any Error)?
            for step in steps {
                do { results.append(try await step.get()) } catch { firstError = firstError ?? error }
            }
            if let firstError { throw firstError }
            guard results[3].metadata.command == "COMMIT" else { throw PostgresCommitRolledBack() }
            return try rows(try results[2].rows.map(PostgresTransaction.sqlRow(from:)))
        }
    }

    /// What row-level security reads, for this transaction only.
    private static func setScope(_ scope: DataScope) -> PostgresQuery {
        switch scope {
        case .platform: "SELECT set_config('app.platform', 'on', true)"
        case .tenant(let tenantID): "SELECT set_config('app.tenant_id', \(tenantID), true)"
        }
    }

    /// Whether the role connected bypasses row-level security (a superuser, or BYPASSRLS), which
    /// takes away the second wall between tenants without a sign.
    func bypassesRowLevelSecurity() async throws -> Bool {
        try await transaction(.platform) { tx in
            try await tx.first("SELECT rolsuper OR rolbypassrls AS bypasses FROM pg_roles WHERE rolname = current_user")?.bool("bypasses") ?? false
        }
    }

    /// LISTENs on `channel` on a connection of its own and hands each notification's payload to
    /// `received`, until cancelled or the connection fails. `subscribed` runs once LISTEN is in
    /// effect: from then on, every notification committed is received.
    func listen(on channel: String, subscribed: @Sendable () -> Void, received: @Sendable (String) -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                subscribed()
                for try await notification in notifications {
                    received(notification.payload)
                }
            }
        }
    }

    public func close() async throws {
        runTask.cancel()
        await runTask.value
    }
}

struct PostgresTransaction: SQLTransaction {
    let connection: PostgresConnection
    let scope: DataScope
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    @discardableResult
    func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        try await connection.query(Self.postgresQuery(statement), logger: logger).collect().map(Self.sqlRow(from:))
    }

    /// The statement in postgres-nio's terms: `$n` placeholders and typed binds.
    static func postgresQuery(_ statement: SQLStatement) -> PostgresQuery {
        var bindings = PostgresBindings()
        for value in statement.binds {
            switch value {
            case .text(let text): bindings.append(text)
            case .integer(let integer): bindings.append(integer)
            case .real(let real): bindings.append(real)
            case .bool(let bool): bindings.append(bool)
            case .blob(let data): bindings.append(ByteBuffer(bytes: data))
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: Self.numberPlaceholders(statement.sql), binds: bindings)
    }

    static func sqlRow(from row: PostgresRow) throws -> SQLRow {
        var values: [String: SQLValue] = [:]
        for cell in row {
            values[cell.columnName] = try decode(cell)
        }
        return SQLRow(values: values)
    }

    /// `?` → `$1`, `$2`, … outside string literals. Byte by byte: `'` and `?` are ASCII, and no
    /// byte of a multi-byte UTF-8 character is.
    static func numberPlaceholders(_ sql: String) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var inLiteral = false
        for byte in sql.utf8 {
            if byte == UInt8(ascii: "'") { inLiteral.toggle() }
            if byte == UInt8(ascii: "?"), !inLiteral {
                number += 1
                result.append(UInt8(ascii: "$"))
                result.append(contentsOf: String(number).utf8)
            } else {
                result.append(byte)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func decode(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8, .numeric: return .real(try cell.decode(Double.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        case .bytea: return .blob(Data((try cell.decode(ByteBuffer.self)).readableBytesView))
        default: return .text(try cell.decode(String.self))
        }
    }
}

/// A connection to PostgreSQL that could not be made: where to, as whom, and why, never with
/// the password.
public struct PostgresConnectionFailure: Error, CustomStringConvertible {
    public let description: String

    init(_ url: DatabaseURL, reason: String) {
        let host = url.host.contains(":") ? "[\(url.host)]" : url.host
        description = """
            cannot connect to PostgreSQL at \(host):\(url.port) as user "\(url.username)" to database \
            "\(url.database ?? url.username)": \(reason)
            """
    }

    /// What went wrong in words: the server's own message (e.g. password authentication failed,
    /// database does not exist), else why it could not be reached. postgres-nio's errors describe
    /// themselves only generically, so as not to leak what the server said.
    static func reason(_ error: any Error, tlsMode: DatabaseURL.TLSMode) -> String {
        switch error {
        case let error as PSQLError:
            if let message = error.serverInfo?[.message] { return message }
            switch error.code {
            case .sslUnsupported:
                return "the server does not offer TLS, which sslmode=\(tlsMode.rawValue) requires"
            case .authMechanismRequiresPassword:
                return "the server asks for a password, and the URL gives none"
            case .unsupportedAuthMechanism:
                return "the server asks for an authentication method postgres-nio does not support"
            default:
                return error.underlying.map { reason($0, tlsMode: tlsMode) } ?? "\(error.code)"
            }
        case let error as NIOConnectionError:
            if let lookup = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve the host name: \(lookup)" }
            return error.connectionErrors.map { reason($0.error, tlsMode: tlsMode) }.joined(separator: "; ")
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case ChannelError.connectTimeout(let timeout):
            return "no answer within \(timeout.nanoseconds / 1_000_000_000) s"
        default:
            return String(describing: error)
        }
    }
}

/// The server ended a single statement's transaction with ROLLBACK though no step reported an
/// error: nothing was stored.
struct PostgresCommitRolledBack: Error, CustomStringConvertible {
    var description: String { "PostgreSQL rolled the statement's transaction back" }
}
