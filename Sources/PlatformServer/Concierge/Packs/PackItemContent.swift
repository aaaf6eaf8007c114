import Crypto
import Foundation
import ServiceProAPI
import SwiftProtobuf

/// One item of a pack as a tenant holds it: its kind, its key within the kind, and its content.
///
/// The content is stored as JSON in the protobuf mapping, with the proto's field names, so the
/// table reads like the pack files. Its hash is taken over the message's deterministic binary
/// encoding rather than the text: however the JSON is spaced or ordered, the same content has the
/// same hash, and any change to any field changes it. The merge rules compare these hashes to
/// tell an item a pack put there from one the tenant changed.
struct PackItemContent: Sendable, Equatable {
    let kind: PackItemKind
    /// The service name, the FAQ question, the template kind's proto name
    /// (`SMS_TEMPLATE_KIND_REMINDER`) or the automation key; empty for the IVR menu and the AI
    /// agent config, of which a tenant has one.
    let key: String
    let json: String
    /// Hex SHA-256 of the content's deterministic binary encoding.
    let hash: String

    init<Content: SwiftProtobuf.Message>(kind: PackItemKind, key: String, _ content: Content) throws {
        self.kind = kind
        self.key = key
        self.json = try content.jsonString(options: Self.encoding)
        self.hash = try Self.hash(of: content)
    }

    /// Every item of `pack`, in the order summaries list them: services, FAQs, SMS templates,
    /// automations, then the IVR menu and the AI agent config.
    static func items(of pack: IndustryPack) throws -> [PackItemContent] {
        var items: [PackItemContent] = []
        for service in pack.services { items.append(try PackItemContent(kind: .service, key: service.name, service)) }
        for faq in pack.faqs { items.append(try PackItemContent(kind: .faq, key: faq.question, faq)) }
        for template in pack.smsTemplates { items.append(try PackItemContent(kind: .smsTemplate, key: template.kind.keyName, template)) }
        for automation in pack.automations { items.append(try PackItemContent(kind: .automation, key: automation.key, automation)) }
        if pack.hasIvrMenu { items.append(try PackItemContent(kind: .ivrMenu, key: "", pack.ivrMenu)) }
        if pack.hasAiAgent { items.append(try PackItemContent(kind: .aiAgent, key: "", pack.aiAgent)) }
        return items
    }

    /// The hash of stored JSON content of `kind`, as it is now; nil when it no longer parses as
    /// its kind's message, which the merge rules treat as the tenant's own edit.
    static func hash(kind: PackItemKind, json: String) -> String? {
        switch kind {
        case .service: return try? hash(of: ServiceOffering(jsonString: json, options: decoding))
        case .faq: return try? hash(of: Faq(jsonString: json, options: decoding))
        case .smsTemplate: return try? hash(of: SmsTemplate(jsonString: json, options: decoding))
        case .automation: return try? hash(of: AutomationRule(jsonString: json, options: decoding))
        case .ivrMenu: return try? hash(of: IvrMenu(jsonString: json, options: decoding))
        case .aiAgent: return try? hash(of: AiAgentConfig(jsonString: json, options: decoding))
        case .unspecified, .UNRECOGNIZED: return nil
        }
    }

    private static func hash(of content: some SwiftProtobuf.Message) throws -> String {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: [UInt8] = try content.serializedBytes(options: options)
        return SHA256.hash(data: bytes).hex
    }

    private static let encoding: JSONEncodingOptions = {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return options
    }()

    /// Strict, as the pack files are read: content with fields its message does not have is not
    /// content a pack wrote.
    private static let decoding: JSONDecodingOptions = {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = false
        return options
    }()
}

extension SmsTemplateKind {
    /// The proto value name, e.g. `SMS_TEMPLATE_KIND_REMINDER`: the key of a template item, and
    /// how pack files and error messages spell the kind.
    var keyName: String {
        switch self {
        case .unspecified: return "SMS_TEMPLATE_KIND_UNSPECIFIED"
        case .bookingConfirmation: return "SMS_TEMPLATE_KIND_BOOKING_CONFIRMATION"
        case .reminder: return "SMS_TEMPLATE_KIND_REMINDER"
        case .reviewRequest: return "SMS_TEMPLATE_KIND_REVIEW_REQUEST"
        case .autoReply: return "SMS_TEMPLATE_KIND_AUTO_REPLY"
        case .UNRECOGNIZED(let value): return "\(value)"
        }
    }
}
