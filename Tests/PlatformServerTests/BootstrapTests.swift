import Foundation
import Logging
import PlatformTestSupport
import RPCRuntime
import Testing

@testable import PlatformServer

@Suite("First start")
struct BootstrapTests {
    @Test("a first start that cannot keep its tokens seeds nothing, so the next one seeds and keeps them", arguments: TestBackend.available)
    func tokensKeptOrNothingSeeded(backend: TestBackend) async throws {
        let (databaseURL, cleanup) = try await backend.makeEmptyStore()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        // The owner token's path is taken by a directory: the token cannot be written.
        let ownerToken = home.appendingPathComponent("owner.token")
        try FileManager.default.createDirectory(at: ownerToken, withIntermediateDirectories: true)
        // Nor can spctl's config be, under a file: a convenience, which must not stop a start.
        let notADirectory = home.appendingPathComponent("not-a-directory")
        try Data().write(to: notADirectory)
        var logger = Logger(label: "test.bootstrap")
        logger.logLevel = .critical
        func start() async throws -> PlatformServer {
            try await PlatformServer.start(.init(
                home: home.path, host: "127.0.0.1", port: 0, databaseURL: databaseURL,
                spctlConfigPath: notADirectory.appendingPathComponent("config.json").path), logger: logger)
        }

        await #expect(throws: (any Error).self) { _ = try await start() }
        try FileManager.default.removeItem(at: ownerToken)
        let server = try await start()
        let token = try String(contentsOf: ownerToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let principal = try await ApiKeyAuthenticator(database: server.database, cache: server.apiKeyCache).authenticate(bearerToken: token)
        #expect(principal.role == .platformOwner)
        let keys = try await server.database.transaction(.platform) { tx in
            try await tx.first("SELECT COUNT(*) AS n FROM api_keys")!.int("n")
        }
        #expect(keys == 2, "the first start's keys were never committed")
        try await server.database.close()
        await cleanup()
    }

    @Test("a later start on another address takes the contexts its first start made along, and no others")
    func contextsFollowTheServer() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let configPath = home.appendingPathComponent("spctl/config.json").path
        var logger = Logger(label: "test.bootstrap")
        logger.logLevel = .critical
        func start(port: Int) async throws {
            let server = try await PlatformServer.start(.init(home: home.path, host: "127.0.0.1", port: port, spctlConfigPath: configPath), logger: logger)
            try await server.database.close()
        }

        try await start(port: 6000)
        var contexts = try ClientContexts.load(from: configPath)
        let ownerToken = try #require(contexts.contexts["local"]?.tokenFile)
        #expect(contexts.contexts["local"]?.server == "127.0.0.1:6000")
        // Another server's context, and one that reaches this server through a TLS proxy.
        contexts.contexts["staging"] = .init(server: "staging.example.com:443", tokenFile: "/elsewhere/owner.token", tls: true)
        contexts.contexts["proxied"] = .init(server: "proxy.example.com:443", tokenFile: ownerToken, tls: true, caFile: "/etc/proxy-ca.pem")
        contexts.currentContext = "staging"
        try contexts.save(to: configPath)

        try await start(port: 6001)
        let followed = try ClientContexts.load(from: configPath)
        #expect(followed.contexts["local"] == .init(server: "127.0.0.1:6001", tokenFile: ownerToken))
        #expect(followed.contexts["staging"] == contexts.contexts["staging"])
        #expect(followed.contexts["proxied"] == contexts.contexts["proxied"], "a way in through another host is the user's")
        #expect(followed.currentContext == "staging", "which context is current is the user's choice")
        #expect(followed.contexts.count == 3, "no new context on a later start")

        // Unchanged, the file is not written again.
        let written = try FileManager.default.attributesOfItem(atPath: configPath)[.modificationDate] as? Date
        try await Task.sleep(for: .milliseconds(20))
        try await start(port: 6001)
        #expect(try FileManager.default.attributesOfItem(atPath: configPath)[.modificationDate] as? Date == written)
    }
}
