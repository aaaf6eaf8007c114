import Foundation
import Logging
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.telephony.v1.PhoneConfigService over the store (plan 3.2 and 3.3).
///
/// Strings are trimmed and empty ones stored as unset; a number or Messaging Service already used
/// by any tenant is ALREADY_EXISTS without saying whose it is; the SIP password is sealed at rest
/// and never returned; IVR and AI voice need the tenant's plan to include them. A create may buy
/// the line's number; a number given instead, on a create or an update, must be the Twilio
/// account's and is pointed at the bridge. Both happen outside the transaction, as the concierge
/// does them, and are undone if the change fails.
public struct PhoneConfigHandler: PhoneConfigServiceHandler {
    let database: any Database
    let sealer: SecretSealer
    let provisioner: any NumberProvisioner
    let logger: Logger
    /// Runs after every committed create, update and delete, e.g. to refresh routing.
    let onChange: @Sendable () async -> Void

    public init(
        database: any Database, sealer: SecretSealer, provisioner: any NumberProvisioner = UnavailableNumberProvisioner(),
        logger: Logger, onChange: @escaping @Sendable () async -> Void
    ) {
        self.database = database
        self.sealer = sealer
        self.provisioner = provisioner
        self.logger = logger
        self.onChange = onChange
    }

    public func createPhoneConfig(_ request: CreatePhoneConfigRequest, context: RequestContext) async throws -> PhoneConfig {
        let tenantID = try context.requireTenant()
        let id = request.phoneConfigID.isEmpty
            ? Tokens.id(bytes: 8)
            : request.phoneConfigID
        var config = try Self.checked(request.phoneConfig)
        try Self.checkNumberSource(request)
        if config.ivrMode == .unspecified { config.ivrMode = .simple }
        let name = PhoneConfigRecords.name(tenantID: tenantID, id: id)
        let sealedPassword: Data? = try config.sipPassword.isEmpty ? nil : sealer.seal(config.sipPassword, boundTo: name)
        try await checkAgainstOtherLines(config, tenantID: tenantID)

        // A retry gets its line without touching Twilio again, and a line that would be refused
        // is refused before a number is bought or pointed at the bridge for it.
        let line = config
        let (earlier, tenant): (PhoneConfig?, Tenant?) = try await database.withTenant(tenantID) { tx in
            if let earlier: PhoneConfig = try await IdempotencyRecords.stored(tx, method: "CreatePhoneConfig", for: request) {
                return (earlier, nil)
            }
            if request.provisionNumber { try provisioner.checkCanProvision() }
            return (nil, try await Self.checkInsertable(line, id: id, request, tx))
        }
        if let earlier { return earlier }
        // Bought under a name of this line, not only its tenant: a purchase whose answer is lost
        // is recognised by its name, and must not be taken for another line's. A number given
        // must be the account's, or the line would never hear a call or text.
        let number: LineNumber = request.provisionNumber
            ? .buy(
                areaCode: request.areaCode.isEmpty ? nil : request.areaCode, countryCode: request.countryCode.isEmpty ? "US" : request.countryCode,
                friendlyName: "\(tenantID)/\(id) - \(tenant?.displayName ?? "")")
            : .existing(config.phoneNumber, field: "phone_config.phone_number")
        let created = try await provisioner.withLineNumber(number, for: "a new phone config", database: database, logger: logger) { bought in
            if let bought { config.phoneNumber = bought.phoneNumber }
            let created = try await insert(config, id: id, sealedPassword: sealedPassword, boughtNumberSID: bought?.sid, request, context: context)
            return (created, created.phoneNumber)
        }
        await onChange()
        return created
    }

    /// Writes the new line `id`, once per request_id, and answers it as stored.
    private func insert(
        _ config: PhoneConfig, id: String, sealedPassword: Data?, boughtNumberSID: String? = nil, _ request: CreatePhoneConfigRequest,
        context: RequestContext
    ) async throws -> PhoneConfig {
        let tenantID = try context.requireTenant()
        return try await reportingDuplicates(of: config, tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                try await IdempotencyRecords.once(tx, method: "CreatePhoneConfig", for: request) {
                    _ = try await Self.checkInsertable(config, id: id, request, tx)
                    try await PhoneConfigRecords.insert(
                        Self.withDefaultMenu(config), id: id, sealedSIPPassword: sealedPassword, boughtNumberSID: boughtNumberSID, tx)
                    try await AuditLog.record(tx, context: context, resource: PhoneConfigRecords.name(tenantID: tenantID, id: id))
                    return try await PhoneConfigRecords.find(id: id, tx)!.config
                }
            }
        }
    }

    /// What the tenant's transaction refuses a new line for: a tenant that is gone, a mode its
    /// plan lacks, an id or a value another of its lines has. Answers the tenant.
    private static func checkInsertable(_ config: PhoneConfig, id: String, _ request: CreatePhoneConfigRequest, _ tx: TenantTransaction) async throws -> Tenant {
        guard let tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(request.parent) }
        try checkPlan(config.ivrMode, tenant)
        guard try await PhoneConfigRecords.find(id: id, tx) == nil else {
            throw PhoneConfigRecords.collection.alreadyExists(tenantID: tx.tenantID, id: id)
        }
        if let field = try await PhoneConfigRecords.taken(config, among: "tenant_id = \(tx.tenantID)", tx.base) {
            throw field.alreadyExists(field.value(in: config))
        }
        return tenant
    }

    /// A new line names its number or has one bought, not both; where to buy says nothing
    /// without buying.
    private static func checkNumberSource(_ request: CreatePhoneConfigRequest) throws {
        let number = request.phoneConfig.phoneNumber
        if request.provisionNumber {
            guard number.isEmpty else {
                throw ServiceError.invalidArgument(field: "phone_config.phone_number", "must be empty with provision_number, which buys the number")
            }
            return
        }
        guard !number.isEmpty else {
            throw ServiceError.invalidArgument(field: "phone_config.phone_number", "is required, unless provision_number buys one")
        }
        for (field, value) in [("area_code", request.areaCode), ("country_code", request.countryCode)] where !value.isEmpty {
            throw ServiceError.invalidArgument(field: field, "is only for provision_number")
        }
    }

    public func getPhoneConfig(_ request: GetPhoneConfigRequest, context: RequestContext) async throws -> PhoneConfig {
        let tenantID = try context.requireTenant()
        let id = try PhoneConfigRecords.collection.requireID(in: request.name, tenantID: tenantID, field: "name")
        guard let stored = try await database.withTenant(tenantID, { try await PhoneConfigRecords.find(id: id, $0) }) else {
            throw ServiceError.notFound(request.name)
        }
        return stored.config
    }

    public func listPhoneConfigs(_ request: ListPhoneConfigsRequest, context: RequestContext) async throws -> ListPhoneConfigsResponse {
        let paging = try PageRequest(request)
        var conditions: [SQLStatement] = []
        if request.ivrMode != .unspecified { conditions.append("ivr_mode = \(request.ivrMode.storedName)") }
        if !request.phoneNumber.isEmpty { conditions.append("phone_number = \(request.phoneNumber)") }
        // The runtime leaves no tenant only for `tenants/-`, which it allows platform roles alone.
        let scope: DataScope = context.tenantID.map { .tenant($0) } ?? .platform
        let filters = conditions
        let configs = try await database.transaction(scope) { tx in
            try await PhoneConfigRecords.listOrder.page(of: "phone_configs", where: filters, paging, tx) {
                try PhoneConfigRecords.stored(from: $0).config
            }
        }
        return ListPhoneConfigsResponse.with {
            $0.phoneConfigs = configs.items
            $0.nextPageToken = configs.nextPageToken
        }
    }

    public func updatePhoneConfig(_ request: UpdatePhoneConfigRequest, context: RequestContext) async throws -> PhoneConfig {
        let tenantID = try context.requireTenant()
        let name = request.phoneConfig.name
        let id = try PhoneConfigRecords.collection.requireID(in: name, tenantID: tenantID, field: "phone_config.name")
        let mask = try PhoneConfigUpdateMask(request.updateMask)
        let input = try Self.checked(request.phoneConfig, updating: request.updateMask)
        if mask.contains("phone_number"), input.phoneNumber.isEmpty {
            // As on create: a config without its number would answer nothing, and the number's
            // texts and calls would fall to the root tenant.
            throw ServiceError.invalidArgument(field: "phone_config.phone_number", "is required; a number is changed, not cleared")
        }
        let newPassword: Data? = try mask.contains("sip_password") && !input.sipPassword.isEmpty
            ? sealer.seal(input.sipPassword, boundTo: name) : nil

        // Just the fields this update sets that other lines constrain, to check them against those.
        let changedUniques = PhoneConfig.with {
            if mask.contains("phone_number") { $0.phoneNumber = input.phoneNumber }
            if mask.contains("messaging_service_sid") { $0.messagingServiceSid = input.messagingServiceSid }
            if mask.contains("forward_number") { $0.forwardNumber = input.forwardNumber }
        }
        try await checkAgainstOtherLines(changedUniques, tenantID: tenantID, updating: id)
        // A new number is checked and pointed at the bridge as a new line's is; the one it
        // replaces keeps its routing (a bought one is released as any line's given up is).
        var number = LineNumber.none
        if mask.contains("phone_number") {
            let current = try await database.withTenant(tenantID) { tx in try await PhoneConfigRecords.find(id: id, tx) }
            guard let current else { throw ServiceError.notFound(name) }
            if input.phoneNumber != current.config.phoneNumber { number = .existing(input.phoneNumber, field: "phone_config.phone_number") }
        }
        let updated = try await provisioner.withLineNumber(number, for: "a phone config update", database: database, logger: logger) { _ in
            let updated = try await write(input, mask: mask, newPassword: newPassword, changedUniques: changedUniques, id: id, request, context: context)
            return (updated, updated.phoneNumber)
        }
        await onChange()
        return updated
    }

    /// Writes `request`'s change of line `id` in one transaction, against the line as it is then.
    private func write(
        _ input: PhoneConfig, mask: PhoneConfigUpdateMask, newPassword: Data?, changedUniques: PhoneConfig, id: String,
        _ request: UpdatePhoneConfigRequest, context: RequestContext
    ) async throws -> PhoneConfig {
        let tenantID = try context.requireTenant()
        let name = request.phoneConfig.name
        return try await reportingDuplicates(of: changedUniques, tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                guard let current = try await PhoneConfigRecords.find(id: id, tx) else { throw ServiceError.notFound(name) }
                try Etag.requireCurrent(request.phoneConfig.etag, current: current.config.etag, of: name)
                guard let tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(name) }
                var config = current.config
                mask.apply(from: input, to: &config)
                // The check above saw only what the update sets; a new number can meet the line's
                // forward number here.
                try PhoneConfigRecords.checkNotForwardedToItself(
                    config, fields: Self.forwardingFields, changingNumber: !mask.contains("forward_number"))
                if config.ivrMode != current.config.ivrMode {
                    try Self.checkPlan(config.ivrMode, tenant)
                }
                if let field = try await PhoneConfigRecords.taken(
                    changedUniques, among: "tenant_id = \(tenantID) AND phone_config_id <> \(id)", tx.base) {
                    throw field.alreadyExists(field.value(in: changedUniques))
                }
                let sealedPassword = mask.contains("sip_password") ? newPassword : current.sealedSIPPassword
                guard try await PhoneConfigRecords.update(Self.withDefaultMenu(config), replacing: current, sealedSIPPassword: sealedPassword, tx)
                else {
                    throw Etag.concurrentChange(of: name)
                }
                try await AuditLog.record(tx, context: context, resource: name, details: mask.paths.auditDetails)
                return try await PhoneConfigRecords.find(id: id, tx)!.config
            }
        }
    }

    public func deletePhoneConfig(_ request: DeletePhoneConfigRequest, context: RequestContext) async throws -> DeletePhoneConfigResponse {
        let tenantID = try context.requireTenant()
        let id = try PhoneConfigRecords.collection.requireID(in: request.name, tenantID: tenantID, field: "name")
        guard !(tenantID == TenantRecords.rootID && id == PhoneConfigRecords.rootLineID) else {
            throw ServiceError.failedPrecondition(
                reason: "root_phone_config_protected",
                message: "\(request.name) is the platform's main line and cannot be deleted")
        }
        try await database.withTenant(tenantID) { tx in
            guard let current = try await PhoneConfigRecords.find(id: id, tx) else { throw ServiceError.notFound(request.name) }
            try Etag.requireCurrent(request.etag, current: current.config.etag, of: request.name)
            // As read: an update or delete that committed since would otherwise be undone
            // unseen, or audited twice.
            guard try await PhoneConfigRecords.delete(current, tx) else {
                throw Etag.concurrentChange(of: request.name)
            }
            try await AuditLog.record(tx, context: context, resource: request.name)
        }
        await onChange()
        return DeletePhoneConfigResponse()
    }

    // MARK: Rules

    /// `config` checked for what field rules cannot say (the pipeline has trimmed and checked its
    /// fields already): menu digits unique, and placeholders only where they can be filled. An
    /// update is checked only in the fields its `mask` names, as the field rules are.
    static func checked(_ config: PhoneConfig, updating mask: Google_Protobuf_FieldMask? = nil) throws -> PhoneConfig {
        var violations: [FieldViolation] = []
        violations += PackPlaceholders.violations(in: config.autoReply.text, allowed: PackPlaceholders.lineText, field: "phone_config.auto_reply.text")
        violations += PackPlaceholders.violations(in: config.ivrMenu.greeting, allowed: PackPlaceholders.businessOnly, field: "phone_config.ivr_menu.greeting")
        var seenDigits: Set<String> = []
        for (index, option) in config.ivrMenu.options.enumerated() {
            let path = "phone_config.ivr_menu.options[\(index)]."
            violations += option.placeholderViolations(path: path)
            if !seenDigits.insert(option.digit).inserted {
                violations.append(FieldViolation(field: path + "digit", description: "\(option.digit) is already used by another option"))
            }
        }
        if let mask {
            var changed: [FieldViolation] = []
            FieldCheck.withinMask(violations, mask, resourcePath: "phone_config.", &changed)
            violations = changed
        }
        guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
        return config
    }

    /// IVR needs the plan's `ivr` feature and AI voice its `ai_voice` feature.
    static func checkPlan(_ mode: IvrMode, _ tenant: Tenant) throws {
        guard let feature = mode.requiredFeature else { return }
        try PlanCatalog.require(feature, in: tenant.planTier.catalogTier)
    }

    /// An IVR number without a menu, or with an empty one, gets the standard menu's options and
    /// greeting.
    static func withDefaultMenu(_ config: PhoneConfig) -> PhoneConfig {
        guard config.ivrMode == .ivr else { return config }
        var config = config
        if config.ivrMenu.options.isEmpty { config.ivrMenu.options = IvrMenu.standard.options }
        if config.ivrMenu.greeting.isEmpty { config.ivrMenu.greeting = IvrMenu.standard.greeting }
        return config
    }

    static let forwardingFields = (number: "phone_config.phone_number", forward: "phone_config.forward_number")

    // MARK: Uniqueness

    /// The platform-wide checks, made before the tenant's transaction, in one read of every
    /// tenant's lines: another tenant's number or Messaging Service is ALREADY_EXISTS, and the
    /// forwarding rules hold (`PhoneConfigRecords.checkForwarding`). Clashes within the tenant are
    /// checked inside its transaction, after the idempotency record, so a retried create still
    /// gets its first result. `config` holds what the request sets, for line `id` when it exists.
    private func checkAgainstOtherLines(_ config: PhoneConfig, tenantID: String, updating id: String? = nil) async throws {
        guard !config.phoneNumber.isEmpty || !config.messagingServiceSid.isEmpty || !config.forwardNumber.isEmpty else { return }
        try await database.transaction(.platform) { tx in
            if let taken = try await PhoneConfigRecords.taken(config, among: "tenant_id <> \(tenantID)", tx) {
                throw taken.alreadyExists(taken.value(in: config))
            }
            try await PhoneConfigRecords.checkForwarding(config, updating: id.map { (tenantID, $0) }, fields: Self.forwardingFields, tx)
        }
    }

    /// A concurrent writer can take a value between the checks and the write; the unique index
    /// then refuses the write, and the caller gets the same ALREADY_EXISTS as from the checks.
    private func reportingDuplicates<Result>(
        of config: PhoneConfig, tenantID: String, id: String, _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            return try await body()
        } catch {
            guard let violation = UniqueViolation(error) else { throw error }
            for field in PhoneConfigRecords.UniqueField.allCases where violation.isOn(index: field.index, columns: [field.column]) {
                throw field.alreadyExists(field.value(in: config))
            }
            if violation.isOn(index: "phone_configs_pkey", columns: ["tenant_id", "phone_config_id"]) {
                throw PhoneConfigRecords.collection.alreadyExists(tenantID: tenantID, id: id)
            }
            throw error
        }
    }
}

extension ListPhoneConfigsRequest: PagedListRequest {}
