import RPCRuntime

/// One kind of tenant-owned resource, named `tenants/{tenant}/{segment}/{id}`, and the table that
/// holds it, keyed by `(tenant_id, idColumn)`:
/// ```swift
/// let id = CustomerRecords.collection.id(in: "tenants/acme/customers/jane", tenantID: "acme")  // "jane"
/// ```
struct ResourceCollection: Sendable {
    /// The collection's segment in resource names, e.g. `customers`.
    let segment: String
    let table: String
    let idColumn: String
    /// One resource, as messages call it, e.g. "customer"; also the prefix of its request's id
    /// field (`customer_id`).
    let noun: String

    /// The id a create gets when the request leaves it to the server.
    static func newID() -> String { Tokens.id(bytes: 10) }

    func name(tenantID: String, id: String) -> String { "tenants/\(tenantID)/\(segment)/\(id)" }

    /// The id in `name` when it names a resource of this collection under `tenantID`; nil for any
    /// other name, including one of another tenant's resources.
    func id(in name: String, tenantID: String) -> String? {
        ResourceName.id(in: name, tenantID: tenantID, collection: segment)
    }

    /// The id in `name`, the resource an update names, or INVALID_ARGUMENT naming `field`.
    func requireID(in name: String, tenantID: String, field: String) throws -> String {
        guard let id = self.id(in: name, tenantID: tenantID) else {
            throw ServiceError.invalidArgument(field: field, "must be tenants/{tenant}/\(segment)/{\(noun)}")
        }
        return id
    }

    /// The id of the tenant's resource that `reference` names (a field pointing at another
    /// resource, like an appointment's customer), or INVALID_ARGUMENT naming `field`. Another
    /// tenant's resource gets the same answer as a missing one, and is never looked up.
    func referencedID(_ reference: String, field: String, _ tx: TenantTransaction) async throws -> String {
        let article = noun.first.map { "aeiou".contains($0) } == true ? "an" : "a"
        let notOurs = ServiceError.invalidArgument(field: field, "\(reference) is not \(article) \(noun) of tenants/\(tx.tenantID)")
        guard let id = self.id(in: reference, tenantID: tx.tenantID) else { throw notOurs }
        // Shared until the referring write commits: a delete of the resource waits for it, then
        // finds the reference (`lockForDelete`).
        let found = try await tx.base.query(
            "SELECT 1 AS found FROM \(raw: table) WHERE tenant_id = \(tx.tenantID) AND \(raw: idColumn) = \(id)" + SQLStatement(sql: tx.base.dialect.forShare))
        guard !found.isEmpty else { throw notOurs }
        return id
    }

    /// The id a listing's `field` filters by: nil when the filter is unset, INVALID_ARGUMENT when it
    /// names anything but one of the tenant's resources.
    func filterID(_ reference: String, field: String, tenantID: String) throws -> String? {
        guard !reference.isEmpty else { return nil }
        guard let id = self.id(in: reference, tenantID: tenantID) else {
            throw ServiceError.invalidArgument(field: field, "must be a \(noun) of tenants/\(tenantID)")
        }
        return id
    }

    /// Takes resource `id` for a delete, before the delete looks for what refers to it: a write
    /// making a reference to it (``referencedID(_:field:_:)``) either committed before, and is
    /// found, or waits and then finds it gone.
    func lockForDelete(id: String, _ tx: TenantTransaction) async throws {
        _ = try await tx.base.query(
            "SELECT 1 AS taken FROM \(raw: table) WHERE tenant_id = \(tx.tenantID) AND \(raw: idColumn) = \(id)" + SQLStatement(sql: tx.base.dialect.forUpdate))
    }

    /// Deletes resource `id` if it is still at `revision`; false when another writer changed or
    /// deleted it first.
    func delete(id: String, revision: Int64, _ tx: TenantTransaction) async throws -> Bool {
        try await tx.delete(from: table, where: "\(raw: idColumn) = \(id) AND revision = \(revision)") == 1
    }

    /// ALREADY_EXISTS for a create whose id is taken, naming the request's id field.
    func alreadyExists(tenantID: String, id: String) -> ServiceError {
        ServiceError.alreadyExists(
            reason: "\(noun)_exists", field: "\(noun)_id", message: "\(name(tenantID: tenantID, id: id)) already exists")
    }
}
