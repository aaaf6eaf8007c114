import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

@testable import ServiceProCodegen

/// `spctl <resource> <verb>` from the RPC name, or from cli_command.
@Suite struct CommandPathTests {
    @Test(arguments: [
        ("ListTenants", "tenants list"),
        ("CreateApiKey", "api-keys create"),
        ("RevokeApiKey", "api-keys revoke"),
        ("GetPhoneConfig", "phone-configs get"),
        ("DeleteEntry", "entries delete"),
        ("UpdateCallStatus", "call-statuses update"),
        ("GetTenantBilling", "tenant-billings get"),
        ("ListApiKeys", "api-keys list"),
    ])
    func derived(rpc: String, expected: String) throws {
        #expect(try Synthetic.commandPath(rpc).description == expected)
    }

    @Test func derivedParts() throws {
        let path = try Synthetic.commandPath("CreateApiKey")
        #expect(path.resource == "api-keys")
        #expect(path.verb == "create")
    }

    @Test func overrides() throws {
        let spin = try Synthetic.commandPath("RotateWidget", override: "widgets spin")
        #expect(spin.resource == "widgets")
        #expect(spin.verb == "spin")
        let whoami = try Synthetic.commandPath("WhoAmI", override: "whoami")
        #expect(whoami.resource == nil)
        #expect(whoami.verb == "whoami")
        #expect(whoami.description == "whoami")
        // A one-word RPC can only be named by an override.
        #expect(try Synthetic.commandPath("Ping", override: "ping").description == "ping")
    }

    @Test func invalidOverrideAndOneWordNameAreRejected() {
        let tooLong = #expect(throws: GeneratorError.self) {
            try Synthetic.commandPath("RotateWidget", override: "widgets spin fast")
        }
        #expect(tooLong?.description == "synthetic.v1.SyntheticService.RotateWidget: cli_command \"widgets spin fast\" must be one or two words")
        let oneWord = #expect(throws: GeneratorError.self) { try Synthetic.commandPath("Ping") }
        #expect(oneWord?.description == "synthetic.v1.SyntheticService.Ping: cannot derive a command from a one-word RPC name; set cli_command")
    }

    @Test func overrideFromPolicyReachesTheModel() throws {
        let file = Synthetic.file(methods: [
            Synthetic.method("RotateWidget", policy: Synthetic.policy(scope: .platform, cliCommand: "widgets spin"))
        ])
        let model = try MethodModel(file.services[0].methods[0], namer: SwiftProtobufNamer())
        #expect(model.command.description == "widgets spin")
    }
}
