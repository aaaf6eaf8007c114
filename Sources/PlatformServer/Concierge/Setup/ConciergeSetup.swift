import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// A concierge create's five steps checked and turned into what will be written. The runtime has
/// already applied the field rules; this adds the rules that span fields or need the catalogue.
struct ConciergeSetup: Sendable {
    /// The id of the phone config a create makes.
    static let phoneConfigID = "main"

    var tenantID: String
    var tenant: Tenant
    var tier: PlanCatalog.Tier
    var pack: IndustryPack
    var telephonyMode: TelephonySetupMode
    var phoneConfig: PhoneConfig?
    var areaCode: String?
    var countryCode: String

    init(_ request: CreateConciergeTenantRequest, catalog: IndustryPackCatalog) throws {
        let basics = request.basics
        guard let tier = PlanCatalog.Tier(rawValue: request.plan.tier.storedName), request.plan.tier != .unspecified else {
            throw ServiceError.invalidArgument(field: "plan.tier", "must be starter, pro or elite")
        }
        let packID = String(request.plan.industryPack.dropFirst("industryPacks/".count))
        guard let pack = catalog.pack(id: packID) else {
            throw ServiceError.invalidArgument(
                field: "plan.industry_pack",
                "\(request.plan.industryPack) is not an industry pack; use one of \(catalog.all.map(\.name).joined(separator: ", "))")
        }
        let telephony = request.telephony
        switch telephony.mode {
        case .useExistingNumber, .provisionNumber, .noNumber:
            try Self.checkFieldsBelong(to: telephony)
        default:
            throw ServiceError.invalidArgument(field: "telephony.mode", "must be use-existing-number, provision-number or no-number")
        }
        if telephony.mode == .useExistingNumber, telephony.phoneNumber.isEmpty {
            throw ServiceError.invalidArgument(field: "telephony.phone_number", "is required to use an existing number")
        }
        let ivrMode = telephony.ivrMode == .unspecified ? IvrMode.simple : telephony.ivrMode
        if let feature = ivrMode.requiredFeature {
            try PlanCatalog.require(feature, in: tier)
        }

        self.tenantID = basics.slug
        self.tier = tier
        self.pack = pack
        self.telephonyMode = telephony.mode
        self.areaCode = telephony.areaCode.isEmpty ? nil : telephony.areaCode
        self.countryCode = telephony.countryCode.isEmpty ? "US" : telephony.countryCode
        self.tenant = Tenant.with {
            $0.name = ResourceName.tenant(basics.slug)
            $0.slug = basics.slug
            $0.displayName = basics.displayName
            $0.industry = packID
            $0.city = basics.city
            $0.contact = .with {
                $0.personName = basics.contactName
                $0.email = basics.contactEmail
                $0.phone = basics.contactPhone
            }
            $0.planTier = request.plan.tier
            $0.status = .trialing
            $0.trialEndTime = Google_Protobuf_Timestamp(date: PlanOffers.trialEnd(from: Date()))
            $0.branding = .with {
                $0.logoURL = request.extras.logoURL
                $0.primaryColor = request.extras.primaryColor
                $0.accentColor = request.extras.accentColor
            }
            $0.bookingURL = request.extras.bookingURL
            $0.timeZone = basics.timeZone
            $0.internalNotes = basics.internalNotes
        }
        try TimeZoneName.check(tenant.timeZone, field: "basics.time_zone")
        guard !tenant.displayName.isEmpty else {
            throw ServiceError.invalidArgument(field: "basics.display_name", "must not be blank")
        }
        if telephony.mode != .noNumber {
            let packMenu = pack.hasIvrMenu ? pack.ivrMenu : nil
            self.phoneConfig = PhoneConfig.with {
                $0.displayName = "Main line"
                $0.phoneNumber = telephony.phoneNumber
                $0.messagingServiceSid = telephony.messagingServiceSid
                $0.ivrMode = ivrMode
                $0.forwardNumber = telephony.forwardNumber
                if let packMenu { $0.ivrMenu = packMenu }
            }
        }
    }

    /// Each telephony field is for some modes only (ConciergeTelephony says which). Given with
    /// another mode it would be dropped, or worse applied where the operator did not mean it (a
    /// messaging service on a bought number would send its texts from the service's pool), so it
    /// is refused, naming the modes it is for.
    private static func checkFieldsBelong(to telephony: ConciergeTelephony) throws {
        let existing = "TELEPHONY_SETUP_MODE_USE_EXISTING_NUMBER"
        let provision = "TELEPHONY_SETUP_MODE_PROVISION_NUMBER"
        let withLine = "\(existing) and \(provision); TELEPHONY_SETUP_MODE_NO_NUMBER sets up no line"
        let fields: [(name: String, isSet: Bool, modes: [TelephonySetupMode], modeNames: String)] = [
            ("phone_number", !telephony.phoneNumber.isEmpty, [.useExistingNumber], existing),
            ("messaging_service_sid", !telephony.messagingServiceSid.isEmpty, [.useExistingNumber], existing),
            ("area_code", !telephony.areaCode.isEmpty, [.provisionNumber], provision),
            ("country_code", !telephony.countryCode.isEmpty, [.provisionNumber], provision),
            ("ivr_mode", telephony.ivrMode != .unspecified, [.useExistingNumber, .provisionNumber], withLine),
            ("forward_number", !telephony.forwardNumber.isEmpty, [.useExistingNumber, .provisionNumber], withLine),
        ]
        let misplaced = fields.filter { $0.isSet && !$0.modes.contains(telephony.mode) }
        guard misplaced.isEmpty else {
            throw ServiceError.invalidArgument(misplaced.map { FieldViolation(field: "telephony.\($0.name)", description: "is only for \($0.modeNames)") })
        }
    }

    /// A slug or number taken by a concurrent create: the unique indexes refuse the write, and the
    /// caller gets the same ALREADY_EXISTS as from the checks before it. `phoneNumber` is the
    /// number the create bought, if it bought one.
    func reportingDuplicates(_ error: any Error, phoneNumber: String?) -> any Error {
        guard let violation = UniqueViolation(error) else { return error }
        if TenantRecords.isIDTaken(error) {
            return ServiceError.alreadyExists(reason: "tenant_exists", field: "basics.slug", message: "the slug is already taken")
        }
        for field in PhoneConfigRecords.UniqueField.allCases where violation.isOn(index: field.index, columns: [field.column]) {
            var written = phoneConfig ?? PhoneConfig()
            if let phoneNumber { written.phoneNumber = phoneNumber }
            return field.alreadyExists(field.value(in: written), under: "telephony")
        }
        return error
    }
}

/// What the operator usually does after a concierge create, with the spctl command for each,
/// ready to run as printed.
enum ConciergeNextActions {
    /// The actions after `tenant` was made by an operator who `canImpersonate` (only the platform
    /// owner may).
    static func after(tenantID: String, tenant: Tenant, canImpersonate: Bool) -> [ConciergeNextAction] {
        var actions: [ConciergeNextAction] = []
        if tenant.timeZone.isEmpty {
            actions.append(.with {
                $0.kind = .setTimeZone
                $0.label = "Set where \(tenant.displayName) works: its automated texts wait for a time zone"
                $0.command = "spctl tenants update --tenant.name tenants/\(tenantID) --tenant.time-zone <IANA zone, e.g. America/Chicago> --update-mask time_zone"
            })
        }
        if canImpersonate {
            actions.append(.with {
                $0.kind = .impersonate
                $0.label = "See \(tenant.displayName) as its admin does"
                $0.command = "spctl impersonate \(tenantID) --reason \"concierge setup\""
            })
        }
        actions.append(onboarding(tenantID: tenantID, contact: tenant.contact))
        actions.append(.with {
            $0.kind = .copyLoginLink
            $0.label = "Make a login link to hand over yourself"
            $0.command = "spctl login-links create --parent tenants/\(tenantID) --role tenant-admin"
        })
        return actions
    }

    /// By the channels the tenant's contact can be reached on; with none on file, by email to an
    /// address the operator fills in.
    private static func onboarding(tenantID: String, contact: Contact) -> ConciergeNextAction {
        let channels = [(contact.email, "email"), (contact.phone, "sms")].filter { !$0.0.isEmpty }.map(\.1)
        let command = "spctl concierge send-onboarding --name tenants/\(tenantID)"
        return .with {
            $0.kind = .sendOnboarding
            if channels.isEmpty {
                $0.label = "Send the onboarding email, with a login link, to the address you give (no contact is on file)"
                $0.command = command + " --channels email --email <address> --include-login-link true"
            } else {
                $0.label = "Send the onboarding \(channels.map { $0 == "sms" ? "text" : "email" }.joined(separator: " and ")), with a login link"
                $0.command = command + channels.map { " --channels \($0)" }.joined() + " --include-login-link true"
            }
        }
    }
}
