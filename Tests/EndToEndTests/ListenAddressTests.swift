import Foundation
import Logging
import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

/// `--listen` takes an IPv6 address in brackets, as `HostPort` promises, and an address nothing
/// can listen on stops platform-server before it touches its home or the spctl contexts.
@Suite("Listen addresses")
struct ListenAddressTests {
    @Test("two servers clash on one port of one address, or of every address; port 0 picks a free one")
    func overlaps() throws {
        func address(_ text: String) throws -> ListenAddress { try ListenAddress(text, option: "--listen") }
        #expect(try address("127.0.0.1:8080").overlaps(address("localhost:8080")))
        #expect(try address("0.0.0.0:8080").overlaps(address("127.0.0.1:8080")))
        #expect(try address("127.0.0.1:8080").overlaps(address("[::]:8080")))
        #expect(try !address("127.0.0.1:8080").overlaps(address("10.0.0.1:8080")))
        #expect(try !address("127.0.0.1:8080").overlaps(address("127.0.0.1:8081")))
        #expect(try !address("127.0.0.1:0").overlaps(address("127.0.0.1:0")))
    }

    @Test("the platform serves on [::1] and a client reaches it there")
    func ipv6Loopback() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("ipv6-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let address = try #require(HostPort("[::1]:0"))
        var logger = Logger(label: "test.ipv6")
        logger.logLevel = .critical
        let server = try await PlatformServer.start(
            .init(home: home.path, host: address.host, port: address.port, spctlConfigPath: nil), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { server.rpcServer.beginGracefulShutdown() }
            let port = try await server.rpcServer.listeningPort
            let token = try String(contentsOfFile: home.appendingPathComponent("owner.token").path, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let me = try await ClientConnection.with(server: "[::1]:\(port)") { client in
                try await ImpersonationService.Client(wrapping: client).whoAmI(.init(), metadata: ClientConnection.bearer(token))
            }
            #expect(me.role == .platformOwner)
        }
    }

    // A platform-server that no longer refuses would serve on, and the run would wait for it.
    @Test("a port already taken stops the start at once, with advice, before the store or the spctl contexts are touched", .timeLimit(.minutes(3)))
    func takenPort() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("taken-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = (store: scratch.appendingPathComponent("home").path, config: scratch.appendingPathComponent("config").path)
        try await TestPlatform.with(.sqlite) { platform in
            let taken = try #require(HostPort(platform.address))
            let started = try await ProcessRunner.run(
                RepositoryPaths.executable("platform-server").path, ["--home", home.store, "--listen", "127.0.0.1:\(taken.port)"],
                environment: ["XDG_CONFIG_HOME": home.config])
            #expect(started.status == 1, "\(started.output)")
            #expect(started.output.contains("127.0.0.1:\(taken.port) is already in use"), "\(started.output)")
            #expect(!FileManager.default.fileExists(atPath: home.store), "nothing seeded")
            #expect(!FileManager.default.fileExists(atPath: home.config), "no spctl context written")

            // The in-process bridge's port is checked as early.
            let bridgeTaken = try await ProcessRunner.run(
                RepositoryPaths.executable("platform-server").path,
                ["--home", home.store, "--listen", "127.0.0.1:\(TestPorts.unused())", "--twilio-listen", "127.0.0.1:\(taken.port)"],
                environment: ["XDG_CONFIG_HOME": home.config])
            #expect(bridgeTaken.status == 1, "\(bridgeTaken.output)")
            #expect(bridgeTaken.output.contains("127.0.0.1:\(taken.port) is already in use"), "\(bridgeTaken.output)")
            #expect(bridgeTaken.output.contains("pass --twilio-listen with another port"), "\(bridgeTaken.output)")
            #expect(!FileManager.default.fileExists(atPath: home.store), "nothing seeded")
            #expect(!FileManager.default.fileExists(atPath: home.config), "no spctl context written")

            let named = try await ProcessRunner.run(
                RepositoryPaths.executable("platform-server").path, ["--home", home.store, "--listen", "example.com:50051"],
                environment: ["XDG_CONFIG_HOME": home.config])
            #expect(named.status != 0)
            #expect(named.output.contains("--listen needs an IP address"), "\(named.output)")
        }
    }
}
