import RPCRuntime

/// A value no two resources of one tenant may share, such as a customer's phone number or an
/// invoice's number: a column with a unique index on `(tenant_id, column)`. Empty values are
/// stored as NULL, which unique indexes ignore, so they never clash.
struct TenantUniqueKey: Sendable {
    let collection: ResourceCollection
    /// The field's path in the resource, as update masks name it, e.g. `phone_number`.
    let path: String
    let column: String
    let index: String

    /// The request field ALREADY_EXISTS names, e.g. `customer.phone_number`.
    var field: String { "\(collection.noun).\(path)" }
    var reason: String { "\(path)_in_use" }

    /// ALREADY_EXISTS for `value`, naming the tenant's resource that holds it when known
    /// (metadata `resource`), so a client can link to it rather than make another.
    func alreadyExists(_ value: String, heldBy holder: String? = nil) -> ServiceError {
        guard let holder else {
            return ServiceError.alreadyExists(reason: reason, field: field, message: "\(value) is already used by another \(collection.noun)")
        }
        return ServiceError.alreadyExists(reason: reason, field: field, message: "\(value) is already used by \(holder)", metadata: ["resource": holder])
    }

    /// The name of the tenant's resource other than `id` that holds `value`, if one does.
    func holder(of value: String, otherThan id: String, _ tx: TenantTransaction) async throws -> String? {
        guard !value.isEmpty else { return nil }
        let holders = try await tx.select(
            "\(collection.idColumn) AS holder", from: collection.table,
            where: "\(raw: column) = \(value) AND \(raw: collection.idColumn) <> \(id)", limit: 1)
        return try holders.first.map { collection.name(tenantID: tx.tenantID, id: try $0.string("holder")) }
    }

    /// Whether a refused write broke this key's index.
    func isViolated(by violation: UniqueViolation) -> Bool {
        violation.isOn(index: index, columns: ["tenant_id", column])
    }

    /// One value a write sets for a key.
    struct Value: Sendable {
        let key: TenantUniqueKey
        let value: String
    }

    /// ALREADY_EXISTS for the first value another of the tenant's resources than `id` holds. Run
    /// inside the writing transaction, after the idempotency record, so a retried create still
    /// gets its first result.
    static func check(_ values: [Value], excluding id: String, _ tx: TenantTransaction) async throws {
        for value in values {
            if let holder = try await value.key.holder(of: value.value, otherThan: id, tx) {
                throw value.key.alreadyExists(value.value, heldBy: holder)
            }
        }
    }
}

extension ResourceCollection {
    /// Runs `body`, a transaction writing resource `id`. A concurrent writer can take a value
    /// between the checks and the write; the unique index then refuses the write, and the caller
    /// gets the same ALREADY_EXISTS as from the checks.
    func reportingDuplicates<Result>(
        of values: [TenantUniqueKey.Value], tenantID: String, id: String, _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            return try await body()
        } catch {
            guard let violation = UniqueViolation(error) else { throw error }
            if let value = values.first(where: { $0.key.isViolated(by: violation) }) {
                throw value.key.alreadyExists(value.value)
            }
            if violation.isOn(index: "\(table)_pkey", columns: ["tenant_id", idColumn]) {
                throw alreadyExists(tenantID: tenantID, id: id)
            }
            throw error
        }
    }
}
