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
        let exit = try await PlatformProcess.run(
            "in-process-bridge", arguments: ["--twilio-listen", "127.0.0.1:\(bridgePort)"], environment: ["TWILIO_AUTH_TOKEN": "dev-token"]) { server in

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
        }
        #expect(exit == 0, "a clean shutdown on SIGTERM")
    }

    @Test(
        "texts a line sends ask Twilio for delivery reports at SERVICEPRO_TWILIO_WEBHOOK_URL, else at --twilio-public-url",
        arguments: [nil, "https://hooks.shine.test"])
    func deliveryReportsAtThePublicURL(variable: String?) async throws {
        try await FakeMessagingProviders.with { fake, base in
            let bridgePort = TestPorts.unused()
            let publicURL = "https://bridge.shine.test"
            let exit = try await PlatformProcess.run(
                "in-process-bridge-url", arguments: ["--twilio-listen", "127.0.0.1:\(bridgePort)", "--twilio-public-url", publicURL],
                environment: [
                    "TWILIO_ACCOUNT_SID": FakeMessagingProviders.twilioAccountSID, "TWILIO_AUTH_TOKEN": FakeMessagingProviders.twilioAuthToken,
                    "SERVICEPRO_SMS_FROM": "+19185550100", "SERVICEPRO_TWILIO_API_URL": base, "SERVICEPRO_TWILIO_WEBHOOK_URL": variable ?? "",
                ]) { server in
                let line = "+19185550101"
                _ = fake.numbers.own(line, routing: [:])
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
                #expect(fake.acceptedTexts.first?.form["StatusCallback"] == (variable ?? publicURL) + "/twilio/status")
                // Twilio would call one URL and the bridge check signatures against the other.
                #expect(server.log.contains("checks signatures against --twilio-public-url") == (variable != nil), "\(server.log)")
            }
            #expect(exit == 0, "a clean shutdown on SIGTERM")
        }
    }

    @Test("a bridge URL Twilio could not call, or a fallback number not in E.164, stops the start, naming where it came from", .timeLimit(.minutes(1)))
    func uncallableBridgeURL() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-url-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let home = scratch.appendingPathComponent("home").path
        let environment = ["XDG_CONFIG_HOME": scratch.appendingPathComponent("config").path]
        let flag = try await ProcessRunner.run(
            RepositoryPaths.executable("platform-server").path,
            ["--home", home, "--listen", "127.0.0.1:\(TestPorts.unused())", "--twilio-listen", "127.0.0.1:\(TestPorts.unused())",
             "--twilio-public-url", "bridge.shine.test"],
            environment: environment.merging(["SERVICEPRO_TWILIO_WEBHOOK_URL": ""]) { $1 })
        #expect(flag.status != 0)
        #expect(flag.output.contains("--twilio-public-url must be the bridge's base URL, scheme and host"), "\(flag.output)")
        let variable = try await ProcessRunner.run(
            RepositoryPaths.executable("platform-server").path, ["--home", home, "--listen", "127.0.0.1:\(TestPorts.unused())"],
            environment: environment.merging(["SERVICEPRO_TWILIO_WEBHOOK_URL": "bridge.shine.test/twilio"]) { $1 })
        #expect(variable.status != 0)
        #expect(variable.output.contains("SERVICEPRO_TWILIO_WEBHOOK_URL must be the bridge's base URL"), "\(variable.output)")
        let bridge = try await ProcessRunner.run(
            RepositoryPaths.executable("twilio-bridge").path, ["--listen", "127.0.0.1:\(TestPorts.unused())", "--public-url", "ftp://bridge.shine.test"],
            environment: environment)
        #expect(bridge.status != 0)
        #expect(bridge.output.contains("--public-url must be the bridge's base URL"), "\(bridge.output)")
        // Twilio's console shows a webhook's whole URL; pasted as the base, every signature check would fail.
        let pasted = try await ProcessRunner.run(
            RepositoryPaths.executable("twilio-bridge").path, ["--listen", "127.0.0.1:\(TestPorts.unused())", "--public-url", "https://bridge.shine.test/sms"],
            environment: environment)
        #expect(pasted.status != 0)
        #expect(pasted.output.contains("not a webhook's: e.g. https://bridge.example.com"), "\(pasted.output)")

        // A fallback number not in E.164 could not be told apart from the number a dial just rang.
        let serverFallback = try await ProcessRunner.run(
            RepositoryPaths.executable("platform-server").path,
            ["--home", home, "--listen", "127.0.0.1:\(TestPorts.unused())", "--twilio-listen", "127.0.0.1:\(TestPorts.unused())",
             "--twilio-fallback-number", "19185559999"],
            environment: environment)
        #expect(serverFallback.status != 0)
        #expect(serverFallback.output.contains("--twilio-fallback-number must be an E.164 phone number"), "\(serverFallback.output)")
        let bridgeFallback = try await ProcessRunner.run(
            RepositoryPaths.executable("twilio-bridge").path, ["--listen", "127.0.0.1:\(TestPorts.unused())", "--fallback-number", "918-555-9999"],
            environment: environment)
        #expect(bridgeFallback.status != 0)
        #expect(bridgeFallback.output.contains("--fallback-number must be an E.164 phone number"), "\(bridgeFallback.output)")
        #expect(!FileManager.default.fileExists(atPath: home), "nothing seeded")
    }
}
