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

    @Test("a store whose secrets a key sealed refuses to start with another key or none, writing nothing, and starts again with its own",
          .enabled(if: ProcessInfo.processInfo.environment[SecretSealer.environmentVariable] == nil, "the variable would stand in for every key file here"),
          arguments: TestBackend.available)
    func secretsKeyKept(backend: TestBackend) async throws {
        let (databaseURL, cleanup) = try await backend.makeEmptyStore()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var logger = Logger(label: "test.bootstrap")
        logger.logLevel = .critical
        func start(keyFile: String? = nil) async throws -> PlatformServer {
            try await PlatformServer.start(.init(
                home: home.path, host: "127.0.0.1", port: 0, databaseURL: databaseURL, spctlConfigPath: nil,
                secretsKeyPath: keyFile), logger: logger)
        }
        func count(_ table: String, _ server: PlatformServer) async throws -> Int64 {
            try await server.database.transaction(.platform) { tx in try await tx.first("SELECT COUNT(*) AS n FROM \(raw: table)")!.int("n") }
        }

        // The first start of an empty store makes the key and seals a SIP password with it.
        let first = try await start()
        let keyA = home.appendingPathComponent("secrets.key").path
        #expect(FileManager.default.fileExists(atPath: keyA))
        let sealer = try #require(try SecretSealer.configured(keyFile: keyA, environment: [:]))
        let sealed = try sealer.seal("s3cret", boundTo: "tenants/root/phoneConfigs/main")
        try await first.database.transaction(.platform) { tx in
            try await tx.execute("UPDATE phone_configs SET sip_password_sealed = \(sealed)")
        }
        try await first.database.close()

        // A mistyped key file (no key at all), and another key: each refused, saying what to set.
        let mistyped = home.appendingPathComponent("secret.key").path
        let missing = await #expect(throws: SecretSealerError.self) { _ = try await start(keyFile: mistyped) }
        #expect(missing?.description.contains(SecretSealer.environmentVariable) == true, "\(String(describing: missing))")
        #expect(missing?.description.contains("--secrets-key-file") == true)
        #expect(missing?.description.contains(mistyped) == true)
        #expect(!FileManager.default.fileExists(atPath: mistyped), "no new key was made for a store that has one")
        let keyB = home.appendingPathComponent("other.key")
        try Data((Data((0..<32).map { UInt8($0) }).base64EncodedString() + "\n").utf8).write(to: keyB)
        let other = await #expect(throws: SecretSealerError.self) { _ = try await start(keyFile: keyB.path) }
        #expect(other?.description.contains("the secrets key file \(keyB.path) is not the key this store's secrets") == true, "\(String(describing: other))")

        // A store seeded before keys were recorded is held to a key too: none is refused, as is
        // one that does not open its SIP password, and the one given is recorded.
        let again = try await start(keyFile: keyA)
        #expect(try await count("api_keys", again) == 2, "the refused starts seeded nothing")
        #expect(try await count("tenants", again) == 1)
        let password = try await again.database.transaction(.platform) { tx in
            try await tx.first("SELECT sip_password_sealed FROM phone_configs")!.data("sip_password_sealed")
        }
        #expect(try sealer.open(password, boundTo: "tenants/root/phoneConfigs/main") == "s3cret")
        try await again.database.transaction(.platform) { tx in try await tx.execute("DELETE FROM secrets_key_check") }
        try await again.database.close()
        await #expect(throws: SecretSealerError.self) { _ = try await start(keyFile: mistyped) }
        await #expect(throws: SecretSealerError.self) { _ = try await start(keyFile: keyB.path) }
        try await start(keyFile: keyA).database.close()
        await #expect(throws: SecretSealerError.self) { _ = try await start(keyFile: keyB.path) }
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
