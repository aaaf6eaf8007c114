import Foundation
import PlatformTestSupport
import Testing

/// `--database-url` naming a PostgreSQL that cannot be reached, or that refuses the login, stops
/// platform-server within seconds, saying where it tried to connect and why, without the password.
@Suite("Database connection")
struct DatabaseConnectionTests {
    // A platform-server that no longer refuses would retry or serve on, and the run would wait for it.
    @Test("a database that cannot be reached or refuses the connection stops the start at once with the reason, never the password", .timeLimit(.minutes(3)))
    func unreachableDatabase() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("database-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = (store: scratch.appendingPathComponent("home").path, config: scratch.appendingPathComponent("config").path)
        let password = "never-shown-\(UUID().uuidString.prefix(8))"
        let closedPort = TestPorts.unused()
        var cases = [("postgres://app:\(password)@127.0.0.1:\(closedPort)/servicepro?sslmode=disable", [
            "cannot connect to PostgreSQL at 127.0.0.1:\(closedPort) as user \"app\" to database \"servicepro\"",
            "Connection refused",
        ])]
        if let base = TestBackend.postgresURL, var components = URLComponents(string: base) {
            // The test cluster trusts loopback logins, so the password is not what it refuses.
            components.password = password
            components.path = "/sp_no_such_database"
            cases.append((components.string!, [
                "cannot connect to PostgreSQL at \(components.host!):\(components.port!)",
                "database \"sp_no_such_database\" does not exist",
            ]))
        }
        for (url, said) in cases {
            let clock = ContinuousClock()
            let began = clock.now
            let started = try await ProcessRunner.run(
                RepositoryPaths.executable("platform-server").path,
                ["--home", home.store, "--listen", "127.0.0.1:\(TestPorts.unused())", "--database-url", url],
                environment: ["XDG_CONFIG_HOME": home.config])
            #expect(started.status == 1, "\(started.output)")
            for words in said {
                #expect(started.output.contains(words), "\(started.output)")
            }
            #expect(!started.output.contains(password), "\(started.output)")
            #expect(clock.now - began < .seconds(30), "not the pool's minute of retries")
            #expect(!FileManager.default.fileExists(atPath: home.store), "nothing seeded")
        }
    }
}
