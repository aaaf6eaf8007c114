import GRPCCore
import RPCRuntime
import ServiceProAPI
import Testing

@Suite("Policy table")
struct PolicyTableTests {
    /// A service whose only method declares no policy, as a proto without the option would.
    struct UnpolicedService: PolicedRPCService {
        enum Ping: RPCMethod {
            typealias Input = GetTenantRequest
            typealias Output = Tenant
            static let descriptor = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: "test.Unpoliced"), method: "Ping")
            static let policy: MethodPolicy? = nil
            static let tenantResourceField: String? = nil
            static func tenantResourceName(of request: Input) -> String? { nil }
        }

        var methods: [any RPCMethod.Type] { [Ping.self] }
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {}
    }

    @Test("a method without a policy cannot be registered")
    func missingPolicyFails() {
        #expect(throws: PolicyTable.BuildError.self) {
            try PolicyTable(services: [UnpolicedService()])
        }
    }

    @Test("an open method cannot take the place of a policed one")
    func openMethodCannotShadowPoliced() {
        let services: [any PolicedRPCService] = [TenantService.Service(handler: TenantService.UnimplementedHandler())]
        #expect(throws: PolicyTable.BuildError.self) {
            try PolicyTable(services: services, openMethods: [TenantService.Method.GetTenant.descriptor])
        }
    }

    @Test("every generated method has a policy with at least one role or an own credential")
    func generatedPoliciesAreComplete() throws {
        let services: [any PolicedRPCService] = [
            TenantService.Service(handler: TenantService.UnimplementedHandler()),
            ApiKeyService.Service(handler: ApiKeyService.UnimplementedHandler()),
            ImpersonationService.Service(handler: ImpersonationService.UnimplementedHandler()),
            BillingService.Service(handler: BillingService.UnimplementedHandler()),
            ExportService.Service(handler: ExportService.UnimplementedHandler()),
        ]
        let table = try PolicyTable(services: services)
        #expect(table.policedMethods.count > 20)
        for (method, policy) in table.policedMethods {
            #expect(!policy.roles.isEmpty || policy.unauthenticated, "\(method)")
        }
    }

    @Test("the restrictions while impersonating are declared where the plan needs them")
    func impersonationRestrictions() {
        #expect(ApiKeyService.Method.CreateApiKey.policy?.allowedWhileImpersonating == false)
        #expect(ImpersonationService.Method.StartImpersonation.policy?.allowedWhileImpersonating == false)
        #expect(BillingService.Method.ChangePlan.policy?.allowedWhileImpersonating == false)
        #expect(ExportService.Method.DownloadExport.policy?.allowedWhileImpersonating == false)
    }

    @Test("plan features: each tier includes the cheaper tiers' features")
    func planCatalogIsMonotonic() {
        let tiers = PlanCatalog.Tier.allCases
        for (cheaper, richer) in zip(tiers, tiers.dropFirst()) {
            #expect(PlanCatalog.features[cheaper]!.isSubset(of: PlanCatalog.features[richer]!))
        }
        #expect(PlanCatalog.lowestTier(with: .aiVoice) == .elite)
        #expect(PlanCatalog.lowestTier(with: .ivr) == .pro)
    }
}
