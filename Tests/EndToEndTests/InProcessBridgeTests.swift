import Foundation
import PlatformTestSupport
import Testing

/// `platform-server --twilio-listen`: the bridge in the platform's own process, as a one-box
/// deployment runs it, tried the way the README does, with `spctl twilio simulate`.
@Suite("platform-server --twilio-listen")
struct InProcessBridgeTests {
    @Test("serves signed webhooks from the platform's process and stops cleanly on SIGTERM")
    func webhooksFromThePlatformProcess() async throws {
        let bridgePort = TestPorts.unused()
        let server = try PlatformProcess(
            "in-process-bridge", arguments: ["--twilio-listen", "127.0.0.1:\(bridgePort)"], environment: ["TWILIO_AUTH_TOKEN": "dev-token"])

        // A number no config claims: the root tenant answers, and greets a first-time sender.
        let texted = try await server.spctlOnceUp([
            "twilio", "simulate", "sms", "--bridge", "http://127.0.0.1:\(bridgePort)",
            "--to", "+19185550123", "--from", "+15005550006", "--body", "Any openings Friday?",
        ])
        #expect(texted.status == 0, "spctl: \(texted.output)\nserver: \(server.log)")
        #expect(texted.output.contains("Thanks for texting Clean Machine!"), "\(texted.output)")

        let listed = try await server.spctl(["messages", "list", "--parent", "tenants/root"])
        #expect(listed.output.contains("Any openings Friday?"), "\(listed.output)")
        #expect(server.log.contains("serving Twilio webhooks in-process"))

        #expect(try await server.terminate() == 0)
    }
}
