/// One problem with one request field, named by its path (`tenant.contact.phone`).
public struct FieldViolation: Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var description: String

    public init(field: String, description: String) {
        self.field = field
        self.description = description
    }

    /// How many problems a request's checks collect before they stop looking at further elements
    /// of its lists. Far more than an error shows (`ServiceError.maxViolationBytes`), far fewer
    /// than a request of millions of bad elements would otherwise make.
    public static let collectedLimit = 100
}
