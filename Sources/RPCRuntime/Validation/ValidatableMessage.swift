import SwiftProtobuf

/// A message whose field rules (`(servicepro.options.v1.rules)`) the generator turned into code.
public protocol ValidatableMessage: SwiftProtobuf.Message {
    /// Appends a violation for every broken rule; `path` prefixes field names of nested messages.
    func validate(path: String, into violations: inout [FieldViolation])

    /// Applies the normalizing rules (`trim`) before validation.
    mutating func normalize()
}

extension ValidatableMessage {
    public var fieldViolations: [FieldViolation] {
        var violations: [FieldViolation] = []
        validate(path: "", into: &violations)
        return violations
    }
}
