import Foundation

/// A compiled full-match pattern from a field rule. Generated code keeps one per field.
public final class FieldPattern: Sendable {
    public let source: String
    private let regex: NSRegularExpression

    /// Patterns come from the protos, and the generator refuses one that does not compile, so a
    /// bad one here is a programming error.
    public init(_ source: String) {
        self.source = source
        do {
            // \A and \z, not ^ and $: `$` also matches before a final line break, which would let
            // "SM…\n" pass for a MessageSid.
            self.regex = try NSRegularExpression(pattern: "\\A(?:\(source))\\z")
        } catch {
            preconditionFailure("invalid field pattern \(source): \(error)")
        }
    }

    public func matches(_ value: String) -> Bool {
        regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}
