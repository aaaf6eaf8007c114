/// Resource names of the form `tenants/{tenant}/...`.
public enum ResourceName {
    /// The tenant id a resource name belongs to, or nil when it is not under `tenants/` or names
    /// no tenant there could be (`tenants/ACME`, 64 characters, a space): such a name is bad
    /// input, not a tenant that happens to be missing.
    public static func tenantID(of name: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0] == "tenants", parts[1] == allTenants || isID(parts[1]) else { return nil }
        return String(parts[1])
    }

    /// Whether `id` is an id as the platform gives and takes them, a tenant's or any resource's
    /// under it: 1 to 63 lowercase letters, digits and dashes, not starting with a dash
    /// (`[a-z0-9][a-z0-9-]{0,62}`, checked byte by byte, as it is on every call's name).
    public static func isID(_ id: Substring) -> Bool {
        let bytes = id.utf8
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }
    }

    /// The id after `collection` in `name`: `id(of: "tenants/a/apiKeys/k", after: "apiKeys")` is "k".
    ///
    /// Names alternate collection and id, so only the collection positions (0, 2, ...) are
    /// searched: in `tenants/exports/exports/x` the tenant `exports` is an id, not the collection.
    public static func id(of name: String, after collection: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = stride(from: 0, to: parts.count - 1, by: 2).first(where: { parts[$0] == collection }),
              !parts[index + 1].isEmpty
        else { return nil }
        return String(parts[index + 1])
    }

    /// The id in `name` when it is `tenants/{tenantID}/{collection}/{id}`; nil for any other
    /// name, including one of another tenant's resources.
    public static func id(in name: String, tenantID: String, collection: String) -> String? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "tenants", parts[1] == tenantID, parts[2] == collection, isID(parts[3]) else {
            return nil
        }
        return String(parts[3])
    }

    public static func tenant(_ tenantID: String) -> String { "tenants/\(tenantID)" }

    /// The AIP wildcard parent, `tenants/-`: every tenant (platform roles only).
    public static let allTenants = "-"
}
