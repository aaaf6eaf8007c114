import ServiceProCodegen
import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// protoc / buf plugin entry point; see ServiceProGenerator for what it emits.
struct ServiceProPlugin: CodeGenerator {
    var supportedFeatures: [Google_Protobuf_Compiler_CodeGeneratorResponse.Feature] { [.proto3Optional] }
    var customOptionExtensions: [any AnyMessageExtension] { ServiceProGenerator.customOptionExtensions }
    var version: String? { "1.0.0" }

    func generate(
        files: [FileDescriptor],
        parameter: any CodeGeneratorParameter,
        protoCompilerContext: any ProtoCompilerContext,
        generatorOutputs: any GeneratorOutputs
    ) throws {
        let target = try GenerationTarget(parameter: parameter.parameter)
        for output in try ServiceProGenerator.generate(files: files, target: target) {
            try generatorOutputs.add(fileName: output.name, contents: output.content)
        }
    }
}

ServiceProPlugin.main()
