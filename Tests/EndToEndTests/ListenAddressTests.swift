import Foundation
import Logging
import PlatformServer
import RPCRuntime
import ServiceProAPI
import Testing

/// `--listen` takes an IPv6 address in brackets, as `HostPort` promises.
@Suite("Listen addresses")
struct ListenAddressTests {
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
}
