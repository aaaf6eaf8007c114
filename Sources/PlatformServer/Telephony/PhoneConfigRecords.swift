import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// A phone config as stored, for the handler and for inbound routing.
public struct StoredPhoneConfig: Sendable {
    public var tenantID: String
    public var id: String
    /// As the API returns it: `sip_password` is never filled in; `sip_password_set` says whether
    /// one is stored.
    public var config: PhoneConfig
    /// The SIP password sealed by ``SecretSealer``, bound to `config.name`; nil when none is set.
    public var sealedSIPPassword: Data?
    /// Twilio's sid of the number when the platform bought it, to release when the config gives
    /// it up; nil for a number the tenant brought or the account held already.
    var numberSID: String?

    /// What a SIP endpoint that asks for a credential is answered with.
    struct SIPCredential: Equatable {
        var username: String
        var password: String
    }

    /// The SIP credential in clear, for the dial that rings the endpoint; nil when no password
    /// is stored.
    func sipCredential(using sealer: SecretSealer) throws -> SIPCredential? {
        guard let sealedSIPPassword else { return nil }
        return SIPCredential(username: config.sipUsername, password: try sealer.open(sealedSIPPassword, boundTo: config.name))
    }
}

extension PhoneConfig {
    /// Whether the simple mode has a SIP endpoint to ring: `sip:{sip_username}@{sip_domain}`.
    var hasSIPEndpoint: Bool { !sipDomain.isEmpty && !sipUsername.isEmpty }

    /// Who a text sent on this line comes from: its Messaging Service, else its number, else the
    /// platform's own sender ("").
    var textSender: String {
        messagingServiceSid.isEmpty ? phoneNumber : messagingServiceSid
    }

    /// Where a text to `tenant`'s business about this line goes: its contact phone, else the
    /// line's forward number; nil when neither can take a text.
    func businessTextNumber(of tenant: Tenant?) -> String? {
        [tenant?.contact.phone ?? "", forwardNumber].first(where: CallerNumber.canTakeTexts)
    }

    /// What a first text from someone new to this line gets back; nil when its auto-reply is off.
    /// The line's own text, else the tenant's pack's `packAutoReply`, else the standard one: the
    /// first whose placeholders `tenant` can fill, so a text with the booking link waits for the
    /// tenant to set one.
    func autoReplyText(for tenant: Tenant, packAutoReply: String?) -> String? {
        guard !autoReply.disabled else { return nil }
        let values = PackPlaceholders.values(for: tenant)
        let text = PackPlaceholders.firstFilled([autoReply.text, packAutoReply ?? ""], values, maxLength: OutboxRecords.maxTextLength)
            ?? PackPlaceholders.fill(Self.standardAutoReply, values)
        // A long business name can take even the standard text past what one message holds.
        return String(text.prefix(OutboxRecords.maxTextLength))
    }

    static let standardAutoReply = "Thanks for texting {{business_name}}! We got your message and will reply shortly."
}

/// Phone configs in the store. Optional strings are stored as NULL when empty, so the
/// platform-wide unique indexes on the number and the Messaging Service ignore unset ones.
enum PhoneConfigRecords {
    /// A number's auto-reply, as `ivr_menu` is kept: the message's bytes, NULL when unset.
    static let autoReplyMigration = Migration(
        version: 18,
        name: "phone_configs_auto_reply",
        statements: ["ALTER TABLE phone_configs ADD COLUMN auto_reply BLOB"],
        tenantOwnedTables: [])

    /// Migration 33: what a line texts the business about, kept as the auto-reply is.
    static let businessAlertsMigration = Migration(
        version: 33,
        name: "phone_configs_business_alerts",
        statements: ["ALTER TABLE phone_configs ADD COLUMN business_alerts BLOB"],
        tenantOwnedTables: [])

    /// The root tenant's main line, `tenants/root/phoneConfigs/main`, which cannot be deleted.
    static let rootLineID = "main"
    static let rootLine = PhoneConfig.with {
        $0.displayName = "Clean Machine main line"
        $0.ivrMode = .simple
    }

    static let collection = ResourceCollection(segment: "phoneConfigs", table: "phone_configs", idColumn: "phone_config_id", noun: "phone_config")

    static func name(tenantID: String, id: String) -> String { collection.name(tenantID: tenantID, id: id) }

    static func find(id: String, _ tx: TenantTransaction) async throws -> StoredPhoneConfig? {
        try await tx.select(from: "phone_configs", where: "phone_config_id = \(id)").first.map(stored(from:))
    }

    /// `boughtNumberSID` is the sid of the number when the platform has just bought it for this
    /// config; otherwise a number whose release is pending is kept (``NumberReleaseRecords/withdraw``).
    /// `numberField` is what the request calls the number, named when it cannot be kept.
    static func insert(
        _ config: PhoneConfig, id: String, sealedSIPPassword: Data?, boughtNumberSID: String? = nil,
        numberField: String = "phone_config.phone_number", _ tx: TenantTransaction, now: Date = Date()
    ) async throws {
        var numberSID = boughtNumberSID
        if numberSID == nil {
            numberSID = try await NumberReleaseRecords.withdraw(phoneNumber: config.phoneNumber, field: numberField, tx.base, now: now)
        }
        try await tx.insert(into: "phone_configs", [("phone_config_id", id)] + columns(of: config, sealedSIPPassword: sealedSIPPassword) + [
            ("number_sid", numberSID),
            ("create_time", now),
            ("update_time", now),
            ("revision", 1),
        ])
    }

    /// Writes every stored field if the row is still at `current`'s revision; false otherwise. A
    /// new number gives the old one up, released after ``NumberReleaseRecords/grace`` when the
    /// platform bought it, and keeps the new one if its release is pending.
    static func update(
        _ config: PhoneConfig, replacing current: StoredPhoneConfig, sealedSIPPassword: Data?, _ tx: TenantTransaction, now: Date = Date()
    ) async throws -> Bool {
        let numberChanged = config.phoneNumber != current.config.phoneNumber
        // Only UpdatePhoneConfig changes a line's number, which it names `phone_config.phone_number`.
        let numberSID = numberChanged
            ? try await NumberReleaseRecords.withdraw(phoneNumber: config.phoneNumber, field: "phone_config.phone_number", tx.base, now: now)
            : current.numberSID
        let revision = Etag.revision(current.config.etag) ?? 0
        let changed = try await tx.update(
            "phone_configs",
            set: columns(of: config, sealedSIPPassword: sealedSIPPassword) + [
                ("number_sid", numberSID), ("update_time", now), ("revision", revision + 1),
            ],
            where: "phone_config_id = \(current.id) AND revision = \(revision)")
        guard changed == 1 else { return false }
        if numberChanged { try await giveUpNumber(of: current, reason: .numberChanged, after: now.addingTimeInterval(NumberReleaseRecords.grace), tx, now: now) }
        return true
    }

    /// Deletes the config if the row is still at `current`'s revision; false otherwise. A number
    /// the platform bought for it is released after ``NumberReleaseRecords/grace``.
    static func delete(_ current: StoredPhoneConfig, _ tx: TenantTransaction, now: Date = Date()) async throws -> Bool {
        let revision = Etag.revision(current.config.etag) ?? 0
        guard try await tx.delete(from: "phone_configs", where: "phone_config_id = \(current.id) AND revision = \(revision)") == 1 else {
            return false
        }
        try await giveUpNumber(of: current, reason: .phoneConfigDeleted, after: now.addingTimeInterval(NumberReleaseRecords.grace), tx, now: now)
        return true
    }

    /// Queues the release, due `after`, of every number the platform bought for the tenant's
    /// configs, before the tenant goes or its data is purged.
    static func giveUpNumbers(reason: NumberReleaseReason, after: Date, _ tx: TenantTransaction, now: Date = Date()) async throws {
        for config in try await tx.select(from: "phone_configs", where: "number_sid IS NOT NULL").map(stored(from:)) {
            try await giveUpNumber(of: config, reason: reason, after: after, tx, now: now)
        }
    }

    private static func giveUpNumber(
        of config: StoredPhoneConfig, reason: NumberReleaseReason, after: Date, _ tx: TenantTransaction, now: Date
    ) async throws {
        guard let sid = config.numberSID else { return }
        try await NumberReleaseRecords.enqueue(numberSID: sid, phoneNumber: config.config.phoneNumber, reason: reason, after: after, tx, now: now)
    }

    /// Adds the root's main line unless it exists.
    static func ensureRootLine(_ tx: TenantTransaction) async throws {
        guard try await find(id: rootLineID, tx) == nil else { return }
        try await insert(rootLine, id: rootLineID, sealedSIPPassword: nil, tx)
    }

    /// Every config the transaction can see: all tenants' in platform scope. For inbound routing.
    static func all(_ tx: any SQLTransaction) async throws -> [StoredPhoneConfig] {
        var statement: SQLStatement = "SELECT * FROM phone_configs"
        if case .tenant(let tenantID) = tx.scope { statement = statement + " WHERE tenant_id = \(tenantID)" }
        return try await tx.query(statement + " ORDER BY tenant_id, phone_config_id").map(stored(from:))
    }

    // MARK: Listing

    /// By tenant, then number (configs without one first), then id.
    static let listOrder = ListOrder(
        keys: [
            ListOrder.Key(column: "tenant_id", direction: .alphabetical),
            ListOrder.Key(column: "phone_number", direction: .alphabeticalUnsetFirst),
        ],
        idColumn: "phone_config_id")

    // MARK: Uniqueness

    /// The fields no two configs may share, across all tenants.
    enum UniqueField: CaseIterable {
        case phoneNumber, messagingServiceSid

        var column: String {
            switch self {
            case .phoneNumber: return "phone_number"
            case .messagingServiceSid: return "messaging_service_sid"
            }
        }

        var index: String {
            switch self {
            case .phoneNumber: return "phone_configs_by_number"
            case .messagingServiceSid: return "phone_configs_by_messaging_service"
            }
        }

        func value(in config: PhoneConfig) -> String {
            switch self {
            case .phoneNumber: return config.phoneNumber
            case .messagingServiceSid: return config.messagingServiceSid
            }
        }

        /// ALREADY_EXISTS naming the request field under `parent` (`phone_config`, or
        /// `telephony` in a concierge create), with the reason `<column>_in_use` that every
        /// unique field of the platform gives. It never says which tenant holds `value`.
        func alreadyExists(_ value: String, under parent: String = "phone_config") -> ServiceError {
            ServiceError.alreadyExists(
                reason: "\(column)_in_use", field: "\(parent).\(column)",
                message: "\(value) is already used by another phone config")
        }
    }

    // MARK: Forward numbers

    /// A forward number must reach a person. The line's own number would ring the line itself,
    /// over and over; any other number the platform answers would put the caller into that
    /// line's own menu. So a forward number is no line's number, and a line's number is no
    /// line's forward number, whichever is set first. `config` holds what the request sets, for
    /// the line `updating` if it exists already; `fields` name its number and forward number;
    /// `tx` sees every tenant.
    static func checkForwarding(
        _ config: PhoneConfig, updating line: (tenantID: String, id: String)? = nil, fields: (number: String, forward: String),
        _ tx: any SQLTransaction
    ) async throws {
        try checkNotForwardedToItself(config, fields: fields)
        if !config.forwardNumber.isEmpty,
           try await tx.first("SELECT 1 AS line FROM phone_configs WHERE phone_number = \(config.forwardNumber) LIMIT 1") != nil {
            throw ServiceError.invalidArgument(
                field: fields.forward, "must reach a person, not a number the platform answers, whose calls go to that line's own flow: give the phone of whoever answers, e.g. the owner's mobile")
        }
        if !config.phoneNumber.isEmpty,
           try await tx.first("""
               SELECT 1 AS line FROM phone_configs WHERE forward_number = \(config.phoneNumber)
               AND NOT (tenant_id = \(line?.tenantID ?? "") AND phone_config_id = \(line?.id ?? "")) LIMIT 1
               """) != nil {
            throw ServiceError.invalidArgument(
                field: fields.number, "is the number another line forwards its callers to, which would put them into this line's menu: change that line's forward number first, or use another number")
        }
    }

    /// The line's own number as its forward number would ring the line itself, over and over.
    /// The refusal names the field the request changes: the forward number, or (`changingNumber`)
    /// the line's number, moved onto its own forward number.
    static func checkNotForwardedToItself(_ config: PhoneConfig, fields: (number: String, forward: String), changingNumber: Bool = false) throws {
        guard !config.forwardNumber.isEmpty, config.forwardNumber == config.phoneNumber else { return }
        if changingNumber {
            throw ServiceError.invalidArgument(field: fields.number, "is this line's forward number, so its callers would ring the line itself: change the forward number first, or use another number")
        }
        throw ServiceError.invalidArgument(field: fields.forward, "must be a phone outside this line, not its own number, which would ring itself: give the phone of whoever answers, e.g. the owner's mobile")
    }

    /// The first of `config`'s unique fields that a row matching `others` already holds.
    static func taken(_ config: PhoneConfig, among others: SQLStatement, _ tx: any SQLTransaction) async throws -> UniqueField? {
        for field in UniqueField.allCases {
            let value = field.value(in: config)
            guard !value.isEmpty else { continue }
            let holder = try await tx.first("""
                SELECT 1 AS taken FROM phone_configs WHERE \(raw: field.column) = \(value) AND (\(others)) LIMIT 1
                """)
            if holder != nil { return field }
        }
        return nil
    }

    // MARK: Rows

    private static func columns(of config: PhoneConfig, sealedSIPPassword: Data?) throws -> [(String, any SQLValueConvertible)] {
        var menu: Data?
        if config.hasIvrMenu { menu = try config.ivrMenu.serializedBytes() }
        var autoReply: Data?
        if config.hasAutoReply { autoReply = try config.autoReply.serializedBytes() }
        var alerts: Data?
        if config.hasBusinessAlerts { alerts = try config.businessAlerts.serializedBytes() }
        return [
            ("display_name", config.displayName),
            ("phone_number", config.phoneNumber.nilIfEmpty),
            ("messaging_service_sid", config.messagingServiceSid.nilIfEmpty),
            ("sip_domain", config.sipDomain.nilIfEmpty),
            ("sip_username", config.sipUsername.nilIfEmpty),
            ("sip_password_sealed", sealedSIPPassword),
            ("ivr_mode", config.ivrMode.storedName),
            ("forward_number", config.forwardNumber.nilIfEmpty),
            ("ivr_menu", menu),
            ("auto_reply", autoReply),
            ("business_alerts", alerts),
        ]
    }

    static func stored(from row: SQLRow) throws -> StoredPhoneConfig {
        let tenantID = try row.string("tenant_id")
        let id = try row.string("phone_config_id")
        let sealed = try row.optionalData("sip_password_sealed")
        let numberSID = try row.optionalString("number_sid")
        let config = try PhoneConfig.with {
            $0.name = name(tenantID: tenantID, id: id)
            $0.displayName = try row.string("display_name")
            $0.phoneNumber = try row.optionalString("phone_number") ?? ""
            $0.messagingServiceSid = try row.optionalString("messaging_service_sid") ?? ""
            $0.sipDomain = try row.optionalString("sip_domain") ?? ""
            $0.sipUsername = try row.optionalString("sip_username") ?? ""
            $0.sipPasswordSet = sealed != nil
            $0.ivrMode = IvrMode(storedName: try row.string("ivr_mode"))
            $0.forwardNumber = try row.optionalString("forward_number") ?? ""
            if let menu = try row.optionalData("ivr_menu") {
                $0.ivrMenu = try IvrMenu(serializedBytes: menu)
            }
            if let autoReply = try row.optionalData("auto_reply") {
                $0.autoReply = try AutoReply(serializedBytes: autoReply)
            }
            if let alerts = try row.optionalData("business_alerts") {
                $0.businessAlerts = try BusinessAlerts(serializedBytes: alerts)
            }
            $0.ivrModeLabel = $0.ivrMode.label
            $0.betaBadge = $0.ivrMode.isBeta
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
            $0.etag = Etag.make(revision: try row.int("revision"))
            $0.platformManagedNumber = numberSID != nil
        }
        return StoredPhoneConfig(tenantID: tenantID, id: id, config: config, sealedSIPPassword: sealed, numberSID: numberSID)
    }
}

extension IvrMode {
    var storedName: String {
        switch self {
        case .ivr: return "ivr"
        case .aiVoice: return "ai_voice"
        case .simple, .unspecified, .UNRECOGNIZED: return "simple"
        }
    }

    init(storedName: String) {
        switch storedName {
        case "ivr": self = .ivr
        case "ai_voice": self = .aiVoice
        default: self = .simple
        }
    }

    /// As admin lists show it (plan 5.3).
    var label: String {
        switch self {
        case .ivr: return "IVR"
        case .aiVoice: return "AI Voice (Beta)"
        case .simple, .unspecified, .UNRECOGNIZED: return "Simple"
        }
    }

    var isBeta: Bool { self == .aiVoice }

    /// The plan feature a number needs to answer in this mode.
    var requiredFeature: Feature? {
        switch self {
        case .ivr: return .ivr
        case .aiVoice: return .aiVoice
        case .simple, .unspecified, .UNRECOGNIZED: return nil
        }
    }
}

extension IvrMenu {
    /// The menu an IVR number plays when none is configured (plan 5.2): 1 services and prices,
    /// 2 a booking link by text (with no text of its own: the tenant's link, or an invitation to
    /// reply while it has none), 3 speak to someone, 7 leave a voicemail.
    static let standard = IvrMenu.with {
        $0.greeting = "Thanks for calling {{business_name}}! We're glad you reached us."
        $0.options = [
            .with {
                $0.digit = "1"
                $0.action = .servicesAndPrices
                $0.prompt = "For our services and prices, press 1."
            },
            .with {
                $0.digit = "2"
                $0.action = .bookingLinkSms
                $0.prompt = "To book by text message, press 2."
            },
            .with {
                $0.digit = "3"
                $0.action = .speakToSomeone
                $0.prompt = "To speak to someone, press 3."
            },
            .with {
                $0.digit = "7"
                $0.action = .voicemail
                $0.prompt = "To leave a voicemail, press 7."
            },
        ]
    }
}
