import SwiftProtobufPluginLibrary

/// Where an RPC lives in spctl: `spctl <resource> <verb>`, or a top-level `spctl <verb>`.
struct CommandPath: Hashable, Comparable {
    /// Kebab-case resource group, e.g. "api-keys"; nil for a top-level command.
    var resource: String?
    var verb: String

    /// Derived from the RPC name unless the policy names one: ListTenants → "tenants list",
    /// CreateApiKey → "api-keys create", RevokeApiKey → "api-keys revoke".
    init(method: MethodDescriptor, override: String) throws {
        if !override.isEmpty {
            let parts = override.split(separator: " ").map(String.init)
            switch parts.count {
            case 1: self.resource = nil; self.verb = parts[0]
            case 2: self.resource = parts[0]; self.verb = parts[1]
            default:
                throw GeneratorError("\(method.fullName): cli_command \"\(override)\" must be one or two words")
            }
            return
        }
        let words = Naming.camelWords(method.name)
        guard words.count >= 2 else {
            throw GeneratorError("\(method.fullName): cannot derive a command from a one-word RPC name; set cli_command")
        }
        let verb = words[0].lowercased()
        var noun = Array(words.dropFirst())
        if verb != "list" {
            noun[noun.count - 1] = Naming.pluralize(noun[noun.count - 1])
        }
        self.resource = Naming.kebab(noun)
        self.verb = verb
    }

    var description: String { [resource, verb].compactMap { $0 }.joined(separator: " ") }

    static func < (lhs: CommandPath, rhs: CommandPath) -> Bool { lhs.description < rhs.description }
}
