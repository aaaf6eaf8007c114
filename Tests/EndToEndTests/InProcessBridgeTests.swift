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

    @Test("texts a line sends ask Twilio for delivery reports at --twilio-public-url")
    func deliveryReportsAtThePublicURL() async throws {
        try await FakeMessagingProviders.with { fake, base in
            let bridgePort = TestPorts.unused()
            let publicURL = "https://bridge.shine.test"
            let server = try PlatformProcess(
                "in-process-bridge-url", arguments: ["--twilio-listen", "127.0.0.1:\(bridgePort)", "--twilio-public-url", publicURL],
                environment: [
                    "TWILIO_ACCOUNT_SID": FakeMessagingProviders.twilioAccountSID, "TWILIO_AUTH_TOKEN": FakeMessagingProviders.twilioAuthToken,
                    "SERVICEPRO_SMS_FROM": "+19185550100", "SERVICEPRO_TWILIO_API_URL": base, "SERVICEPRO_TWILIO_WEBHOOK_URL": "",
                ])
            let line = "+19185550101"
            let created = try await server.spctlOnceUp([
                "phone-configs", "create", "--parent", "tenants/root", "--phone-config-id", "menu-line",
                "--phone-config.phone-number", line, "--phone-config.ivr-mode", "ivr",
            ])
            #expect(created.status == 0, "spctl: \(created.output)\nserver: \(server.log)")

            // Pressing 2 texts the caller how to book, through the outbox and Twilio's Messages API.
            let bridge = ["--bridge", "http://127.0.0.1:\(bridgePort)", "--public-url", publicURL, "--to", line]
            let call = "CA" + String(repeating: "7", count: 32)
            for step in [["call", "--call-sid", call], ["digits", "--call-sid", call, "--digits", "2"]] {
                let answered = try await server.spctl(["twilio", "simulate"] + step + bridge)
                #expect(answered.status == 0, "spctl: \(answered.output)\nserver: \(server.log)")
            }
            try await poll("the booking text reaches Twilio", within: .seconds(15)) { !fake.acceptedTexts.isEmpty }
            #expect(fake.acceptedTexts.first?.form["StatusCallback"] == publicURL + "/twilio/status")
            #expect(try await server.terminate() == 0)
        }
    }
}
