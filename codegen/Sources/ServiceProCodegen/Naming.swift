import Foundation

/// Word-level name transformations shared by the emitters.
enum Naming {
    /// "ApiKeys" → ["Api", "Keys"]; "WhoAmI" → ["Who", "Am", "I"].
    static func camelWords(_ name: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in name {
            if character.isUppercase, !current.isEmpty {
                words.append(current)
                current = ""
            }
            current.append(character)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// "ApiKeys" → "api-keys".
    static func kebab(_ words: [String]) -> String {
        words.map { $0.lowercased() }.joined(separator: "-")
    }

    /// "display_name" → "display-name".
    static func kebab(snake: String) -> String {
        snake.replacingOccurrences(of: "_", with: "-")
    }

    /// "display_name" → "displayName".
    static func lowerCamel(snake: String) -> String {
        let parts = snake.split(separator: "_").map(String.init)
        guard let first = parts.first else { return snake }
        return first + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// "GetTenant" → "getTenant".
    static func lowerFirst(_ name: String) -> String {
        name.prefix(1).lowercased() + name.dropFirst()
    }

    /// "tenants" → "Tenants"; "api-keys" → "ApiKeys".
    static func upperCamel(kebab: String) -> String {
        kebab.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// English plural of the last word: Tenant → Tenants, Entry → Entries, Status → Statuses.
    static func pluralize(_ word: String) -> String {
        let lower = word.lowercased()
        if lower.hasSuffix("s") || lower.hasSuffix("x") || lower.hasSuffix("ch") || lower.hasSuffix("sh") {
            return lower.hasSuffix("ss") || lower.hasSuffix("us") || !lower.hasSuffix("s") ? word + "es" : word
        }
        if lower.hasSuffix("y"), let beforeY = lower.dropLast().last, !"aeiou".contains(beforeY) {
            return word.dropLast() + "ies"
        }
        return word + "s"
    }

    /// The enum value's name without the enum's prefix, lowercased: TENANT_STATUS_ACTIVE → "active".
    static func shortEnumValueName(_ valueName: String, enumName: String) -> String {
        let prefix = screamingSnake(enumName) + "_"
        let short = valueName.hasPrefix(prefix) ? String(valueName.dropFirst(prefix.count)) : valueName
        return short.lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// "TenantStatus" → "TENANT_STATUS".
    static func screamingSnake(_ name: String) -> String {
        camelWords(name).map { $0.uppercased() }.joined(separator: "_")
    }

    /// A Swift string literal for any text.
    static func literal(_ text: String) -> String {
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"" + escaped + "\""
    }
}
