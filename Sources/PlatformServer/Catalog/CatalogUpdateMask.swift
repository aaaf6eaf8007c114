import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// The fields an UpdateCatalogItem may change: those of the item's own kind, less the key its id
/// comes from (a service's name, an FAQ's question, a template's kind).
struct CatalogUpdateMask: Sendable {
    static let fields: [PackItemKind: Set<String>] = [
        .service: ["service.summary", "service.duration", "service.price_cents", "service.currency_code", "service.upsells"],
        .faq: ["faq.answer"],
        .smsTemplate: ["sms_template.body"],
        .aiAgent: ["ai_agent.instructions", "ai_agent.vocabulary", "ai_agent.greeting"],
        .automation: ["automation.display_name", "automation.offset", "automation.template", "automation.disabled"],
    ]

    let paths: UpdateMaskPaths

    init(_ mask: Google_Protobuf_FieldMask, kind: PackItemKind) throws {
        paths = try UpdateMaskPaths(mask, updatable: Self.fields[kind] ?? [])
    }

    /// `target` with the masked fields taken from `source`; INVALID_ARGUMENT when `source` is
    /// another kind of item than `target`, since its fields could not be what the mask names.
    func apply(from source: CatalogItem.OneOf_Content?, to target: CatalogItem.OneOf_Content) throws -> CatalogItem.OneOf_Content {
        switch (source, target) {
        case (.service(let source)?, .service(var service)):
            for path in paths.paths {
                switch path {
                case "service.summary": service.summary = source.summary
                case "service.duration": service.duration = source.duration
                case "service.price_cents": service.priceCents = source.priceCents
                case "service.currency_code": service.currencyCode = source.currencyCode
                case "service.upsells": service.upsells = source.upsells
                default: break
                }
            }
            return .service(service)
        case (.faq(let source)?, .faq(var faq)):
            faq.answer = source.answer
            return .faq(faq)
        case (.smsTemplate(let source)?, .smsTemplate(var template)):
            template.body = source.body
            return .smsTemplate(template)
        case (.aiAgent(let source)?, .aiAgent(var agent)):
            for path in paths.paths {
                switch path {
                case "ai_agent.instructions": agent.instructions = source.instructions
                case "ai_agent.vocabulary": agent.vocabulary = source.vocabulary
                case "ai_agent.greeting": agent.greeting = source.greeting
                default: break
                }
            }
            return .aiAgent(agent)
        case (.automation(let source)?, .automation(var automation)):
            for path in paths.paths {
                switch path {
                case "automation.display_name": automation.displayName = source.displayName
                case "automation.offset": automation.offset = source.offset
                case "automation.template": automation.template = source.template
                case "automation.disabled": automation.disabled = source.disabled
                default: break
                }
            }
            return .automation(automation)
        default:
            let kind = CatalogUpdateMask.fieldName(of: target)
            throw ServiceError.invalidArgument(field: "catalog_item.\(kind)", "is required: the item is a \(kind), and the update's fields come from it")
        }
    }

    /// The content's field name in CatalogItem, e.g. `service`.
    static func fieldName(of content: CatalogItem.OneOf_Content) -> String {
        switch content {
        case .service: return "service"
        case .faq: return "faq"
        case .smsTemplate: return "sms_template"
        case .aiAgent: return "ai_agent"
        case .automation: return "automation"
        }
    }
}
