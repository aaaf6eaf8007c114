/// One problem with one request field, named by its path (`tenant.contact.phone`).
public struct FieldViolation: Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var description: String

    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }
}
