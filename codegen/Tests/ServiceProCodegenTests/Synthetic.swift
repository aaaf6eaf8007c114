import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

@testable import ServiceProCodegen

/// Small hand-built descriptors for the error and naming tests.
enum Synthetic {
    static func policy(
        scope: Servicepro_Options_V1_TenantScope,
        cliCommand: String = ""
    ) -> Servicepro_Options_V1_MethodPolicy {
        var policy = Servicepro_Options_V1_MethodPolicy()
        policy.roles = [.platformOwner]
        policy.tenantScope = scope
        policy.cliCommand = cliCommand
        return policy
    }

    static func method(_ name: String, policy: Servicepro_Options_V1_MethodPolicy? = nil) -> Google_Protobuf_MethodDescriptorProto {
        var method = Google_Protobuf_MethodDescriptorProto()
        method.name = name
        method.inputType = ".synthetic.v1.Request"
        method.outputType = ".synthetic.v1.Response"
        if let policy {
            method.options.setExtensionValue(ext: Servicepro_Options_V1_Extensions_policy, value: policy)
        }
        return method
    }

    static func field(
        _ name: String,
        number: Int32,
        type: Google_Protobuf_FieldDescriptorProto.TypeEnum,
        typeName: String? = nil,
        repeated: Bool = false
    ) -> Google_Protobuf_FieldDescriptorProto {
        var field = Google_Protobuf_FieldDescriptorProto()
        field.name = name
        field.jsonName = Naming.lowerCamel(snake: name)
        field.number = number
        field.type = type
        field.label = repeated ? .repeated : .optional
        if let typeName { field.typeName = typeName }
        return field
    }

    static func message(_ name: String, fields: [Google_Protobuf_FieldDescriptorProto]) -> Google_Protobuf_DescriptorProto {
        var message = Google_Protobuf_DescriptorProto()
        message.name = name
        message.field = fields
        return message
    }

    /// synthetic/v1/synthetic.proto: messages Request, Response and Filter (a message without
    /// `name`) and SyntheticService with the given methods. It imports nothing, so the file keeps
    /// everything it refers to alive without its DescriptorSet.
    static func file(
        methods: [Google_Protobuf_MethodDescriptorProto],
        requestFields: [Google_Protobuf_FieldDescriptorProto] = []
    ) -> FileDescriptor {
        var file = Google_Protobuf_FileDescriptorProto()
        file.name = "synthetic/v1/synthetic.proto"
        file.package = "synthetic.v1"
        file.syntax = "proto3"
        file.options.swiftPrefix = ""
        file.messageType = [
            message("Request", fields: requestFields),
            message("Response", fields: []),
            message("Filter", fields: [field("title", number: 1, type: .string)]),
        ]
        var service = Google_Protobuf_ServiceDescriptorProto()
        service.name = "SyntheticService"
        service.method = methods
        file.service = [service]
        return DescriptorSet(protos: [file]).files[0]
    }

    static func commandPath(_ rpc: String, override: String = "") throws -> CommandPath {
        let file = file(methods: [method(rpc)])
        return try CommandPath(method: file.services[0].methods[0], override: override)
    }
}
