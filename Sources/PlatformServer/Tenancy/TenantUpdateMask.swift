import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// The fields an UpdateTenant may change, checked against who is asking.
struct TenantUpdateMask {
    /// Changeable by anyone allowed to update the tenant.
    static let tenantFields: Set<String> = [
        "display_name", "industry", "city",
        "contact", "contact.person_name", "contact.email", "contact.phone",
        "branding", "branding.logo_url", "branding.primary_color", "branding.accent_color",
        "booking_url", "time_zone", "review_url",
    ]
    /// Only platform staff: notes about the tenant.
    static let staffFields: Set<String> = ["internal_notes"]
    /// Billing's: changed through BillingService, which checks transitions and talks to Stripe.
    static let billingFields: [String: String] = [
        "plan_tier": "ChangePlan (spctl billing change-plan)",
        "status": "SetTenantStatus (spctl billing set-status)",
        "trial_end_time": "SetTenantStatus (spctl billing set-status)",
    ]

    let paths: [String]

    init(_ mask: Google_Protobuf_FieldMask, principal: Principal) throws {
        guard !mask.paths.isEmpty else {
            throw ServiceError.invalidArgument(field: "update_mask", "must name at least one field")
        }
        for path in mask.paths {
            if let method = Self.billingFields[path] {
                throw ServiceError.invalidArgument(field: "update_mask", "\(path) is billing's; change it with BillingService.\(method)")
            }
            if Self.staffFields.contains(path) {
                guard principal.role.isPlatform else {
                    throw ServiceError.permissionDenied(reason: "field_not_updatable", message: "only platform staff may change \(path)")
                }
            } else if !Self.tenantFields.contains(path) {
                throw ServiceError.invalidArgument(field: "update_mask", "\"\(path)\" is not an updatable field; use one of \((Self.tenantFields.union(Self.staffFields)).sorted().joined(separator: ", "))")
            }
        }
        self.paths = mask.paths
    }

    func apply(from source: Tenant, to target: inout Tenant) {
        for path in paths {
            switch path {
            case "display_name": target.displayName = source.displayName
            case "industry": target.industry = source.industry
            case "city": target.city = source.city
            case "contact": target.contact = source.contact
            case "contact.person_name": target.contact.personName = source.contact.personName
            case "contact.email": target.contact.email = source.contact.email
            case "contact.phone": target.contact.phone = source.contact.phone
            case "branding": target.branding = source.branding
            case "branding.logo_url": target.branding.logoURL = source.branding.logoURL
            case "branding.primary_color": target.branding.primaryColor = source.branding.primaryColor
            case "branding.accent_color": target.branding.accentColor = source.branding.accentColor
            case "booking_url": target.bookingURL = source.bookingURL
            case "time_zone": target.timeZone = source.timeZone
            case "review_url": target.reviewURL = source.reviewURL
            case "internal_notes": target.internalNotes = source.internalNotes
            default: break
            }
        }
    }
}
