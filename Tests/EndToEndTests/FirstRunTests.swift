import Foundation
import PlatformTestSupport
import Testing

/// The README's run command, as a newcomer meets it: start platform-server on an empty home,
/// then spctl works with no flags at all; SIGTERM stops it cleanly.
@Suite("First run")
struct FirstRunTests {
    @Test("platform-server bootstraps a working spctl context and shuts down gracefully")
    func firstRun() async throws {
        let exit = try await PlatformProcess.run("first-run") { server in
            let listed = try await server.spctlOnceUp(["tenants", "list"])
            #expect(listed.status == 0, "spctl: \(listed.output)\nserver: \(server.log)")
            #expect(listed.output.contains("Clean Machine"))

            for file in ["owner.token", "bridge.token"] {
                let mode = try FileManager.default.attributesOfItem(atPath: server.home.appendingPathComponent(file).path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file)")
            }
        }
        #expect(exit == 0, "a clean shutdown on SIGTERM")
    }
}
