import SwiftProtobufPluginLibrary

/// Emits, for one service: the handler protocol, an UNIMPLEMENTED handler, method descriptors
/// with their policies, the GRPCCore registration and a typed client.
struct ServiceEmitter {
    let service: ServiceDescriptor
    let methods: [MethodModel]

    init(_ service: ServiceDescriptor, namer: SwiftProtobufNamer) throws {
        self.service = service
        self.methods = try service.methods.map { try MethodModel($0, namer: namer) }
    }

    private var name: String { service.name }
    private var handlerProtocol: String { service.name + "Handler" }

    func emit(into out: inout SwiftSource) {
        emitHandlerProtocol(into: &out)
        out.line()
        out.doc(service.protoSourceComments(commentPrefix: ""))
        out.block("public enum \(name)") { out in
            out.line("public static let descriptor = GRPCCore.ServiceDescriptor(fullyQualifiedService: \(Naming.literal(service.fullName)))")
            out.line()
            emitMethods(into: &out)
            out.line()
            emitService(into: &out)
            out.line()
            emitUnimplemented(into: &out)
            out.line()
            emitClient(into: &out)
        }
    }

    private func handlerSignature(_ method: MethodModel) -> String {
        method.isServerStreaming
            ? "func \(method.swiftName)(_ request: \(method.inputType), context: RequestContext, responses: RPCWriter<\(method.outputType)>) async throws"
            : "func \(method.swiftName)(_ request: \(method.inputType), context: RequestContext) async throws -> \(method.outputType)"
    }

    private func emitHandlerProtocol(into out: inout SwiftSource) {
        out.doc("Implements \(service.fullName). The runtime has authenticated the caller, enforced the\nmethod's policy and validated the request before any of these run.")
        out.block("public protocol \(handlerProtocol): Sendable") { out in
            for (index, method) in methods.enumerated() {
                if index > 0 { out.line() }
                out.doc(method.descriptor.protoSourceComments(commentPrefix: ""))
                out.line(handlerSignature(method))
            }
        }
    }

    private func emitMethods(into out: inout SwiftSource) {
        out.block("public enum Method") { out in
            for method in methods {
                out.block("public enum \(method.name): RPCMethod") { out in
                    out.line("public typealias Input = \(method.inputType)")
                    out.line("public typealias Output = \(method.outputType)")
                    out.line("public static let descriptor = GRPCCore.MethodDescriptor(service: \(name).descriptor, method: \(Naming.literal(method.name)))")
                    out.line("public static let policy: MethodPolicy? = \(policyLiteral(method))")
                    if let resource = method.tenantResource {
                        out.line("public static let tenantResourceField: String? = \(Naming.literal(resource.fieldPath))")
                        out.block("public static func tenantResourceName(of request: Input) -> String?") { out in
                            out.line(resource.accessor)
                        }
                    } else {
                        out.line("public static let tenantResourceField: String? = nil")
                        out.line("public static func tenantResourceName(of request: Input) -> String? { nil }")
                    }
                    if let audit = method.auditResource {
                        out.block("public static func auditResourceName(of request: Input) -> String?") { out in
                            out.line(audit.accessor)
                        }
                    }
                }
            }
            out.line()
            out.doc("Every method of the service with its policy, for the server's policy table.")
            out.line("public static let all: [any RPCMethod.Type] = [\(methods.map { "\($0.name).self" }.joined(separator: ", "))]")
        }
    }

    private func policyLiteral(_ method: MethodModel) -> String {
        guard let policy = method.policy else { return "nil" }
        let roles = policy.roles.map(\.runtimeCase).filter { !$0.isEmpty }
        let feature = policy.requiredFeature.runtimeCase ?? "nil"
        return """
            MethodPolicy(roles: [\(roles.joined(separator: ", "))], scope: \(policy.tenantScope.runtimeCase), \
            requiredFeature: \(feature), audited: \(policy.audited), \
            allowedWhileSuspended: \(policy.allowedWhileSuspended), allowedWhileCancelled: \(policy.allowedWhileCancelled), \
            allowedWhileImpersonating: \(policy.allowedWhileImpersonating), idempotent: \(policy.idempotent), \
            unauthenticated: \(policy.unauthenticated), allowedAfterDeletion: \(policy.allowedAfterDeletion))
            """
    }

    private func emitService(into out: inout SwiftSource) {
        out.doc("Registers a handler with a GRPCCore server, every call going through the RPC pipeline.")
        out.block("public struct Service<Handler: \(handlerProtocol)>: PolicedRPCService") { out in
            out.line("public let handler: Handler")
            out.line("public var methods: [any RPCMethod.Type] { Method.all }")
            out.line()
            out.line("public init(handler: Handler) { self.handler = handler }")
            out.line()
            out.block("public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>)") { out in
                for method in methods {
                    let kind = method.isServerStreaming ? "serverStreaming" : "unary"
                    out.line("router.registerHandler(")
                    out.line("    forMethod: Method.\(method.name).descriptor,")
                    out.line("    deserializer: ProtobufDeserializer<\(method.inputType)>(),")
                    out.line("    serializer: ProtobufSerializer<\(method.outputType)>()")
                    out.block(") { request, serverContext in") { out in
                        if method.isServerStreaming {
                            out.block("try await RPCPipeline.serverStreaming(Method.\(method.name).self, request: request, context: serverContext) { message, context, responses in") { out in
                                out.line("try await self.handler.\(method.swiftName)(message, context: context, responses: responses)")
                            }
                        } else {
                            out.block("try await RPCPipeline.\(kind)(Method.\(method.name).self, request: request, context: serverContext) { message, context in") { out in
                                out.line("try await self.handler.\(method.swiftName)(message, context: context)")
                            }
                        }
                    }
                }
            }
        }
    }

    private func emitUnimplemented(into out: inout SwiftSource) {
        out.doc("Answers every method with UNIMPLEMENTED until the area is built.")
        out.block("public struct UnimplementedHandler: \(handlerProtocol)") { out in
            out.line("public init() {}")
            for method in methods {
                out.line()
                out.block("public \(handlerSignature(method))") { out in
                    out.line("throw ServiceError.unimplemented(\(Naming.literal(method.descriptor.fullName)))")
                }
            }
        }
    }

    private func emitClient(into out: inout SwiftSource) {
        out.doc("A typed client for \(service.fullName).")
        out.block("public struct Client<Transport: ClientTransport>: Sendable") { out in
            out.line("public let base: GRPCClient<Transport>")
            out.line()
            out.line("public init(wrapping base: GRPCClient<Transport>) { self.base = base }")
            for method in methods {
                out.line()
                out.doc(method.descriptor.protoSourceComments(commentPrefix: ""))
                if method.isServerStreaming {
                    out.line("public func \(method.swiftName)<Result: Sendable>(")
                    out.line("    _ request: \(method.inputType),")
                    out.line("    metadata: Metadata = [:],")
                    out.line("    options: CallOptions = .defaults,")
                    out.line("    onResponse: @Sendable @escaping (StreamingClientResponse<\(method.outputType)>) async throws -> Result")
                    out.block(") async throws -> Result") { out in
                        out.line("try await base.serverStreaming(")
                        out.line("    request: ClientRequest(message: request, metadata: metadata),")
                        out.line("    descriptor: Method.\(method.name).descriptor,")
                        out.line("    serializer: ProtobufSerializer<\(method.inputType)>(),")
                        out.line("    deserializer: ProtobufDeserializer<\(method.outputType)>(),")
                        out.line("    options: options,")
                        out.line("    onResponse: onResponse")
                        out.line(")")
                    }
                } else {
                    out.line("public func \(method.swiftName)(")
                    out.line("    _ request: \(method.inputType),")
                    out.line("    metadata: Metadata = [:],")
                    out.line("    options: CallOptions = .defaults")
                    out.block(") async throws -> \(method.outputType)") { out in
                        out.line("try await base.unary(")
                        out.line("    request: ClientRequest(message: request, metadata: metadata),")
                        out.line("    descriptor: Method.\(method.name).descriptor,")
                        out.line("    serializer: ProtobufSerializer<\(method.inputType)>(),")
                        out.line("    deserializer: ProtobufDeserializer<\(method.outputType)>(),")
                        out.line("    options: options")
                        out.line(") { response in try response.message }")
                    }
                }
            }
        }
    }
}
