import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// Emits `ValidatableMessage` conformances from the `(servicepro.options.v1.rules)` field options,
/// and a check that every string can be stored (`FieldCheck.storable`). Every message gets one,
/// so a request type always validates, and nested messages are checked with their field path
/// (`tenant.contact.phone`, `lines[2].description`). An update request's resource is checked only
/// in the fields its `update_mask` names.
struct ValidatorEmitter {
    let namer: SwiftProtobufNamer
    /// Full proto names of the messages that conform, so nested checks only call what exists.
    let validatable: Set<String>

    /// File-scope pattern constants, emitted before the extensions that use them.
    private(set) var patterns: [(name: String, regex: String)] = []

    init(namer: SwiftProtobufNamer, validatable: Set<String>) {
        self.namer = namer
        self.validatable = validatable
    }

    mutating func emit(_ message: Descriptor, into out: inout SwiftSource) throws {
        guard !message.options.mapEntry else { return }
        var body = SwiftSource()
        for field in message.fields {
            try Self.checkRulesApply(to: field, in: message)
            emitChecks(for: field, in: message, into: &body)
        }
        var normalization = SwiftSource()
        for field in message.fields {
            emitNormalization(for: field, into: &normalization)
        }
        let typeName = namer.fullName(message: message)
        out.block("extension \(typeName): ValidatableMessage") { out in
            Self.emitFunction("public func validate(path: String, into violations: inout [FieldViolation])", body: body, into: &out)
            out.line()
            Self.emitFunction("public mutating func normalize()", body: normalization, into: &out)
        }
        out.line()
        for nested in message.messages {
            try emit(nested, into: &out)
        }
    }

    /// A rule on a field it cannot apply to would be dropped without a word, and a pattern that
    /// does not compile would stop the server at its first request; both stop the generator here.
    static func checkRulesApply(to field: FieldDescriptor, in message: Descriptor) throws {
        guard let rules = field.rules else { return }
        let name = "\(message.fullName).\(field.name)"
        let isString = field.type == .string && !field.isMap
        for (rule, isSet) in [("max_length", rules.maxLength > 0), ("e164", rules.e164), ("pattern", !rules.pattern.isEmpty), ("trim", rules.trim)]
        where isSet && !isString {
            throw GeneratorError("\(name): the \(rule) rule applies to string fields only")
        }
        if rules.trim, field.realContainingOneof != nil {
            throw GeneratorError("\(name): the trim rule is not supported on oneof members")
        }
        if rules.outputOnly {
            if rules.required { throw GeneratorError("\(name): an output_only field cannot be required") }
            if rules.hasMinimum || rules.hasMaximum {
                throw GeneratorError("\(name): an output_only field is cleared before it is checked, so it cannot have a minimum or maximum")
            }
            if field.realContainingOneof != nil || field.isMap || field.type == .bytes {
                throw GeneratorError("\(name): the output_only rule is not supported on oneof members, maps or bytes")
            }
        }
        if rules.definedEnum, field.type != .enum {
            throw GeneratorError("\(name): the defined_enum rule applies to enum fields only")
        }
        for (rule, isSet, bound) in [("minimum", rules.hasMinimum, rules.minimum), ("maximum", rules.hasMaximum, rules.maximum)] where isSet {
            guard !field.isMap, field.isNumber || field.isDuration else {
                throw GeneratorError("\(name): the \(rule) rule applies to numbers and durations only")
            }
            guard bound.isFinite else { throw GeneratorError("\(name): the \(rule) rule needs a finite number") }
            // Integers are compared as Double at run time, which is exact up to 2^53.
            if field.isInteger, bound != bound.rounded() || abs(bound) > 9_007_199_254_740_992 {
                throw GeneratorError("\(name): the \(rule) rule of an integer field needs a whole number within ±2^53")
            }
        }
        if rules.hasMinimum, rules.hasMaximum, rules.minimum > rules.maximum {
            throw GeneratorError("\(name): the minimum \(rules.minimum) is above the maximum \(rules.maximum)")
        }
        if rules.maxItems > 0, !field.isRepeated || field.isMap {
            throw GeneratorError("\(name): the max_items rule applies to repeated fields only")
        }
        if !rules.pattern.isEmpty {
            do {
                // As `FieldPattern` compiles it at run time.
                _ = try NSRegularExpression(pattern: "\\A(?:\(rules.pattern))\\z")
            } catch {
                throw GeneratorError("\(name): pattern \"\(rules.pattern)\" is not a valid regular expression: \(error)")
            }
        }
    }

    private static func emitFunction(_ signature: String, body: SwiftSource, into out: inout SwiftSource) {
        if body.text.isEmpty {
            out.line(signature + " {}")
            return
        }
        out.block(signature) { out in
            for line in body.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                out.line(String(line))
            }
        }
    }

    /// Clears `output_only` fields, trims fields with the `trim` rule, and normalizes nested
    /// messages that can have such fields.
    private func emitNormalization(for field: FieldDescriptor, into out: inout SwiftSource) {
        let names = namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: true)
        let property = "self." + names.name
        let rules = field.rules
        if rules?.outputOnly == true {
            if field.isRepeated {
                out.line("\(property) = []")
            } else if field.hasPresence {
                out.line("self.\(names.clear)()")
            } else {
                out.line("\(property) = \(Self.zeroValue(field))")
            }
            return
        }
        if rules?.trim == true, field.type == .string, field.realContainingOneof == nil {
            if field.isRepeated {
                out.line("\(property) = \(property).map(FieldCheck.trimmed)")
            } else if field.hasPresence {
                // Assigning would mark an unset `optional` field as set.
                out.block("if self.\(names.has)") { out in
                    out.line("\(property) = FieldCheck.trimmed(\(property))")
                }
            } else {
                out.line("\(property) = FieldCheck.trimmed(\(property))")
            }
        }
        guard field.type == .message, !field.isMap,
              validatable.contains(field.messageType.fullName), Self.canNeedNormalizing(field.messageType)
        else { return }
        if let oneof = field.realContainingOneof {
            // Taken out, normalized and put back: the member's setter would do the same.
            let oneofProperty = "self." + namer.messagePropertyName(oneof: oneof).name
            out.block("if case .\(names.name)(var value)? = \(oneofProperty)") { out in
                out.line("value.normalize()")
                out.line("\(oneofProperty) = .\(names.name)(value)")
            }
        } else if field.isRepeated {
            out.block("for index in \(property).indices") { out in
                out.line("\(property)[index].normalize()")
            }
        } else {
            out.block("if self.\(names.has)") { out in
                out.line("\(property).normalize()")
            }
        }
    }

    /// A proto3 scalar's default, for clearing an `output_only` field without presence.
    private static func zeroValue(_ field: FieldDescriptor) -> String {
        switch field.type {
        case .string: return "\"\""
        case .bool: return "false"
        case .enum: return ".init()"
        default: return "0"
        }
    }

    /// Whether a message has a `trim` or `output_only` field anywhere below it (recursion guarded).
    private static func canNeedNormalizing(_ message: Descriptor, visiting: Set<String> = []) -> Bool {
        guard !visiting.contains(message.fullName) else { return false }
        return message.fields.contains { field in
            if let rules = field.rules,
               rules.outputOnly || (rules.trim && field.type == .string) {
                return true
            }
            return field.type == .message && !field.isMap && canNeedNormalizing(field.messageType, visiting: visiting.union([message.fullName]))
        }
    }

    private mutating func emitChecks(for field: FieldDescriptor, in message: Descriptor, into out: inout SwiftSource) {
        let names = namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: true)
        let property = "self." + names.name
        let path = "path + \(Naming.literal(field.name))"
        let rules = field.rules

        if let rules, rules.required {
            out.line("FieldCheck.required(\(isSetExpression(field, property: property, has: names.has)), \(path), &violations)")
        }
        if let rules, rules.maxItems > 0 {
            out.line("FieldCheck.maxItems(\(property).count, \(rules.maxItems), \(path), &violations)")
        }
        let rangeCheck = rules.flatMap(Self.rangeCheck)
        if let rangeCheck, field.isNumber {
            if !field.isRepeated, field.realContainingOneof == nil, !field.hasPresence {
                out.line(rangeCheck(property, path))
            } else {
                forEachValue(of: field, property: property, has: names.has, into: &out) { value, path in [rangeCheck(value, path)] }
            }
        }
        if field.type == .string {
            var checks = ["FieldCheck.storable(VALUE, FIELD, &violations)"]
            let rules = rules ?? Servicepro_Options_V1_FieldRules()
            if rules.maxLength > 0 { checks.append("FieldCheck.maxLength(VALUE, \(rules.maxLength), FIELD, &violations)") }
            if rules.e164 { checks.append("FieldCheck.e164(VALUE, FIELD, &violations)") }
            if !rules.pattern.isEmpty {
                let constant = patternConstantName(for: field, in: message)
                patterns.append((constant, rules.pattern))
                checks.append("FieldCheck.pattern(VALUE, \(constant), FIELD, &violations)")
            }
            if field.isRepeated {
                // An element is there, so its format applies: an empty one is no number or URL.
                if rules.e164 || !rules.pattern.isEmpty { checks.append("FieldCheck.notEmpty(VALUE, FIELD, &violations)") }
                forEachElement(of: field, property: property, into: &out) { out in
                    for check in checks {
                        out.line(check.replacingOccurrences(of: "VALUE", with: "element")
                            .replacingOccurrences(of: "FIELD", with: "\(path) + \"[\\(index)]\""))
                    }
                }
            } else {
                for check in checks {
                    out.line(check.replacingOccurrences(of: "VALUE", with: property).replacingOccurrences(of: "FIELD", with: path))
                }
            }
        }
        if let rules, rules.definedEnum, field.type == .enum {
            if field.isRepeated {
                forEachElement(of: field, property: property, into: &out) { out in
                    out.line("FieldCheck.definedEnum(element, \(path) + \"[\\(index)]\", &violations)")
                }
            } else {
                out.line("FieldCheck.definedEnum(\(property), \(path), &violations)")
            }
        }
        guard field.type == .message, !field.isMap else { return }
        if let check = Self.wellKnownChecks[field.messageType.fullName] {
            forEachValue(of: field, property: property, has: names.has, into: &out) { value, path in
                ["\(check)(\(value), \(path), &violations)"] + (rangeCheck.map { [$0(value, path)] } ?? [])
            }
        } else if validatable.contains(field.messageType.fullName) {
            if let mask = Self.updateMask(of: message), Self.isResource(field) {
                emitMaskedChecks(for: field, property: property, has: names.has, mask: mask, into: &out)
                return
            }
            forEachValue(of: field, property: property, has: names.has, pathSuffix: ".", into: &out) { value, path in
                ["\(value).validate(path: \(path), into: &violations)"]
            }
        }
    }

    /// An update request's `update_mask` field (AIP-134: a `google.protobuf.FieldMask` of that
    /// name), whose resource is checked only in the fields it names.
    private static func updateMask(of message: Descriptor) -> FieldDescriptor? {
        message.fields.first { field in
            field.name == "update_mask" && field.type == .message && !field.isRepeated
                && field.messageType.fullName == "google.protobuf.FieldMask"
        }
    }

    /// Whether `field` holds the resource an update changes: as AIP-134 names it, a single
    /// message field named after its type (`PhoneConfig phone_config`). Any other field of the
    /// request keeps all its checks.
    private static func isResource(_ field: FieldDescriptor) -> Bool {
        !field.isRepeated && field.realContainingOneof == nil
            && field.name == Naming.camelWords(field.messageType.name).map { $0.lowercased() }.joined(separator: "_")
    }

    /// The resource of an update request, checked whole, then kept to the violations of the
    /// fields `update_mask` names (`FieldCheck.withinMask`).
    private func emitMaskedChecks(for field: FieldDescriptor, property: String, has: String, mask: FieldDescriptor, into out: inout SwiftSource) {
        let maskProperty = "self." + namer.messagePropertyNames(field: mask, prefixed: "", includeHasAndClear: false).name
        let resourcePath = "path + \(Naming.literal(field.name + "."))"
        out.block("if self.\(has)") { out in
            out.line("var resourceViolations: [FieldViolation] = []")
            out.line("\(property).validate(path: \(resourcePath), into: &resourceViolations)")
            out.line("FieldCheck.withinMask(resourceViolations, \(maskProperty), resourcePath: \(resourcePath), &violations)")
        }
    }

    /// The `minimum`/`maximum` check of a value at a path, when the rules set a bound.
    private static func rangeCheck(_ rules: Servicepro_Options_V1_FieldRules) -> ((_ value: String, _ path: String) -> String)? {
        guard rules.hasMinimum || rules.hasMaximum else { return nil }
        let minimum = rules.hasMinimum ? literal(rules.minimum) : "nil"
        let maximum = rules.hasMaximum ? literal(rules.maximum) : "nil"
        return { value, path in "FieldCheck.range(\(value), minimum: \(minimum), maximum: \(maximum), \(path), &violations)" }
    }

    /// A bound as a Swift literal: `0` and `1` as written in the proto, `0.5` as it is.
    private static func literal(_ bound: Double) -> String {
        bound == bound.rounded() && abs(bound) < 1e15 ? String(Int64(bound)) : "\(bound)"
    }

    /// Well-known types have ranges of their own (a Timestamp's year is 1 to 9999), checked
    /// wherever they appear: a handler can then turn any of them into a `Date` or a count of
    /// microseconds without overflowing.
    private static let wellKnownChecks = [
        "google.protobuf.Timestamp": "FieldCheck.timestamp",
        "google.protobuf.Duration": "FieldCheck.duration",
    ]

    /// The lines `statements(value, path)` for each value a message field holds: every element of a
    /// repeated field (path `lines[2]`), the oneof case when it is the one set, the value when
    /// present. The path ends in `pathSuffix`.
    private func forEachValue(
        of field: FieldDescriptor, property: String, has: String, pathSuffix: String = "", into out: inout SwiftSource,
        _ statements: (_ value: String, _ path: String) -> [String]
    ) {
        if field.isRepeated {
            forEachElement(of: field, property: property, into: &out) { out in
                for statement in statements("element", "path + \(Naming.literal(field.name)) + \"[\\(index)]\(pathSuffix)\"") { out.line(statement) }
            }
            return
        }
        let path = "path + \(Naming.literal(field.name + pathSuffix))"
        if let oneof = field.realContainingOneof {
            let names = namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: false)
            out.block("if case .\(names.name)(let value)? = self.\(namer.messagePropertyName(oneof: oneof).name)") { out in
                for statement in statements("value", path) { out.line(statement) }
            }
        } else {
            out.block("if self.\(has)") { out in
                for statement in statements(property, path) { out.line(statement) }
            }
        }
    }

    /// The loop over a repeated field's elements, which binds `index` and `element`. It goes no
    /// further than the field's `max_items` (a longer list is refused on its count) and stops once
    /// `FieldViolation.collectedLimit` problems are known: a request is refused by its first
    /// problem, and a 4 MiB list of millions of bad elements would otherwise hold a violation, and
    /// its text, for each.
    private func forEachElement(of field: FieldDescriptor, property: String, into out: inout SwiftSource, _ body: (inout SwiftSource) -> Void) {
        let maxItems = field.rules?.maxItems ?? 0
        let elements = maxItems > 0 ? "\(property).prefix(\(maxItems))" : property
        out.block("for (index, element) in \(elements).enumerated()") { out in
            out.line("if violations.count >= FieldViolation.collectedLimit { break }")
            body(&out)
        }
    }

    /// `Message_fieldPattern`. Nested messages of different parents can share a name (two
    /// `Label`s), so a taken name falls back to the full Swift name (`WallMount_Label_keyPattern`).
    private func patternConstantName(for field: FieldDescriptor, in message: Descriptor) -> String {
        let suffix = "_\(Naming.lowerCamel(snake: field.name))Pattern"
        let taken = Set(patterns.map(\.name))
        let short = namer.relativeName(message: message) + suffix
        guard taken.contains(short) else { return short }
        let full = namer.fullName(message: message).replacingOccurrences(of: ".", with: "_") + suffix
        var candidate = full
        var counter = 2
        while taken.contains(candidate) {
            candidate = full + String(counter)
            counter += 1
        }
        return candidate
    }

    /// What "set" means for a required field of this kind. Text counts as set when it is not
    /// empty, as the store keeps an empty one as none, and an enum when it is not UNSPECIFIED.
    /// Any other field that tracks presence (a message, an `optional` or oneof scalar) is set when
    /// it was sent, 0 included; one that does not, when it is not its default.
    private func isSetExpression(_ field: FieldDescriptor, property: String, has: String) -> String {
        if field.isRepeated || field.isMap { return "!\(property).isEmpty" }
        if field.type == .string || field.type == .bytes { return "!\(property).isEmpty" }
        if field.type == .enum { return "\(property).rawValue != 0" }
        if let oneof = field.realContainingOneof {
            let names = namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: false)
            return "{ if case .\(names.name)? = self.\(namer.messagePropertyName(oneof: oneof).name) { return true }; return false }()"
        }
        if field.hasPresence { return "self.\(has)" }
        return field.type == .bool ? property : "\(property) != 0"
    }

    /// The pattern constants collected while emitting, compiled once per process.
    func emitPatterns(into out: inout SwiftSource) {
        for pattern in patterns {
            out.line("private let \(pattern.name) = FieldPattern(\(Naming.literal(pattern.regex)))")
        }
        if !patterns.isEmpty { out.line() }
    }
}
