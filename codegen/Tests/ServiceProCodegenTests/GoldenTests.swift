import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

@testable import ServiceProCodegen

/// The generator's output for the fixture protos (Fixtures/proto/, compiled into
/// Fixtures/fixture.binpb) must match Fixtures/golden/<target>/ byte for byte.
/// `UPDATE_GOLDEN=1 swift test --package-path codegen --filter GoldenTests` (or update-golden.sh,
/// which also rebuilds fixture.binpb) rewrites the golden files in the source tree instead.
@Suite struct GoldenTests {
    enum Target: String, CaseIterable, CustomTestStringConvertible {
        case api, cli

        var generationTarget: GenerationTarget {
            switch self {
            case .api: .api(descriptorSetName: "FixtureDescriptors")
            case .cli: .cli
            }
        }

        var testDescription: String { rawValue }
    }

    @Test(arguments: Target.allCases)
    func outputMatchesGolden(_ target: Target) throws {
        let outputs = try Fixture.withFiles { try ServiceProGenerator.generate(files: $0, target: target.generationTarget) }
        #expect(!outputs.isEmpty)
        #expect(Set(outputs.map(\.name)).count == outputs.count, "duplicate output file names")

        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try Golden.write(outputs, to: Fixture.sourceDirectory.appendingPathComponent("golden/\(target.rawValue)"))
            return
        }

        let goldenDirectory = try Fixture.bundledDirectory().appendingPathComponent("golden/\(target.rawValue)")
        let expectedNames = try Golden.files(in: goldenDirectory)
        let actualNames = outputs.map(\.name).sorted()
        #expect(
            actualNames == expectedNames,
            "generated files differ from Fixtures/golden/\(target.rawValue)/ (\(Golden.updateHint)):\n  generated: \(actualNames)\n  golden:    \(expectedNames)"
        )
        for output in outputs {
            let url = goldenDirectory.appendingPathComponent(output.name)
            guard let expected = try? Data(contentsOf: url) else {
                Issue.record("no golden file Fixtures/golden/\(target.rawValue)/\(output.name) (\(Golden.updateHint))")
                continue
            }
            if expected != Data(output.content.utf8) {
                let diff = Golden.diff(expected: String(decoding: expected, as: UTF8.self), actual: output.content)
                Issue.record(
                    "Fixtures/golden/\(target.rawValue)/\(output.name) differs from the generator's output (\(Golden.updateHint)):\n\(diff)"
                )
            }
        }
    }

    @Test func fixtureCoversTheInterestingCases() throws {
        try Fixture.withFiles(check)
    }

    private func check(_ files: [FileDescriptor]) {
        #expect(files.map(\.name) == ["fixture/v1/widget.proto", "fixture/v1/widget_service.proto"])
        let methods = files.flatMap(\.services).flatMap(\.methods)
        // The custom options parsed, so the extension map reached the decoder.
        let withPolicy = methods.filter { $0.options.hasExtensionValue(ext: Servicepro_Options_V1_Extensions_policy) }
        #expect(withPolicy.count == methods.count - 1)
        #expect(methods.filter { !$0.options.hasExtensionValue(ext: Servicepro_Options_V1_Extensions_policy) }.map(\.name) == ["PurgeWidget"])
        #expect(methods.contains { $0.serverStreaming })
        // Source info survived, or doc comments and CLI help would silently be empty.
        #expect(!methods[0].protoSourceComments().isEmpty)
    }
}
