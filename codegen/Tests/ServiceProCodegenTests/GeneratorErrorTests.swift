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

    static let unkeepablePolicies: [(Servicepro_Options_V1_MethodPolicy, String)] = {
        func policy(_ change: (inout Servicepro_Options_V1_MethodPolicy) -> Void) -> Servicepro_Options_V1_MethodPolicy {
            var policy = Synthetic.policy(scope: .platform)
            change(&policy)
            return policy
        }
        return [
            (policy { $0.roles = [] }, "its policy names no roles, so no one could call it"),
            (policy { $0.roles = [.platformOwner, .unspecified] }, "its roles name ROLE_UNSPECIFIED or an unknown role"),
            (policy { $0.roles = [.UNRECOGNIZED(42)] }, "its roles name ROLE_UNSPECIFIED or an unknown role"),
            (policy { $0.unauthenticated = true }, "an unauthenticated method is called with no token, so it has no roles to check; remove its roles"),
            (policy { $0.unauthenticated = true; $0.roles = []; $0.tenantScope = .tenant },
             "an unauthenticated method has no caller whose tenant TENANT_SCOPE_TENANT could check; use TENANT_SCOPE_SELF and check the request's own credential"),
            (policy { $0.requiredFeature = .partnerApi }, "required_feature is checked on the tenant a call names, so it needs TENANT_SCOPE_TENANT"),
        ]
    }()

    @Test(arguments: unkeepablePolicies)
    func policyThatCannotBeKeptIsRejected(policy: Servicepro_Options_V1_MethodPolicy, message: String) throws {
        let file = Synthetic.file(
            methods: [Synthetic.method("ListWidgets", policy: policy)], requestFields: [Synthetic.field("parent", number: 1, type: .string)])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .api(descriptorSetName: "D"))
        }
        #expect(error?.description == "synthetic.v1.SyntheticService.ListWidgets: " + message)
    }

    @Test func flagsThatCollideAreRejected() throws {
        let file = Synthetic.file(
            methods: [Synthetic.method("ListWidgets", policy: Synthetic.policy(scope: .platform))],
            requestFields: [
                Synthetic.field("filter_title", number: 1, type: .string),
                Synthetic.field("filter", number: 2, type: .message, typeName: ".synthetic.v1.Filter"),
            ])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .cli)
        }
        #expect(error?.description == "synthetic.v1.SyntheticService.ListWidgets: the fields filter_title and filter.title both make the spctl property filterTitle; rename one")
    }

    @Test func policyWithoutTenantScopeIsRejected() throws {
        let file = Synthetic.file(methods: [Synthetic.method("GetWidget", policy: Synthetic.policy(scope: .unspecified))])
        for target in [GenerationTarget.api(descriptorSetName: "D"), .cli] {
            let error = #expect(throws: GeneratorError.self) {
                try ServiceProGenerator.generate(files: [file], target: target)
            }
            #expect(
                error?.description
                    == "synthetic.v1.SyntheticService.GetWidget: its policy must set tenant_scope (TENANT_SCOPE_TENANT, TENANT_SCOPE_PLATFORM or TENANT_SCOPE_SELF)"
            )
        }
    }

    @Test(arguments: [
        (Servicepro_Options_V1_TenantScope.platform, [Servicepro_Options_V1_Role.platformOwner]),
        (.tenant, [.tenantAdmin]),
    ])
    func allowedAfterDeletionNeedsATenantAndAPlatformRole(scope: Servicepro_Options_V1_TenantScope, roles: [Servicepro_Options_V1_Role]) throws {
        var policy = Synthetic.policy(scope: scope)
        policy.roles = roles
        policy.allowedAfterDeletion = true
        let file = Synthetic.file(
            methods: [Synthetic.method("ListWidgets", policy: policy)], requestFields: [Synthetic.field("parent", number: 1, type: .string)])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .api(descriptorSetName: "D"))
        }
        #expect(
            error?.description
                == "synthetic.v1.SyntheticService.ListWidgets: allowed_after_deletion needs TENANT_SCOPE_TENANT and a platform role among its roles"
        )
    }

    @Test(arguments: [
        (Servicepro_Options_V1_TenantScope.platform, true, "widgets/{id", "synthetic.v1.SyntheticService.CreateWidget: audit_resource \"widgets/{id\" has a { without its }"),
        (.platform, true, "widgets/id}", "synthetic.v1.SyntheticService.CreateWidget: audit_resource \"widgets/id}\" has a } without its {"),
        (.platform, true, "widgets", "synthetic.v1.SyntheticService.CreateWidget: audit_resource \"widgets\" names no request field; put one in braces, e.g. {name}"),
        (.platform, true, "widgets/{size}", "synthetic.v1.SyntheticService.CreateWidget: audit_resource \"widgets/{size}\" names size, which is not a singular field of synthetic.v1.Request"),
        (.platform, true, "widgets/{count}", "synthetic.v1.SyntheticService.CreateWidget: audit_resource \"widgets/{count}\" names count, which is not a string"),
        (.platform, true, "widgets/{id.part}", "synthetic.v1.SyntheticService.CreateWidget: audit_resource \"widgets/{id.part}\" names id.part, but id is not a message"),
        (.platform, false, "widgets/{id}", "synthetic.v1.SyntheticService.CreateWidget: audit_resource is for audited methods that are not tenant-scoped; a tenant-scoped method's events name its resource already"),
        (.tenant, true, "widgets/{id}", "synthetic.v1.SyntheticService.CreateWidget: audit_resource is for audited methods that are not tenant-scoped; a tenant-scoped method's events name its resource already"),
    ])
    func auditResourceTemplateIsChecked(scope: Servicepro_Options_V1_TenantScope, audited: Bool, template: String, message: String) throws {
        var policy = Synthetic.policy(scope: scope)
        policy.audited = audited
        policy.auditResource = template
        let file = Synthetic.file(
            methods: [Synthetic.method("CreateWidget", policy: policy)],
            requestFields: [Synthetic.field("name", number: 1, type: .string), Synthetic.field("id", number: 2, type: .string), Synthetic.field("count", number: 3, type: .int32)])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .api(descriptorSetName: "D"))
        }
        #expect(error?.description == message)
    }

    @Test func allowedWhileImpersonatingWithoutTheSessionsRoleIsRejected() throws {
        var policy = Synthetic.policy(scope: .platform)
        policy.roles = [.platformOwner, .platformStaff]
        policy.allowedWhileImpersonating = true
        let file = Synthetic.file(methods: [Synthetic.method("GetWidget", policy: policy)])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .cli)
        }
        #expect(
            error?.description
                == "synthetic.v1.SyntheticService.GetWidget: allowed_while_impersonating needs ROLE_TENANT_ADMIN among its roles, the role an impersonation session is checked as"
        )
        policy.roles.append(.tenantAdmin)
        _ = try ServiceProGenerator.generate(files: [Synthetic.file(methods: [Synthetic.method("GetWidget", policy: policy)])], target: .cli)
        var selfPolicy = Synthetic.policy(scope: .self_)
        selfPolicy.allowedWhileImpersonating = true
        _ = try ServiceProGenerator.generate(files: [Synthetic.file(methods: [Synthetic.method("GetWidget", policy: selfPolicy)])], target: .cli)
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

    @Test(arguments: [
        ("count", Google_Protobuf_FieldDescriptorProto.TypeEnum.int32, Servicepro_Options_V1_FieldRules.with { $0.maxLength = 3 },
         "synthetic.v1.Request.count: the max_length rule applies to string fields only"),
        ("flag", .bool, .with { $0.trim = true }, "synthetic.v1.Request.flag: the trim rule applies to string fields only"),
        ("label", .string, .with { $0.definedEnum = true }, "synthetic.v1.Request.label: the defined_enum rule applies to enum fields only"),
        ("stamp", .string, .with { $0.outputOnly = true; $0.required = true }, "synthetic.v1.Request.stamp: an output_only field cannot be required"),
        ("blob", .bytes, .with { $0.outputOnly = true }, "synthetic.v1.Request.blob: the output_only rule is not supported on oneof members, maps or bytes"),
        ("total", .int64, .with { $0.outputOnly = true; $0.minimum = 1 },
         "synthetic.v1.Request.total: an output_only field is cleared before it is checked, so it cannot have a minimum or maximum"),
        ("name", .string, .with { $0.minimum = 0 }, "synthetic.v1.Request.name: the minimum rule applies to numbers and durations only"),
        ("count", .int32, .with { $0.maxItems = 3 }, "synthetic.v1.Request.count: the max_items rule applies to repeated fields only"),
        ("count", .int32, .with { $0.minimum = 2; $0.maximum = 1 }, "synthetic.v1.Request.count: the minimum 2.0 is above the maximum 1.0"),
        ("ratio", .double, .with { $0.maximum = .infinity }, "synthetic.v1.Request.ratio: the maximum rule needs a finite number"),
        ("count", .int64, .with { $0.minimum = 0.5 }, "synthetic.v1.Request.count: the minimum rule of an integer field needs a whole number within ±2^53"),
        ("count", .uint64, .with { $0.maximum = 1e17 }, "synthetic.v1.Request.count: the maximum rule of an integer field needs a whole number within ±2^53"),
    ])
    func ruleOnTheWrongKindOfFieldIsRejected(name: String, type: Google_Protobuf_FieldDescriptorProto.TypeEnum, rules: Servicepro_Options_V1_FieldRules, message: String) throws {
        var field = Synthetic.field(name, number: 1, type: type)
        field.options.setExtensionValue(ext: Servicepro_Options_V1_Extensions_rules, value: rules)
        let file = Synthetic.file(methods: [Synthetic.method("ListWidgets", policy: Synthetic.policy(scope: .platform))], requestFields: [field])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .api(descriptorSetName: "D"))
        }
        #expect(error?.description == message)
    }

    @Test func patternThatDoesNotCompileIsRejected() throws {
        var field = Synthetic.field("code", number: 1, type: .string)
        field.options.setExtensionValue(ext: Servicepro_Options_V1_Extensions_rules, value: .with { $0.pattern = "[a-z" })
        let file = Synthetic.file(methods: [Synthetic.method("ListWidgets", policy: Synthetic.policy(scope: .platform))], requestFields: [field])
        let error = #expect(throws: GeneratorError.self) {
            try ServiceProGenerator.generate(files: [file], target: .api(descriptorSetName: "D"))
        }
        #expect(error?.description.hasPrefix("synthetic.v1.Request.code: pattern \"[a-z\" is not a valid regular expression") == true)
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
