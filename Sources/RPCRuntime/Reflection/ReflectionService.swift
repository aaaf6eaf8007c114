import Foundation
import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// gRPC server reflection, `grpc.reflection.v1` and `v1alpha` (the two are wire-identical), so
/// grpcurl, Postman and `buf curl` can discover and call the API without the .proto files.
public struct ReflectionService: RegistrableRPCService {
    public static let serviceNames = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]
    public static let methods = serviceNames.map {
        MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: $0), method: "ServerReflectionInfo")
    }

    private typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    private typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    private let index: DescriptorIndex
    private let services: [String]

    /// - Parameters:
    ///   - fileDescriptorProtos: serialized descriptors of every served file and its imports.
    ///   - services: the fully qualified names of the services the server registers.
    public init(fileDescriptorProtos: [Data], services: [String]) throws {
        self.index = try DescriptorIndex(fileDescriptorProtos + GRPCStandardDescriptors.fileDescriptorProtos)
        self.services = services.sorted()
    }

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        for method in Self.methods {
            router.registerHandler(
                forMethod: method,
                deserializer: ProtobufDeserializer<Request>(),
                serializer: ProtobufSerializer<Response>()
            ) { request, _ in
                StreamingServerResponse { writer in
                    for try await message in request.messages {
                        try await writer.write(respond(to: message))
                    }
                    return [:]
                }
            }
        }
    }

    private func respond(to request: Request) -> Response {
        var response = Response()
        response.validHost = request.host
        response.originalRequest = request
        switch request.messageRequest {
        case .fileByFilename(let name):
            response.messageResponse = files(index.fileWithDependencies(named: name), missing: "file \(name)")
        case .fileContainingSymbol(let symbol):
            response.messageResponse = files(index.file(containingSymbol: symbol).map(index.fileWithDependencies(named:)) ?? [], missing: "symbol \(symbol)")
        case .fileContainingExtension(let request):
            let file = index.file(extending: request.containingType, number: request.extensionNumber)
            response.messageResponse = files(file.map(index.fileWithDependencies(named:)) ?? [], missing: "extension \(request.extensionNumber) of \(request.containingType)")
        case .allExtensionNumbersOfType(let type):
            response.messageResponse = .allExtensionNumbersResponse(.with {
                $0.baseTypeName = type
                $0.extensionNumber = index.extensionNumbers(of: type)
            })
        case .listServices:
            response.messageResponse = .listServicesResponse(.with {
                $0.service = services.map { name in .with { $0.name = name } }
            })
        case nil:
            response.messageResponse = .errorResponse(.with {
                $0.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
                $0.errorMessage = "the request names no reflection query"
            })
        }
        return response
    }

    private func files(_ protos: [Data], missing: String) -> Response.OneOf_MessageResponse {
        guard !protos.isEmpty else {
            return .errorResponse(.with {
                $0.errorCode = Int32(RPCError.Code.notFound.rawValue)
                $0.errorMessage = "\(missing) not found"
            })
        }
        return .fileDescriptorResponse(.with { $0.fileDescriptorProto = protos })
    }
}

/// Files, symbols and extensions of a descriptor set, indexed for reflection queries.
struct DescriptorIndex: Sendable {
    private var files: [String: (data: Data, dependencies: [String])] = [:]
    private var symbols: [String: String] = [:]
    private var extensions: [String: [(number: Int32, file: String)]] = [:]

    init(_ serialized: [Data]) throws {
        for data in serialized {
            let file = try Google_Protobuf_FileDescriptorProto(serializedBytes: data)
            guard files[file.name] == nil else { continue }
            files[file.name] = (data, file.dependency)
            let prefix = file.package.isEmpty ? "" : file.package + "."
            for message in file.messageType { index(message, prefix: prefix, file: file.name) }
            for enumType in file.enumType { symbols[prefix + enumType.name] = file.name }
            for service in file.service {
                symbols[prefix + service.name] = file.name
                for method in service.method { symbols[prefix + service.name + "." + method.name] = file.name }
            }
            for field in file.extension { addExtension(field, prefix: prefix, file: file.name) }
        }
    }

    private mutating func index(_ message: Google_Protobuf_DescriptorProto, prefix: String, file: String) {
        let name = prefix + message.name
        symbols[name] = file
        for nested in message.nestedType { index(nested, prefix: name + ".", file: file) }
        for enumType in message.enumType { symbols[name + "." + enumType.name] = file }
        for field in message.extension { addExtension(field, prefix: name + ".", file: file) }
    }

    private mutating func addExtension(_ field: Google_Protobuf_FieldDescriptorProto, prefix: String, file: String) {
        symbols[prefix + field.name] = file
        let extended = field.extendee.hasPrefix(".") ? String(field.extendee.dropFirst()) : field.extendee
        extensions[extended, default: []].append((field.number, file))
    }

    func file(containingSymbol symbol: String) -> String? {
        symbols[symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol]
    }

    func file(extending type: String, number: Int32) -> String? {
        extensions[type]?.first { $0.number == number }?.file
    }

    func extensionNumbers(of type: String) -> [Int32] {
        (extensions[type] ?? []).map(\.number).sorted()
    }

    /// The file first, then everything it imports, each once.
    func fileWithDependencies(named name: String) -> [Data] {
        var result: [Data] = []
        var seen: Set<String> = []
        var pending = [name]
        while let next = pending.first {
            pending.removeFirst()
            guard seen.insert(next).inserted, let file = files[next] else { continue }
            result.append(file.data)
            pending += file.dependencies
        }
        return result
    }
}
