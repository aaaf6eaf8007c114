import Crypto
import Foundation
import RPCRuntime
import ServiceProAPI

/// A catalog item is the tenant's pack item of the same kind and key (``StoredPackItem``), so
/// the merge rules see what a business changes here as its own edit, and what it makes here as
/// its own item.
///
/// An item's id comes from what it is, which is also what the merge rules match on: a service's
/// name and an FAQ's question (ignoring case, as packs keep them unique), a template's kind, the
/// one set of AI agent settings. Items a pack wrote and items a business made are named alike,
/// and a name never changes while the item lives.
enum CatalogItemContent {
    static let collection = "catalogItems"

    /// The kinds the catalog shows. The IVR menu is edited on the phone config, where calls read it.
    static let kinds: [PackItemKind] = [.service, .faq, .smsTemplate, .aiAgent, .automation]

    /// The id of the item of `kind` keyed `key`; nil for a kind the catalog does not show.
    static func id(kind: PackItemKind, key: String) -> String? {
        switch kind {
        case .service: return "service-" + digest(of: key)
        case .faq: return "faq-" + digest(of: key)
        case .smsTemplate: return "sms-template-" + templateWords(key).replacingOccurrences(of: " ", with: "-")
        case .aiAgent: return "ai-agent"
        // Keys are lowercase letters, digits and underscores, so this is one to one.
        case .automation: return "automation-" + key.replacingOccurrences(of: "_", with: "-")
        case .ivrMenu, .unspecified, .UNRECOGNIZED: return nil
        }
    }

    /// The id in `name` when it names one of `tenantID`'s catalog items; nil for any other name,
    /// including another tenant's items.
    static func id(in name: String, tenantID: String) -> String? {
        ResourceName.id(in: name, tenantID: tenantID, collection: collection)
    }

    /// A template's kind in words: `SMS_TEMPLATE_KIND_REVIEW_REQUEST` is "review request".
    private static func templateWords(_ keyName: String) -> String {
        keyName.replacingOccurrences(of: "SMS_TEMPLATE_KIND_", with: "").replacingOccurrences(of: "_", with: " ").lowercased()
    }

    /// Twelve hex digits of SHA-256 over the key ignoring case: short, fixed, and as unique as the
    /// keys themselves in any one tenant's catalog.
    private static func digest(of key: String) -> String {
        SHA256.hash(data: Data(key.lowercased().utf8)).prefix(6).hex
    }

    /// The pack item `content` is kept as.
    static func packItem(_ content: CatalogItem.OneOf_Content) throws -> PackItemContent {
        switch content {
        case .service(let service): return try PackItemContent(kind: .service, key: service.name, service)
        case .faq(let faq): return try PackItemContent(kind: .faq, key: faq.question, faq)
        case .smsTemplate(let template): return try PackItemContent(kind: .smsTemplate, key: template.kind.keyName, template)
        case .aiAgent(let agent): return try PackItemContent(kind: .aiAgent, key: "", agent)
        case .automation(let automation): return try PackItemContent(kind: .automation, key: automation.key, automation)
        }
    }

    /// What is wrong with `content` beyond the proto's rules: what a pack file is held to.
    static func violations(in content: CatalogItem.OneOf_Content, path: String) -> [FieldViolation] {
        switch content {
        case .service(let service):
            let found = IndustryPackRules.violations(in: service, path: path + "service.")
            return found + [CurrencyCode.violation(service.currencyCode, field: path + "service.currency_code")].compactMap { $0 }
        case .faq(let faq): return IndustryPackRules.violations(in: faq, path: path + "faq.")
        case .smsTemplate(let template): return IndustryPackRules.violations(in: template, path: path + "sms_template.")
        case .aiAgent(let agent): return IndustryPackRules.violations(in: agent, path: path + "ai_agent.")
        case .automation(let automation): return IndustryPackRules.violations(in: automation, path: path + "automation.")
        }
    }

    /// The item `stored` is, under `tenantID`; nil for a kind the catalog does not show, or content
    /// that no longer reads as its kind's message.
    static func item(_ stored: StoredPackItem, tenantID: String) -> CatalogItem? {
        guard let id = id(kind: stored.kind, key: stored.key), let content = try? content(of: stored) else { return nil }
        return CatalogItem.with {
            $0.name = "tenants/\(tenantID)/\(collection)/\(id)"
            $0.displayName = displayName(of: content)
            $0.content = content
            $0.pack = stored.pack ?? ""
            $0.edited = stored.isTenantEdited
            $0.etag = etag(of: stored)
            $0.createTime = .init(date: stored.createTime)
            $0.updateTime = .init(date: stored.updateTime)
        }
    }

    private static func content(of stored: StoredPackItem) throws -> CatalogItem.OneOf_Content? {
        switch stored.kind {
        case .service: return .service(try stored.decoded(ServiceOffering.self))
        case .faq: return .faq(try stored.decoded(Faq.self))
        case .smsTemplate: return .smsTemplate(try stored.decoded(SmsTemplate.self))
        case .aiAgent: return .aiAgent(try stored.decoded(AiAgentConfig.self))
        case .automation: return .automation(try stored.decoded(AutomationRule.self))
        case .ivrMenu, .unspecified, .UNRECOGNIZED: return nil
        }
    }

    /// Quoted, as in HTTP: part of a digest of the stored content, which changes whenever the
    /// content does.
    static func etag(of stored: StoredPackItem) -> String {
        "\"" + SHA256.hash(data: Data(stored.content.utf8)).prefix(8).hex + "\""
    }

    /// What `content` is, as a list shows it.
    static func displayName(of content: CatalogItem.OneOf_Content) -> String {
        switch content {
        case .service(let service): return service.name
        case .faq(let faq): return faq.question
        case .smsTemplate(let template):
            let words = templateWords(template.kind.keyName)
            return words.prefix(1).uppercased() + words.dropFirst()
        case .aiAgent: return "AI agent"
        case .automation(let automation): return automation.displayName
        }
    }
}

extension CatalogItemKind {
    /// The pack item kind the filter selects; nil for all.
    var packItemKind: PackItemKind? {
        switch self {
        case .service: return .service
        case .faq: return .faq
        case .smsTemplate: return .smsTemplate
        case .aiAgent: return .aiAgent
        case .automation: return .automation
        case .unspecified, .UNRECOGNIZED: return nil
        }
    }
}
