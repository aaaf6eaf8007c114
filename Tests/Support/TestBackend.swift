import Foundation
import Logging
import PlatformServer
import PostgresNIO

/// The stores a test runs against: SQLite always, PostgreSQL when
/// `SERVICEPRO_TEST_DATABASE_URL` is set (scripts/test.sh and CI set it).
public enum TestBackend: String, Sendable, CustomStringConvertible, CaseIterable {
    case sqlite, postgres

    public static let postgresURL = ProcessInfo.processInfo.environment["SERVICEPRO_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Every backend available in this run.
    public static var available: [TestBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    public var description: String { rawValue }

    /// A fresh, empty store: a SQLite file in a new directory, or a new PostgreSQL database.
    /// Returns the database URL (nil for SQLite) and a cleanup to call when done.
    public func makeEmptyStore() async throws -> (databaseURL: String?, cleanup: @Sendable () async -> Void) {
        switch self {
        case .sqlite:
            return (nil, {})
        case .postgres:
            guard let base = Self.postgresURL, var components = URLComponents(string: base) else {
                throw TestSetupError("SERVICEPRO_TEST_DATABASE_URL is not set")
            }
            let name = "sp_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
            try await Self.admin(base) { try await $0.query("CREATE DATABASE \(unescaped: name)") }
            components.path = "/" + name
            let url = components.string!
            return (url, { await Self.drop(name, base) })
        }
    }

    /// Drops a test's database. FORCE ends the test user's own sessions in it, not another
    /// role's: a test that connected as a superuser and closed leaves a backend that takes a
    /// moment to exit, so the drop is tried again for up to a second before it gives up.
    private static func drop(_ name: String, _ base: String) async {
        var attempt = 0
        while true {
            do {
                try await admin(base) { try await $0.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)") }
                return
            } catch {
                attempt += 1
                guard attempt < 10 else {
                    // Said, not thrown: the test's own outcome stands, but a database left behind is worth knowing about.
                    FileHandle.standardError.write(Data("warning: test database \(name) was not dropped: \(String(reflecting: error))\n".utf8))
                    return
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Runs statements outside a transaction (CREATE/DROP DATABASE cannot run in one).
    private static func admin(_ url: String, _ body: (PostgresClient) async throws -> Void) async throws {
        let components = URLComponents(string: url)!
        let client = PostgresClient(configuration: .init(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres", password: components.password,
            database: String(components.path.dropFirst()), tls: .disable))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
