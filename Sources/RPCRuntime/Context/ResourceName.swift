/// Resource names of the form `tenants/{tenant}/...`.
public enum ResourceName {
    /// The tenant id a resource name belongs to, or nil when it is not under `tenants/`.
    public static func tenantID(of name: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "tenants", !parts[1].isEmpty else { return nil }
        return String(parts[1])
    }

    /// The id after `collection` in `name`: `id(of: "tenants/a/apiKeys/k", after: "apiKeys")` is "k".
    public static func id(of name: String, after collection: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = parts.firstIndex(where: { $0 == collection }), index + 1 < parts.count,
              !parts[index + 1].isEmpty
        else { return nil }
        return String(parts[index + 1])
    }

    public static func tenant(_ tenantID: String) -> String { "tenants/\(tenantID)" }

    /// The AIP wildcard parent, `tenants/-`: every tenant (platform roles only).
    public static let allTenants = "-"
}
