import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// One RPC with everything the emitters need: Swift names, policy and CLI path.
struct MethodModel {
    let descriptor: MethodDescriptor
    let policy: Servicepro_Options_V1_MethodPolicy?
    let inputType: String
    let outputType: String
    let command: CommandPath
    /// The tenant-scoped request's resource name: the Swift expression that reads it, and the
    /// field's path as violations name it (`parent`, `tenant.name`).
    let tenantResource: (accessor: String, fieldPath: String)?
    /// What an audited method that is not tenant-scoped names in its audit events: the policy's
    /// `audit_resource`.
    let auditResource: AuditResourceTemplate?

    var name: String { descriptor.name }
    var swiftName: String { Naming.lowerFirst(descriptor.name) }
    var isServerStreaming: Bool { descriptor.serverStreaming }

    init(_ method: MethodDescriptor, namer: SwiftProtobufNamer) throws {
        guard !method.clientStreaming else {
            throw GeneratorError("\(method.fullName): client and bidirectional streaming are not supported")
        }
        self.descriptor = method
        self.policy =
            method.options.hasExtensionValue(ext: Servicepro_Options_V1_Extensions_policy)
            ? method.options.getExtensionValue(ext: Servicepro_Options_V1_Extensions_policy) : nil
        // Deny by default: a policy that does not say whose data the method touches would
        // otherwise be read as platform-wide, and the caller's tenant never checked.
        switch policy?.tenantScope {
        case .unspecified?, .UNRECOGNIZED?:
            throw GeneratorError("\(method.fullName): its policy must set tenant_scope (TENANT_SCOPE_TENANT, TENANT_SCOPE_PLATFORM or TENANT_SCOPE_SELF)")
        default:
            break
        }
        if let policy {
            try Self.checkCallers(of: method, policy)
        }
        // A session acts as the tenant's admin, and methods about the caller answer to its real
        // actor, an owner: allowing a method while impersonating that neither role may call
        // would promise what the role check then refuses.
        if let policy, policy.allowedWhileImpersonating {
            let sessionRole: Servicepro_Options_V1_Role = policy.tenantScope == .self_ ? .platformOwner : .tenantAdmin
            guard policy.roles.contains(sessionRole) else {
                throw GeneratorError("\(method.fullName): allowed_while_impersonating needs \(sessionRole == .platformOwner ? "ROLE_PLATFORM_OWNER" : "ROLE_TENANT_ADMIN") among its roles, the role an impersonation session is checked as")
            }
        }
        // Only a tenant-scoped method names a tenant that may be gone, and only platform roles
        // can call for one: a deleted tenant's own keys went with it.
        if let policy, policy.allowedAfterDeletion {
            guard policy.tenantScope == .tenant, policy.roles.contains(where: { [.platformOwner, .platformStaff].contains($0) }) else {
                throw GeneratorError("\(method.fullName): allowed_after_deletion needs TENANT_SCOPE_TENANT and a platform role among its roles")
            }
        }
        self.inputType = namer.fullName(message: method.inputType)
        self.outputType = namer.fullName(message: method.outputType)
        self.command = try CommandPath(method: method, override: policy?.cliCommand ?? "")
        self.tenantResource = try Self.tenantResource(method, policy: policy, namer: namer)
        if let template = policy?.auditResource, !template.isEmpty {
            guard policy?.audited == true, policy?.tenantScope != .tenant else {
                throw GeneratorError("\(method.fullName): audit_resource is for audited methods that are not tenant-scoped; a tenant-scoped method's events name its resource already")
            }
            self.auditResource = try AuditResourceTemplate(template, of: method, namer: namer)
        } else {
            self.auditResource = nil
        }
    }

    /// Who may call, and what is checked of the tenant a call names, must be things the runtime
    /// can check: a policy that says otherwise would be silently half-kept.
    private static func checkCallers(of method: MethodDescriptor, _ policy: Servicepro_Options_V1_MethodPolicy) throws {
        if policy.roles.contains(where: { $0 == .unspecified || !Servicepro_Options_V1_Role.allCases.contains($0) }) {
            throw GeneratorError("\(method.fullName): its roles name ROLE_UNSPECIFIED or an unknown role")
        }
        if policy.unauthenticated {
            guard policy.roles.isEmpty else {
                throw GeneratorError("\(method.fullName): an unauthenticated method is called with no token, so it has no roles to check; remove its roles")
            }
            guard policy.tenantScope != .tenant else {
                throw GeneratorError("\(method.fullName): an unauthenticated method has no caller whose tenant TENANT_SCOPE_TENANT could check; use TENANT_SCOPE_SELF and check the request's own credential")
            }
        } else if policy.roles.isEmpty {
            throw GeneratorError("\(method.fullName): its policy names no roles, so no one could call it")
        }
        // Plan features are checked on the tenant a call names.
        if policy.tenantScope != .tenant, policy.requiredFeature != .unspecified {
            throw GeneratorError("\(method.fullName): required_feature is checked on the tenant a call names, so it needs TENANT_SCOPE_TENANT")
        }
    }

    /// Tenant-scoped methods say which tenant they touch through `name` or `parent`, or through
    /// the `name` of the resource they update. The runtime checks it against the caller.
    private static func tenantResource(
        _ method: MethodDescriptor,
        policy: Servicepro_Options_V1_MethodPolicy?,
        namer: SwiftProtobufNamer
    ) throws -> (accessor: String, fieldPath: String)? {
        guard policy?.tenantScope == .tenant else { return nil }
        let fields = method.inputType.fields
        for candidate in ["name", "parent"] {
            if let field = fields.first(where: { $0.name == candidate && $0.type == .string && !$0.isRepeated }) {
                return ("request." + namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: false).name, field.name)
            }
        }
        for field in fields where field.type == .message && !field.isRepeated {
            if let nameField = field.messageType.fields.first(where: { $0.name == "name" && $0.type == .string }) {
                let outer = namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: false).name
                let inner = namer.messagePropertyNames(field: nameField, prefixed: "", includeHasAndClear: false).name
                return ("request.\(outer).\(inner)", "\(field.name).\(nameField.name)")
            }
        }
        throw GeneratorError(
            "\(method.fullName) is tenant-scoped but \(method.inputType.fullName) has no `name` or `parent` field, nor a resource with a `name`"
        )
    }
}

extension Servicepro_Options_V1_Role {
    /// The runtime's `Role` case for this proto role.
    var runtimeCase: String {
        switch self {
        case .platformOwner: return ".platformOwner"
        case .platformStaff: return ".platformStaff"
        case .tenantAdmin: return ".tenantAdmin"
        case .tenantMember: return ".tenantMember"
        case .partner: return ".partner"
        case .telephonyBridge: return ".telephonyBridge"
        case .unspecified, .UNRECOGNIZED: return ""
        }
    }
}

extension Servicepro_Options_V1_TenantScope {
    var runtimeCase: String {
        switch self {
        case .platform: return ".platform"
        case .tenant: return ".tenant"
        case .self_: return ".caller"
        case .unspecified, .UNRECOGNIZED: return ".platform"
        }
    }
}

extension Servicepro_Options_V1_Feature {
    var runtimeCase: String? {
        switch self {
        case .unspecified, .UNRECOGNIZED: return nil
        case .sms: return ".sms"
        case .callForwarding: return ".callForwarding"
        case .ivr: return ".ivr"
        case .aiVoice: return ".aiVoice"
        case .industryAutomations: return ".industryAutomations"
        case .website: return ".website"
        case .conciergeExtras: return ".conciergeExtras"
        case .dataExport: return ".dataExport"
        case .partnerApi: return ".partnerAPI"
        }
    }
}
