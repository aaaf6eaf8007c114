extension String {
    /// The string with its control characters and line separators escaped (`\n`, `\u{1B}`,
    /// `\u{2028}`), so that it stays on its line of a log or a table whoever wrote it, and cannot
    /// reach a terminal as an escape sequence. Most text has none and is returned as it is.
    ///
    /// ```swift
    /// "Hi\nfake row".escapedToOneLine  // #"Hi\nfake row"#
    /// ```
    public var escapedToOneLine: String {
        // C0 controls and DEL; 0xC2 leads C1 controls (U+0080–U+009F), 0xE2 U+2028 and U+2029.
        guard utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) else { return self }
        var escaped = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                escaped += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
