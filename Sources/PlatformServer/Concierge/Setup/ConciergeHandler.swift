import Foundation
import Logging
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.concierge.v1.ConciergeService: the owner's done-for-you setup. A create checks every
/// step first, buys a number if asked or points the existing one at the bridge (outside the
/// transaction: a slow provider must not hold the store), then writes the tenant, its phone
/// config, its industry pack and its trial in one transaction; if that fails, a bought number
/// goes back and an existing one gets its earlier routing back.
public struct ConciergeHandler: ConciergeServiceHandler {
    let database: any Database
    let catalog: IndustryPackCatalog
    let provisioner: any NumberProvisioner
    let onboarding: OnboardingSender
    let faults: ConciergeFaults
    let logger: Logger
    /// Called after a create adds a phone config, so tenant resolution sees the new number.
    let onPhoneConfigChange: @Sendable () async -> Void

    public init(
        database: any Database,
        catalog: IndustryPackCatalog,
        provisioner: any NumberProvisioner,
        onboarding: OnboardingSender,
        faults: ConciergeFaults = .none,
        logger: Logger,
        onPhoneConfigChange: @escaping @Sendable () async -> Void = {}
    ) {
        self.database = database
        self.catalog = catalog
        self.provisioner = provisioner
        self.onboarding = onboarding
        self.faults = faults
        self.logger = logger
        self.onPhoneConfigChange = onPhoneConfigChange
    }

    public func createConciergeTenant(_ request: CreateConciergeTenantRequest, context: RequestContext) async throws -> CreateConciergeTenantResponse {
        let setup = try ConciergeSetup(request, catalog: catalog)
        let caller = context.principal.tenantID
        if let earlier: CreateConciergeTenantResponse = try await database.withTenant(caller, {
            try await IdempotencyRecords.stored($0, method: "CreateConciergeTenant", for: request)
        }) {
            return earlier
        }
        try await checkAvailable(setup)
        if setup.telephonyMode == .provisionNumber { try provisioner.checkCanProvision() }
        let existingNumber = setup.telephonyMode == .useExistingNumber ? setup.phoneConfig?.phoneNumber : nil
        if request.review.validateOnly {
            if let existingNumber { try await provisioner.checkOwned(existingNumber, field: "telephony.phone_number") }
            return try await preview(setup)
        }
        let number: LineNumber = if setup.telephonyMode == .provisionNumber {
            .buy(areaCode: setup.areaCode, countryCode: setup.countryCode, friendlyName: "\(setup.tenantID) - \(setup.tenant.displayName)")
        } else if let existingNumber {
            .existing(existingNumber, field: "telephony.phone_number")
        } else {
            .none
        }
        let response = try await provisioner.withLineNumber(number, for: "a concierge create", database: database, logger: logger) { bought in
            do {
                let response = try await database.transaction(.platform) { tx in
                    try await IdempotencyRecords.once(TenantTransaction(tenantID: caller, base: tx), method: "CreateConciergeTenant", for: request) {
                        try await write(setup, number: bought, TenantTransaction(tenantID: setup.tenantID, base: tx), context: context)
                    }
                }
                return (response, response.phoneConfig.phoneNumber)
            } catch {
                throw setup.reportingDuplicates(error, phoneNumber: bought?.phoneNumber)
            }
        }
        if response.hasPhoneConfig { await onPhoneConfigChange() }
        return response
    }

    /// The tenant, its number and its industry pack (whose IVR menu goes on the number), as the
    /// create writes them and the review step previews them; `phoneNumber` replaces the setup's,
    /// and `boughtNumberSID` is its sid when the platform bought it.
    private func setUp(
        _ setup: ConciergeSetup, phoneNumber: String?, boughtNumberSID: String? = nil, _ tx: TenantTransaction, now: Date
    ) async throws -> (applied: AppliedPackSummary, phoneConfig: PhoneConfig?) {
        try await TenantRecords.insert(setup.tenant, tx, now: now)
        try faults.fail(.tenant)
        if var config = setup.phoneConfig {
            if let phoneNumber { config.phoneNumber = phoneNumber }
            let stored = PhoneConfigHandler.withDefaultMenu(config)
            try await PhoneConfigRecords.insert(
                stored, id: ConciergeSetup.phoneConfigID, sealedSIPPassword: nil, boughtNumberSID: boughtNumberSID,
                numberField: "telephony.phone_number", tx, now: now)
        }
        try faults.fail(.phoneConfig)
        let applied = try await PackApplier.apply(setup.pack, tx, now: now)
        let phoneConfig = try await PhoneConfigRecords.find(id: ConciergeSetup.phoneConfigID, tx)?.config
        try faults.fail(.industryPack)
        return (applied, phoneConfig)
    }

    /// Everything the create writes, in the caller's transaction.
    private func write(_ setup: ConciergeSetup, number: ProvisionedNumber?, _ tx: TenantTransaction, context: RequestContext) async throws -> CreateConciergeTenantResponse {
        let (applied, phoneConfig) = try await setUp(setup, phoneNumber: number?.phoneNumber, boughtNumberSID: number?.sid, tx, now: Date())
        try await AuditLog.record(tx, context: context, resource: ResourceName.tenant(setup.tenantID), details: [
            "industry_pack": setup.pack.name, "tier": setup.tier.rawValue,
            "telephony": "\(setup.telephonyMode)", "number": phoneConfig?.phoneNumber ?? "",
        ])
        try faults.fail(.audit)
        let tenant = try await TenantRecords.find(tx)!
        return CreateConciergeTenantResponse.with {
            $0.tenant = tenant
            if let phoneConfig { $0.phoneConfig = phoneConfig }
            $0.appliedPack = applied
            $0.nextActions = ConciergeNextActions.after(
                tenantID: setup.tenantID, tenant: setup.tenant, canImpersonate: context.principal.role == .platformOwner)
        }
    }

    /// A slug or number that is already taken is refused before any number is bought.
    private func checkAvailable(_ setup: ConciergeSetup) async throws {
        try await database.transaction(.platform) { tx in
            try await TenantRecords.checkIDFree(setup.tenantID, field: "basics.slug", tx)
            if let config = setup.phoneConfig, let taken = try await PhoneConfigRecords.taken(config, among: "1 = 1", tx) {
                throw taken.alreadyExists(taken.value(in: config), under: "telephony")
            }
            if let config = setup.phoneConfig {
                try await PhoneConfigRecords.checkForwarding(config, fields: (number: "telephony.phone_number", forward: "telephony.forward_number"), tx)
            }
        }
    }

    /// The review step: what a create would write, written in a transaction that is then
    /// rolled back, so the summary is exactly what the real create would do.
    private func preview(_ setup: ConciergeSetup) async throws -> CreateConciergeTenantResponse {
        // A number still to be bought has none yet.
        let phoneNumber: String? = setup.telephonyMode == .provisionNumber ? "" : nil
        return try await RolledBack.run(database, .platform) { tx in
            let (applied, phoneConfig) = try await setUp(setup, phoneNumber: phoneNumber, TenantTransaction(tenantID: setup.tenantID, base: tx), now: Date())
            return CreateConciergeTenantResponse.with {
                $0.tenant = setup.tenant
                $0.tenant.name = ResourceName.tenant(setup.tenantID)
                $0.tenant.slug = setup.tenantID
                if let phoneConfig { $0.phoneConfig = phoneConfig }
                $0.appliedPack = applied
                $0.validateOnly = true
            }
        }
    }

    public func applyIndustryPack(_ request: ApplyIndustryPackRequest, context: RequestContext) async throws -> AppliedPackSummary {
        let tenantID = try context.requireTenant()
        let packID = String(request.industryPack.dropFirst("industryPacks/".count))
        guard let pack = catalog.pack(id: packID) else {
            throw ServiceError.invalidArgument(field: "industry_pack", "\(request.industryPack) is not an industry pack; spctl industry-packs list shows them")
        }
        let apply: @Sendable (TenantTransaction) async throws -> AppliedPackSummary = { tx in
            guard var tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(request.name) }
            let now = Date()
            // The tenant's industry is the pack it runs on.
            if tenant.industry != packID {
                let revision = Etag.revision(tenant.etag) ?? 0
                tenant.industry = packID
                guard try await TenantRecords.update(tenant, expectedRevision: revision, tx, now: now) else {
                    throw Etag.concurrentChange(of: request.name)
                }
            }
            return try await PackApplier.apply(pack, tx, now: now)
        }
        if request.validateOnly {
            return try await RolledBack.run(database, .tenant(tenantID)) { try await apply(TenantTransaction(tenantID: tenantID, base: $0)) }
        }
        let summary = try await database.withTenant(tenantID) { tx in
            try await IdempotencyRecords.once(tx, method: "ApplyIndustryPack", for: request) {
                let summary = try await apply(tx)
                try await AuditLog.record(tx, context: context, resource: request.name, details: ["industry_pack": request.industryPack])
                return summary
            }
        }
        // The pack's IVR menu may have gone on the tenant's numbers; calls route by them.
        await onPhoneConfigChange()
        return summary
    }

    public func sendOnboarding(_ request: SendOnboardingRequest, context: RequestContext) async throws -> SendOnboardingResponse {
        try await onboarding.send(request, context: context)
    }
}
