import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// Emits the spctl command tree: one file per resource group (`spctl tenants list|get|...`),
/// enum argument parsing, the list of groups the hand-written root command mounts, and how
/// responses print (`OutputSchemaEmitter`).
struct CommandEmitter {
    let namer: SwiftProtobufNamer
    /// Flags reach this deep into nested request messages; deeper fields are set with --json.
    private let maxFlagDepth = 3
    /// Names the hand-written call options already use.
    private let reservedFlags: Set<String> = ["output", "json", "json-file", "server", "token", "context", "tls", "ca-file", "timeout", "help", "version"]
    /// Names the command struct itself uses: the call and JSON options, `run()`, its `request`
    /// and an update's `changed` paths.
    private let reservedProperties: Set<String> = ["call", "requestJSON", "request", "run", "changed"]

    private struct Command {
        let method: MethodModel
        let serviceName: String
        let serviceComment: String
    }

    private struct Flag {
        let property: String
        let long: String
        let swiftType: String
        var help: String
        /// The field the flag sets, as a proto path from the request (`tenant.contact.phone`).
        let path: String
        /// The field is set when its resource is made and never changed.
        let immutable: Bool
        /// When the flag was given (`let value = displayName`), and what that sets.
        let given: String
        let assignment: String

        /// The line of `run()` that puts the flag into the request; `recording`, when it also
        /// notes the field's path (relative to the updated resource) as one the update changes.
        func apply(recording maskPath: String? = nil) -> String {
            let note = maskPath.map { "; changed.append(\(Naming.literal($0)))" } ?? ""
            return "if \(given) { \(assignment)\(note) }"
        }
    }

    /// A request that carries one resource (`tenant`), as a Create's or an Update's does. An
    /// update's (one with an `update_mask`) command fills the mask from the resource's flags given
    /// when none is given, as the fields to change: `spctl tenants update --tenant.name
    /// tenants/acme --tenant.city Tulsa`. A request with more than one message field names no one
    /// resource, and its mask is left to the caller.
    private struct ResourceRequest {
        let resourceField: String
        let isUpdate: Bool

        init?(_ input: Descriptor) {
            let resources = input.fields.filter {
                $0.type == .message && !$0.isRepeated && !$0.isMap && !$0.messageType.fullName.hasPrefix("google.protobuf.")
            }
            guard resources.count == 1 else { return nil }
            resourceField = resources[0].name
            isUpdate = input.fields.contains { $0.name == "update_mask" && $0.messageType?.fullName == "google.protobuf.FieldMask" }
        }

        /// What `flag` changes, as a mask path; nil for a flag outside the resource, and for its
        /// `name` and `etag`, which say what is updated rather than change it.
        func maskPath(of flag: Flag) -> String? {
            guard flag.path.hasPrefix(resourceField + ".") else { return nil }
            let path = String(flag.path.dropFirst(resourceField.count + 1))
            return ["name", "etag"].contains(path) ? nil : path
        }
    }

    private(set) var enumsUsed: [String: EnumDescriptor] = [:]

    init(namer: SwiftProtobufNamer) { self.namer = namer }

    /// Returns (file name, contents) for every group plus the tree and enum parsing.
    mutating func emit(services: [ServiceDescriptor]) throws -> [(String, String)] {
        var groups: [String: [Command]] = [:]
        var seen: [CommandPath: String] = [:]
        for service in services {
            for method in service.methods {
                let model = try MethodModel(method, namer: namer)
                if let other = seen[model.command] {
                    throw GeneratorError("\(method.fullName) and \(other) both map to `spctl \(model.command.description)`; set cli_command on one")
                }
                seen[model.command] = method.fullName
                let comment = service.protoSourceComments(commentPrefix: "").trimmingCharacters(in: .whitespacesAndNewlines)
                groups[model.command.resource ?? "", default: []].append(Command(method: model, serviceName: service.name, serviceComment: comment))
            }
        }
        var files: [(String, String)] = []
        var roots: [String] = []
        let groupsPerService = Dictionary(grouping: groups.filter { !$0.key.isEmpty }.values.map { $0[0].serviceName }, by: { $0 }).mapValues(\.count)
        for (resource, commands) in groups.sorted(by: { $0.key < $1.key }) {
            var out = SwiftSource()
            header(&out)
            if resource.isEmpty {
                for command in commands.sorted(by: { $0.method.command < $1.method.command }) {
                    let type = Naming.upperCamel(kebab: command.method.command.verb) + "Command"
                    try emitVerb(command, typeName: type, into: &out)
                    out.line()
                    roots.append(type)
                }
                files.append(("TopLevelCommands.swift", out.text))
            } else {
                let type = Naming.upperCamel(kebab: resource) + "Commands"
                let sorted = commands.sorted(by: { $0.method.command < $1.method.command })
                let abstract = groupAbstract(sorted, sharedService: groupsPerService[sorted[0].serviceName, default: 0] > 1)
                try out.block("struct \(type): AsyncParsableCommand") { out in
                    out.line("static let configuration = CommandConfiguration(")
                    out.line("    commandName: \(Naming.literal(resource)),")
                    out.line("    abstract: \(Naming.literal(abstract)),")
                    let subcommands = sorted.map { Naming.upperCamel(kebab: $0.method.command.verb) + ".self" }
                    out.line("    subcommands: [\(subcommands.joined(separator: ", "))]")
                    out.line(")")
                    for command in sorted {
                        out.line()
                        try emitVerb(command, typeName: Naming.upperCamel(kebab: command.method.command.verb), into: &out)
                    }
                }
                files.append(("\(type).swift", out.text))
                roots.append(type)
            }
        }
        files.append(("GeneratedCommands.swift", emitTree(roots)))
        files.append(("EnumArguments.swift", emitEnumArguments()))
        files.append(("OutputSchema.swift", OutputSchemaEmitter.emit(services: services)))
        return files
    }

    private func header(_ out: inout SwiftSource) {
        out.line("// DO NOT EDIT. Generated by protoc-gen-servicepro from proto/; run codegen/generate.sh.")
        out.line()
        out.line("import ArgumentParser")
        out.line("import Foundation")
        out.line("import ServiceProAPI")
        out.line()
    }

    /// A group's one-line description: its service's first sentence, or, when the service serves
    /// several groups (`messages` and `calls` from the communication log), its resource's, so
    /// that each reads as itself in `spctl --help`. The resource is what `get`, `create` or
    /// `update` answers (not a `…Response`), or what `list` lists.
    private func groupAbstract(_ commands: [Command], sharedService: Bool) -> String {
        let serviceSentence = commands.first.map { splitFirstSentence($0.serviceComment).sentence } ?? ""
        guard sharedService else { return serviceSentence }
        let resources = commands.compactMap { command -> Descriptor? in
            let output: Descriptor = command.method.descriptor.outputType
            switch command.method.command.verb {
            case "get", "create", "update": return output.name.hasSuffix("Response") ? nil : output
            case "list": return output.fields.first { $0.isRepeated && $0.type == .message }?.messageType
            default: return nil
            }
        }
        let comment = resources.first.map { $0.protoSourceComments(commentPrefix: "").trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        return comment.isEmpty ? serviceSentence : splitFirstSentence(comment).sentence
    }

    /// A comment's first sentence, for a command's one-line summary (its first paragraph, up to
    /// the first full stop that ends a sentence; "e.g." and "i.e." do not), and the rest of it, as
    /// paragraphs of one line each: the help printer wraps them to the terminal, and would
    /// otherwise also break at the proto's line ends.
    private func splitFirstSentence(_ text: String) -> (sentence: String, rest: [String]) {
        var paragraphs = text.components(separatedBy: "\n\n").map {
            $0.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        }.filter { !$0.isEmpty }
        guard let first = paragraphs.first else { return ("", []) }
        paragraphs.removeFirst()
        var searchFrom = first.startIndex
        while let stop = first.range(of: ". ", range: searchFrom..<first.endIndex) {
            let before = first[..<stop.lowerBound]
            if !before.hasSuffix("e.g"), !before.hasSuffix("i.e") {
                return (String(before) + ".", [String(first[stop.upperBound...])] + paragraphs)
            }
            searchFrom = stop.upperBound
        }
        return (first, paragraphs)
    }

    private mutating func emitVerb(_ command: Command, typeName: String, into out: inout SwiftSource) throws {
        let method = command.method
        var flags = collectFlags(method.descriptor.inputType, swiftPath: "request", flagPrefix: "", fieldPrefix: "", propertyPrefix: "", depth: 0, visiting: [])
        let resource = ResourceRequest(method.descriptor.inputType)
        if method.descriptor.name.hasPrefix("Create"), let resource {
            // The server names a new resource (from its parent and id) and gives its etag.
            flags.removeAll { [resource.resourceField + ".name", resource.resourceField + ".etag"].contains($0.path) }
        }
        try Self.requireDistinct(flags, of: method.descriptor.fullName)
        let update = resource?.isUpdate == true ? resource : nil
        if update != nil {
            // What cannot change gets no flag on an update, nor a place in the mask it infers.
            flags.removeAll(where: \.immutable)
            // The mask is required by the API, but the command fills it in.
            if let mask = flags.firstIndex(where: { $0.path == "update_mask" }),
               let field = method.descriptor.inputType.fields.first(where: { $0.name == "update_mask" }) {
                flags[mask].help = Self.joined(fieldHelp(field, sayRequired: false), "comma-separated field names; by default, the fields whose flags are given")
            }
        }
        let comment = splitFirstSentence(method.descriptor.protoSourceComments(commentPrefix: "").trimmingCharacters(in: .whitespacesAndNewlines))
        out.block("struct \(typeName): AsyncParsableCommand") { out in
            out.line("static let configuration = CommandConfiguration(")
            out.line("    commandName: \(Naming.literal(method.command.verb)),")
            out.line("    abstract: \(Naming.literal(comment.sentence)),")
            out.line("    discussion: \(Naming.literal(discussion(method, rest: comment.rest)))")
            out.line(")")
            out.line()
            out.line("@OptionGroup var call: CallOptions")
            out.line("@OptionGroup var requestJSON: RequestJSONOptions")
            for flag in flags {
                out.line()
                out.line("@Option(name: .customLong(\(Naming.literal(flag.long))), help: \(Naming.literal(flag.help)))")
                out.line("var \(flag.property): \(flag.swiftType)")
            }
            out.line()
            out.block("func run() async throws") { out in
                out.line("\(flags.isEmpty ? "let" : "var") request = try requestJSON.request(\(method.inputType).self)")
                if let update {
                    out.line("var changed: [String] = []")
                    for flag in flags { out.line(flag.apply(recording: update.maskPath(of: flag))) }
                    out.line("// With no mask given, the fields whose flags were given are the ones to change.")
                    out.line("if !requestJSON.isGiven, !request.hasUpdateMask, !changed.isEmpty { request.updateMask = .init(protoPaths: changed) }")
                } else {
                    for flag in flags { out.line(flag.apply()) }
                }
                if method.isServerStreaming {
                    out.block("try await call.stream(request) { client, request, metadata, emit in") { out in
                        out.block("try await \(command.serviceName).Client(wrapping: client).\(method.swiftName)(request, metadata: metadata) { response in") { out in
                            out.line("for try await message in response.messages { try emit(message) }")
                        }
                    }
                } else {
                    out.block("try await call.unary(request) { client, request, metadata in") { out in
                        out.line("try await \(command.serviceName).Client(wrapping: client).\(method.swiftName)(request, metadata: metadata)")
                    }
                }
            }
        }
    }

    /// What `--help` says below the summary: the rest of the method's comment (its paragraphs),
    /// who may call it, and the RPC it makes.
    private func discussion(_ method: MethodModel, rest: [String]) -> String {
        var text = rest.joined(separator: "\n\n")
        if let policy = method.policy {
            let names = policy.roles.compactMap { role -> String? in
                switch role {
                case .platformOwner: return "platform owner"
                case .platformStaff: return "platform staff"
                case .tenantAdmin: return "tenant admin"
                case .tenantMember: return "tenant member"
                case .partner: return "partner"
                case .telephonyBridge: return "telephony bridge"
                default: return nil
                }
            }
            if !text.isEmpty { text += "\n\n" }
            text += policy.unauthenticated
                ? "Needs no token: the request carries its own credential."
                : "Allowed roles: \(names.joined(separator: ", "))."
        }
        if !text.isEmpty { text += "\n" }
        return text + "RPC: \(method.descriptor.fullName). Use --json or --json-file for fields without a flag."
    }

    /// Two fields whose flags would share a property (`customer_display_name` beside
    /// `customer.display_name`) or a name would make a command that does not compile, or one
    /// flag that sets two fields: refused, naming both.
    private static func requireDistinct(_ flags: [Flag], of method: String) throws {
        var seen: [String: Flag] = [:]
        for flag in flags {
            for key in ["property " + flag.property, "flag --" + flag.long] {
                if let other = seen[key] {
                    throw GeneratorError("\(method): the fields \(other.path) and \(flag.path) both make the spctl \(key); rename one")
                }
                seen[key] = flag
            }
        }
    }

    private mutating func collectFlags(
        _ message: Descriptor,
        swiftPath: String,
        flagPrefix: String,
        fieldPrefix: String,
        propertyPrefix: String,
        depth: Int,
        visiting: Set<String>
    ) -> [Flag] {
        var flags: [Flag] = []
        for field in message.fields where !Self.isOutputOnly(field) {
            let names = namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: false)
            let target = "\(swiftPath).\(names.name)"
            var long = flagPrefix + Naming.kebab(snake: field.name)
            if depth == 0, reservedFlags.contains(long) { long = "field-" + long }
            // SwiftProtobuf backticks fields named like Swift keywords (`extension`, `default`): a
            // top-level property keeps the backticks, a prefixed one (`widgetDefault`) needs none.
            let bareName = names.name.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            var propertyBase = propertyPrefix.isEmpty ? bareName : propertyPrefix + bareName.prefix(1).uppercased() + bareName.dropFirst()
            if depth == 0, reservedProperties.contains(propertyBase) {
                propertyBase = "field" + propertyBase.prefix(1).uppercased() + propertyBase.dropFirst()
            }
            let property = propertyBase == bareName ? names.name : propertyBase
            let help = fieldHelp(field)
            let path = fieldPrefix + field.name
            func flag(_ swiftType: String, _ help: String, _ assignment: String, given: String? = nil) -> Flag {
                Flag(property: property, long: long, swiftType: swiftType, help: help, path: path, immutable: field.rules?.immutable == true,
                     given: given ?? "let value = \(property)", assignment: assignment)
            }

            if field.isMap { continue }
            if field.type == .message {
                switch field.messageType.fullName {
                case "google.protobuf.Timestamp":
                    guard !field.isRepeated else { continue }
                    flags.append(flag("String?", Self.joined(help, "RFC 3339 time"),
                                      "\(target) = try CLIValue.timestamp(value, flag: \(Naming.literal(long)))"))
                case "google.protobuf.Duration":
                    guard !field.isRepeated else { continue }
                    flags.append(flag("String?", Self.joined(help, "a duration such as 90s, 30m or 2h"),
                                      "\(target) = try CLIValue.duration(value, flag: \(Naming.literal(long)))"))
                case "google.protobuf.FieldMask":
                    guard !field.isRepeated else { continue }
                    flags.append(flag("String?", Self.joined(help, "comma-separated field names"), "\(target) = CLIValue.fieldMask(value)"))
                default:
                    guard !field.isRepeated, depth + 1 < maxFlagDepth,
                          !field.messageType.fullName.hasPrefix("google.protobuf."),
                          !visiting.contains(field.messageType.fullName)
                    else { continue }
                    flags += collectFlags(field.messageType, swiftPath: target, flagPrefix: long + ".", fieldPrefix: path + ".",
                                          propertyPrefix: propertyBase, depth: depth + 1, visiting: visiting.union([message.fullName]))
                }
                continue
            }
            guard let scalar = scalarType(field) else { continue }
            if field.isRepeated {
                flags.append(flag("[\(scalar)] = []", Self.joined(help, "repeatable"), "\(target) = \(property)", given: "!\(property).isEmpty"))
            } else {
                flags.append(flag("\(scalar)?", field.type == .bool ? Self.joined(help, "true or false") : help, "\(target) = value"))
            }
        }
        return flags
    }

    private mutating func scalarType(_ field: FieldDescriptor) -> String? {
        switch field.type {
        case .string: return "String"
        case .bool: return "Bool"
        case .int32, .sint32, .sfixed32: return "Int32"
        case .int64, .sint64, .sfixed64: return "Int64"
        case .uint32, .fixed32: return "UInt32"
        case .uint64, .fixed64: return "UInt64"
        case .double: return "Double"
        case .float: return "Float"
        case .enum:
            let name = namer.fullName(enum: field.enumType)
            enumsUsed[name] = field.enumType
            return name
        default: return nil
        }
    }

    /// Set by the server: the pipeline clears it from requests, so a flag would do nothing.
    private static func isOutputOnly(_ field: FieldDescriptor) -> Bool {
        field.rules?.outputOnly == true
    }

    /// "Comment. (note)", or just "(note)" for a field without a comment.
    private static func joined(_ help: String, _ note: String) -> String {
        help.isEmpty ? "(\(note))" : "\(help) (\(note))"
    }

    private func fieldHelp(_ field: FieldDescriptor, sayRequired: Bool = true) -> String {
        // One line of help from the comment's lines, each of which starts with the space after `//`.
        var help = field.protoSourceComments(commentPrefix: "").split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
        if sayRequired, field.rules?.required == true {
            help = help.isEmpty ? "Required." : help + " Required."
        }
        return help
    }

    private func emitTree(_ roots: [String]) -> String {
        var out = SwiftSource()
        header(&out)
        out.doc("The command groups derived from the API, mounted by spctl's root command.")
        out.block("enum GeneratedCommands") { out in
            out.line("static let all: [any ParsableCommand.Type] = [")
            for root in roots.sorted() { out.line("    \(root).self,") }
            out.line("]")
        }
        return out.text
    }

    /// Enums parse from their short lowercase names (`past-due`), those with underscores as the
    /// API's stored names and errors write them (`past_due`), or their full proto names.
    private func emitEnumArguments() -> String {
        var out = SwiftSource()
        header(&out)
        for (name, descriptor) in enumsUsed.sorted(by: { $0.key < $1.key }) {
            let values = descriptor.values.filter { $0.number != 0 }
            out.block("extension \(name): ExpressibleByArgument") { out in
                out.block("public init?(argument: String)") { out in
                    out.block("switch argument.lowercased()") { out in
                        for value in values {
                            let short = Naming.shortEnumValueName(value.name, enumName: descriptor.name)
                            let snake = short.replacingOccurrences(of: "-", with: "_")
                            let spellings = (snake == short ? [short] : [short, snake]) + [value.name.lowercased()]
                            out.line("case \(spellings.map(Naming.literal).joined(separator: ", ")): self = \(namer.dottedRelativeName(enumValue: value))")
                        }
                        out.line("default: return nil")
                    }
                }
                out.line()
                let shorts = values.map { Naming.literal(Naming.shortEnumValueName($0.name, enumName: descriptor.name)) }
                out.line("public static var allValueStrings: [String] { [\(shorts.joined(separator: ", "))] }")
            }
            out.line()
        }
        return out.text
    }
}
