import Foundation

/// A PostgreSQL connection URL, `postgres://user:password@host:port/database?sslmode=…`, read the
/// way libpq reads one, so a URL that works with `psql` means the same here.
public struct DatabaseURL: Sendable, Equatable {
    /// libpq's `sslmode`. Only `verify-ca` and `verify-full` check the server's certificate;
    /// `verify-full` checks its host name too.
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var tlsMode: TLSMode
    /// `sslrootcert`: a PEM file of the certificate authorities to trust instead of the system's.
    public var rootCertificatePath: String?

    public init(_ url: String) throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
              ["postgres", "postgresql"].contains(components.scheme ?? "")
        else {
            throw DatabaseURLError(url: url, problem: "expected postgres://user:password@host:port/database")
        }
        let query = components.queryItems ?? []
        func parameter(_ name: String) -> String? { query.last(where: { $0.name == name })?.value }
        // libpq's default: TLS when the server offers it.
        let mode = parameter("sslmode") ?? TLSMode.prefer.rawValue
        guard let tlsMode = TLSMode(rawValue: mode) else {
            let known = TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw DatabaseURLError(url: url, problem: "sslmode \(mode) is not one of \(known)")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user ?? "postgres"
        self.password = components.password
        self.database = String(components.path.dropFirst()).nilIfEmpty
        self.tlsMode = tlsMode
        self.rootCertificatePath = parameter("sslrootcert")
    }
}

public struct DatabaseURLError: Error, CustomStringConvertible {
    /// The URL with its password replaced, fit for logs.
    public let url: String
    public let problem: String

    init(url: String, problem: String) {
        self.url = Self.redacted(url)
        self.problem = problem
    }

    public var description: String { "invalid database URL \"\(url)\": \(problem)" }

    /// `postgres://user:***@host/db`: whatever sits between the first `:` after the scheme and the
    /// last `@` is the password, even when it holds characters that make the URL unparseable.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", options: .backwards),
              at.lowerBound > scheme.upperBound,
              let colon = url[scheme.upperBound..<at.lowerBound].firstIndex(of: ":")
        else { return url }
        return url[..<url.index(after: colon)] + "***" + url[at.lowerBound...]
    }
}
