import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// A policy's `audit_resource`, e.g. `tenants/{tenant_id}`: literal text and request fields in
/// braces, each a path of singular fields ending in a string. It becomes a Swift expression that
/// fills the template from a request, or nil while a field it uses is empty.
struct AuditResourceTemplate {
    private enum Part {
        case text(String)
        /// The Swift property path from `request`, e.g. `basics.slug`.
        case field(String)
    }

    private let parts: [Part]

    init(_ template: String, of method: MethodDescriptor, namer: SwiftProtobufNamer) throws {
        func fail(_ problem: String) -> GeneratorError {
            GeneratorError("\(method.fullName): audit_resource \"\(template)\" \(problem)")
        }
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { parts.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { throw fail("has a { without its }") }
            let path = rest[rest.index(after: open)..<close]
            var message: Descriptor = method.inputType
            var properties: [String] = []
            let names = path.split(separator: ".", omittingEmptySubsequences: false)
            for (index, name) in names.enumerated() {
                guard let field = message.fields.first(where: { $0.name == name }), !field.isRepeated else {
                    throw fail("names \(path), which is not a singular field of \(method.inputType.fullName)")
                }
                properties.append(namer.messagePropertyNames(field: field, prefixed: "", includeHasAndClear: false).name)
                if index == names.count - 1 {
                    guard field.type == .string else { throw fail("names \(path), which is not a string") }
                } else {
                    guard field.type == .message, let inner = field.messageType else { throw fail("names \(path), but \(name) is not a message") }
                    message = inner
                }
            }
            parts.append(.field(properties.joined(separator: ".")))
            rest = rest[rest.index(after: close)...]
        }
        if rest.contains("}") { throw fail("has a } without its {") }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        guard parts.contains(where: { if case .field = $0 { true } else { false } }) else {
            throw fail("names no request field; put one in braces, e.g. {name}")
        }
        self.parts = parts
    }

    /// The body of `auditResourceName(of:)`.
    var accessor: String {
        let fields = parts.compactMap { part -> String? in
            if case .field(let path) = part { "request.\(path)" } else { nil }
        }
        let filled = parts.map { part -> String in
            switch part {
            case .text(let text): return text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            case .field(let path): return "\\(request.\(path))"
            }
        }.joined()
        let guardClause = fields.map { "\($0).isEmpty" }.joined(separator: " || ")
        if parts.count == 1, let field = fields.first { return "\(guardClause) ? nil : \(field)" }
        return "\(guardClause) ? nil : \"\(filled)\""
    }
}
