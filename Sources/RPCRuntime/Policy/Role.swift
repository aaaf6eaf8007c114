/// Who a caller is. Platform roles act across tenants; tenant roles act within their own tenant.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    case platformOwner = "platform_owner"
    case platformStaff = "platform_staff"
    case tenantAdmin = "tenant_admin"
    case tenantMember = "tenant_member"
    case partner = "partner"
    case telephonyBridge = "telephony_bridge"

    /// Platform roles are not bound to one tenant.
    public var isPlatform: Bool {
        switch self {
        case .platformOwner, .platformStaff, .telephonyBridge: return true
        case .tenantAdmin, .tenantMember, .partner: return false
        }
    }
}
