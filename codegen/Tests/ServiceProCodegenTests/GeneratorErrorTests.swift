import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

@testable import ServiceProCodegen

/// Problems in the protos the generator must refuse with a clear error.
@Suite struct GeneratorErrorTests {
    @Test(arguments: [(true, false), (true, true)])
    func clientStreamingIsRejected(clientStreaming: Bool, serverStreaming: Bool) throws {
        var method = Synthetic.method("UploadWidgets", policy: Synthetic.policy(scope: .platform))
        method.clientStreaming = clientStreaming
        method.serverStreaming = serverStreaming
        let file = Synthetic.file(methods: [method])
        for target in [GenerationTarget.api(descriptorSetName: "D"), .cli] {
            let error = #expect(throws: GeneratorError.self) {
                try ServiceProGenerator.generate(files: [file], target: target)
            }
            #expect(error?.description == "synthetic.v1.SyntheticService.UploadWidgets: client and bidirectional streaming are not supported")
        }
    }

    @Test func tenantScopedRequestWithoutResourceNameIsRejected() throws {
        // The request has an `id`, a repeated string `names` and a message without `name`:
        // none of them says which tenant the call touches.
        let file = Synthetic.file(
            methods: [Synthetic.method("GetWidget", policy: Synthetic.policy(scope: .tenant))],
            requestFields: [
                Synthetic.field("id", number: 1, type: .string),
                Synthetic.field("names", number: 2, type: .string, repeated: true),
                Synthetic.field("filter", number: 3, type: .message, typeName: ".synthetic.v1.Filter"),
            ]
        )
        for target in [GenerationTarget.api(descriptorSetName: "D"), .cli] {
            let error = #expect(throws: GeneratorError.self) {
                try ServiceProGenerator.generate(files: [file], target: target)
            }
            #expect(
                error?.description
                    == "synthetic.v1.SyntheticService.GetWidget is tenant-scoped but synthetic.v1.Request has no `name` or `parent` field, nor a resource with a `name`"
            )
        }
    }

    @Test func tenantScopedRequestWithParentIsAccepted() throws {
        let file = Synthetic.file(
            methods: [Synthetic.method("ListWidgets", policy: Synthetic.policy(scope: .tenant))],
            requestFields: [Synthetic.field("parent", number: 1, type: .string)]
        )
        let outputs = try ServiceProGenerator.generate(files: [file], target: .api(descriptorSetName: "D"))
        let service = try #require(outputs.first { $0.name == "synthetic/v1/synthetic.servicepro.swift" })
        let lines = service.content.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let accessor = try #require(lines.firstIndex(of: "public static func tenantResourceName(of request: Input) -> String? {"))
        #expect(lines[accessor + 1] == "request.parent")
    }

    @Test func duplicateCommandIsRejected() throws {
        let file = Synthetic.file(methods: [
            Synthetic.method("ListWidgets", policy: Synthetic.policy(scope: .platform)),
            Synthetic.method("ScanWidgets", policy: Synthetic.policy(scope: .platform, cliCommand: "widgets list")),
        ])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .cli)
        }
        #expect(error?.description.contains("both map to `spctl widgets list`; set cli_command on one") == true)
    }

    @Test func unknownParameterIsRejected() {
        #expect(throws: GeneratorError.self) { try GenerationTarget(parameter: "target=swift") }
        #expect(throws: GeneratorError.self) { try GenerationTarget(parameter: "") }
    }
}
