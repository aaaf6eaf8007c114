import GRPCCore

/// Every callable method and its policy. Built once at start; a method of a registered service
/// without a policy makes the build fail, and a method not in the table is denied.
public struct PolicyTable: Sendable {
    public enum Entry: Sendable, Hashable {
        /// Infrastructure open to any caller: health checks and reflection.
        case open
        case policed(MethodPolicy)
    }

    public enum BuildError: Error, CustomStringConvertible {
        case missingPolicy(method: String)
        case duplicateMethod(method: String)

        public var description: String {
            switch self {
            case .missingPolicy(let method):
                return "\(method) declares no (servicepro.options.v1.policy); add one to its proto before it can be served"
            case .duplicateMethod(let method):
                return "\(method) is registered twice"
            }
        }
    }

    private var entries: [MethodDescriptor: Entry] = [:]
    /// What each policed method's request names: its tenant-scoped resource, or its policy's
    /// `audit_resource`.
    private var resourceReaders: [MethodDescriptor: @Sendable (Any) -> String?] = [:]

    public init(services: [any PolicedRPCService], openMethods: [MethodDescriptor] = []) throws {
        for service in services {
            for method in service.methods {
                guard let policy = method.policy else {
                    throw BuildError.missingPolicy(method: method.descriptor.fullyQualifiedMethod)
                }
                guard entries.updateValue(.policed(policy), forKey: method.descriptor) == nil else {
                    throw BuildError.duplicateMethod(method: method.descriptor.fullyQualifiedMethod)
                }
                resourceReaders[method.descriptor] = Self.resourceReader(of: method)
            }
        }
        for method in openMethods {
            guard entries.updateValue(.open, forKey: method) == nil else {
                throw BuildError.duplicateMethod(method: method.fullyQualifiedMethod)
            }
        }
    }

    public subscript(method: MethodDescriptor) -> Entry? { entries[method] }

    /// The resource `request` (a message of `method`'s input type) names; nil when it names none.
    public func resourceName(of request: Any, for method: MethodDescriptor) -> String? {
        resourceReaders[method]?(request)
    }

    private static func resourceReader<Method: RPCMethod>(of method: Method.Type) -> @Sendable (Any) -> String? {
        { request in (request as? Method.Input).flatMap(Method.resourceName(of:)) }
    }

    public var policedMethods: [(MethodDescriptor, MethodPolicy)] {
        entries.compactMap { method, entry in
            if case .policed(let policy) = entry { return (method, policy) }
            return nil
        }
    }
}
