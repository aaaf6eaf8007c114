import Foundation

/// Builds indented Swift source line by line.
struct SwiftSource {
    private(set) var text = ""
    private var depth = 0

    mutating func line(_ content: String = "") {
        text += content.isEmpty ? "\n" : String(repeating: "    ", count: depth) + content + "\n"
    }

    /// A doc comment, one `///` line per line of text; nothing when the text is empty.
    mutating func doc(_ comment: String) {
        let trimmed = comment.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return }
        for commentLine in trimmed.split(separator: "\n", omittingEmptySubsequences: false) {
            let content = commentLine.trimmingCharacters(in: .whitespaces)
            line(content.isEmpty ? "///" : "/// " + content)
        }
    }

    /// `opening {`, the body one level deeper, then `}`. An opening that already ends in a
    /// closure's `in` or `{` gets no extra brace.
    mutating func block(_ opening: String, closing: String = "}", _ body: (inout SwiftSource) throws -> Void) rethrows {
        line(opening.hasSuffix(" in") || opening.hasSuffix("{") ? opening : opening + " {")
        depth += 1
        try body(&self)
        depth -= 1
        line(closing)
    }
}
