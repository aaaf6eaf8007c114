import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// What a pack file must say for the platform to start. Packs are checked once, when they are
/// loaded, so a pack that would show a service without a price, send a text with a hole in it or
/// give the merge rules two items with one key never reaches a tenant. Each violation names its
/// field with the API's path syntax, e.g. `services[2].duration`.
enum IndustryPackRules {
    /// A pack's id, its file name without `.json`: what `industryPacks/{pack}` and
    /// `Tenant.industry` hold.
    static let idPattern = FieldPattern("[a-z][a-z0-9_]{0,62}")
    private static let currencyPattern = FieldPattern("[A-Z]{3}")
    /// As `AutomationRule.key`: short enough for its catalog item's id.
    private static let automationKeyPattern = FieldPattern("[a-z][a-z0-9_]{0,51}")
    private static let menuDigitPattern = FieldPattern("[0-9]")

    /// Every pack has these: bookings, reminders and review requests send them.
    static let requiredTemplates: [SmsTemplateKind] = [.bookingConfirmation, .reminder, .reviewRequest]

    /// Everything wrong with `pack`, as parsed from its file; empty when it may be offered.
    static func violations(in pack: IndustryPack) -> [FieldViolation] {
        var found: [FieldViolation] = []
        if !pack.name.isEmpty { found.add("name", "is set from the file name; remove it") }
        if !pack.version.isEmpty { found.add("version", "is computed from the file's contents; remove it") }
        if pack.displayName.isBlank { found.add("display_name", "is required") }
        if pack.summary.isBlank { found.add("summary", "is required: one line for pack pickers") }
        checkServices(pack.services, &found)
        checkFaqs(pack.faqs, &found)
        checkTemplates(pack.smsTemplates, &found)
        checkIvrMenu(pack, &found)
        checkAgent(pack, &found)
        checkAutomations(pack.automations, templates: Set(pack.smsTemplates.map(\.kind)), &found)
        return found
    }

    // MARK: Services

    private static func checkServices(_ services: [ServiceOffering], _ found: inout [FieldViolation]) {
        if services.isEmpty { found.add("services", "needs at least one service") }
        var seen: [String: Int] = [:]
        for (index, service) in services.enumerated() {
            let path = "services[\(index)]."
            checkUnique(service.name, field: path + "name", noun: "service name", seen: &seen, index: index, list: "services", &found)
            found += violations(in: service, path: path)
        }
    }

    /// What is wrong with one service, wherever it comes from (a pack file, or a business adding
    /// it to its catalog); `path` leads each field's name, e.g. `services[2].`.
    static func violations(in service: ServiceOffering, path: String) -> [FieldViolation] {
        var found: [FieldViolation] = []
        checkKey(service.name, field: path + "name", &found)
        if !service.hasDuration || !service.duration.isPositive {
            found.add(path + "duration", "must be positive, e.g. \"3600s\" for an hour")
        }
        if service.priceCents < 0 { found.add(path + "price_cents", "must not be negative") }
        if !currencyPattern.matches(service.currencyCode) {
            found.add(path + "currency_code", "must be a 3-letter ISO 4217 code such as USD")
        }
        var seenUpsells: [String: Int] = [:]
        for (upsellIndex, upsell) in service.upsells.enumerated() {
            let upsellPath = path + "upsells[\(upsellIndex)]."
            checkKey(upsell.name, field: upsellPath + "name", &found)
            checkUnique(
                upsell.name, field: upsellPath + "name", noun: "upsell name", seen: &seenUpsells, index: upsellIndex,
                list: path + "upsells", &found)
            if upsell.priceCents < 0 { found.add(upsellPath + "price_cents", "must not be negative") }
            if upsell.hasExtraDuration, upsell.extraDuration.isNegative {
                found.add(upsellPath + "extra_duration", "must not be negative")
            }
        }
        return found
    }

    // MARK: FAQs

    private static func checkFaqs(_ faqs: [Faq], _ found: inout [FieldViolation]) {
        var seen: [String: Int] = [:]
        for (index, faq) in faqs.enumerated() {
            let path = "faqs[\(index)]."
            checkUnique(faq.question, field: path + "question", noun: "question", seen: &seen, index: index, list: "faqs", &found)
            found += violations(in: faq, path: path)
        }
    }

    /// What is wrong with one FAQ, as for a service.
    static func violations(in faq: Faq, path: String) -> [FieldViolation] {
        var found: [FieldViolation] = []
        checkKey(faq.question, field: path + "question", &found)
        if faq.answer.isBlank { found.add(path + "answer", "is required") }
        found += PackPlaceholders.violations(in: faq.answer, allowed: PackPlaceholders.businessOnly, field: path + "answer")
        return found
    }

    // MARK: SMS templates

    private static func checkTemplates(_ templates: [SmsTemplate], _ found: inout [FieldViolation]) {
        var seen: [SmsTemplateKind: Int] = [:]
        for (index, template) in templates.enumerated() {
            let path = "sms_templates[\(index)]."
            if template.kind.isDefinedKind, let earlier = seen[template.kind] {
                found.add(path + "kind", "\(template.kind.keyName) is already used by sms_templates[\(earlier)]; a pack has one template per kind")
            } else if template.kind.isDefinedKind {
                seen[template.kind] = index
            }
            found += violations(in: template, path: path)
        }
        for kind in requiredTemplates where seen[kind] == nil {
            found.add("sms_templates", "needs a \(kind.keyName) template")
        }
    }

    /// What is wrong with one SMS template, as for a service.
    static func violations(in template: SmsTemplate, path: String) -> [FieldViolation] {
        var found: [FieldViolation] = []
        if !template.kind.isDefinedKind {
            found.add(path + "kind", "must be an SmsTemplateKind such as SMS_TEMPLATE_KIND_REMINDER")
        }
        if template.body.isBlank { found.add(path + "body", "is required") }
        // The auto-reply goes to someone not yet known: no customer, no appointment.
        let allowed = template.kind == .autoReply ? PackPlaceholders.lineText : PackPlaceholders.smsTemplate
        found += PackPlaceholders.violations(in: template.body, allowed: allowed, field: path + "body")
        return found
    }

    // MARK: IVR menu

    private static func checkIvrMenu(_ pack: IndustryPack, _ found: inout [FieldViolation]) {
        guard pack.hasIvrMenu else {
            found.add("ivr_menu", "is required: the menu a tenant's IVR number starts with")
            return
        }
        let menu = pack.ivrMenu
        // The limits phone configs enforce, so the menu can be put on one as it is.
        menu.validate(path: "ivr_menu.", into: &found)
        if menu.greeting.isBlank { found.add("ivr_menu.greeting", "is required") }
        found += PackPlaceholders.violations(in: menu.greeting, allowed: PackPlaceholders.businessOnly, field: "ivr_menu.greeting")
        if menu.options.isEmpty { found.add("ivr_menu.options", "needs at least one option") }
        var seen: [String: Int] = [:]
        for (index, option) in menu.options.enumerated() {
            let path = "ivr_menu.options[\(index)]."
            if !option.digit.isEmpty {
                if !menuDigitPattern.matches(option.digit) {
                    found.add(path + "digit", "must be one digit from 0 to 9")
                } else if let earlier = seen[option.digit] {
                    found.add(path + "digit", "\(option.digit) is already used by ivr_menu.options[\(earlier)]")
                } else {
                    seen[option.digit] = index
                }
            }
            if option.prompt.isBlank { found.add(path + "prompt", "is required: callers hear it in the menu") }
            if option.action == .bookingLinkSms, option.smsBody.isBlank {
                found.add(path + "sms_body", "is required for IVR_ACTION_BOOKING_LINK_SMS: it is the text the caller gets")
            }
            found += option.placeholderViolations(path: path)
        }
    }

    // MARK: AI agent

    private static func checkAgent(_ pack: IndustryPack, _ found: inout [FieldViolation]) {
        guard pack.hasAiAgent else {
            found.add("ai_agent", "is required: the instructions a tenant's AI agents start with")
            return
        }
        found += violations(in: pack.aiAgent, path: "ai_agent.")
    }

    /// What is wrong with AI agent settings, as for a service.
    static func violations(in agent: AiAgentConfig, path: String) -> [FieldViolation] {
        var found: [FieldViolation] = []
        if agent.instructions.isBlank { found.add(path + "instructions", "is required") }
        if agent.greeting.isBlank { found.add(path + "greeting", "is required") }
        found += PackPlaceholders.violations(in: agent.instructions, allowed: PackPlaceholders.businessOnly, field: path + "instructions")
        found += PackPlaceholders.violations(in: agent.greeting, allowed: PackPlaceholders.businessOnly, field: path + "greeting")
        var seen: [String: Int] = [:]
        for (index, word) in agent.vocabulary.enumerated() {
            checkKey(word, field: path + "vocabulary[\(index)]", &found)
            checkUnique(word, field: path + "vocabulary[\(index)]", noun: "term", seen: &seen, index: index, list: path + "vocabulary", &found)
        }
        return found
    }

    // MARK: Automations

    private static func checkAutomations(_ automations: [AutomationRule], templates: Set<SmsTemplateKind>, _ found: inout [FieldViolation]) {
        var seen: [String: Int] = [:]
        for (index, automation) in automations.enumerated() {
            let path = "automations[\(index)]."
            if automationKeyPattern.matches(automation.key), let earlier = seen[automation.key] {
                found.add(path + "key", "\(automation.key) is already used by automations[\(earlier)]; automation keys must be unique")
            } else {
                seen[automation.key] = index
            }
            found += violations(in: automation, path: path)
            if automation.template.isDefinedKind, !templates.contains(automation.template) {
                found.add(path + "template", "names \(automation.template.keyName), which the pack's sms_templates do not have")
            }
        }
    }

    /// What is wrong with one automation, wherever it comes from (a pack file, or a business
    /// adding it to its catalog); `path` leads each field's name, e.g. `automations[1].`.
    static func violations(in automation: AutomationRule, path: String) -> [FieldViolation] {
        var found: [FieldViolation] = []
        if !automationKeyPattern.matches(automation.key) {
            found.add(path + "key", "must be a lowercase letter, then lowercase letters, digits or underscores, e.g. reminder_24h")
        }
        if automation.displayName.isBlank { found.add(path + "display_name", "is required") }
        switch automation.trigger {
        case .appointmentBooked, .appointmentCompleted:
            if automation.hasOffset, automation.offset.isNegative { found.add(path + "offset", "must not be negative") }
        case .beforeAppointmentStart:
            if !automation.hasOffset || !automation.offset.isPositive {
                found.add(path + "offset", "must be positive for AUTOMATION_TRIGGER_BEFORE_APPOINTMENT_START, e.g. \"86400s\" for a day before")
            }
        case .unspecified, .UNRECOGNIZED:
            found.add(path + "trigger", "must be an AutomationTrigger such as AUTOMATION_TRIGGER_BEFORE_APPOINTMENT_START")
        }
        if !automation.template.isDefinedKind || automation.template == .autoReply {
            found.add(path + "template", "must be the SmsTemplateKind of a text to a customer, such as SMS_TEMPLATE_KIND_REMINDER")
        }
        return found
    }

    // MARK: Keys

    /// A key the merge rules match on (or a name people pick from a list): required, and without
    /// leading or trailing spaces.
    private static func checkKey(_ value: String, field: String, _ found: inout [FieldViolation]) {
        if value.isBlank {
            found.add(field, "is required")
        } else if value != value.trimmingCharacters(in: .whitespacesAndNewlines) {
            found.add(field, "must not start or end with spaces")
        }
    }

    /// Unique in its list ignoring case, since two entries that differ only in case are one entry
    /// typed twice.
    private static func checkUnique(
        _ value: String, field: String, noun: String, seen: inout [String: Int], index: Int, list: String,
        _ found: inout [FieldViolation]
    ) {
        guard !value.isBlank else { return }
        let folded = value.lowercased()
        if let earlier = seen[folded] {
            found.add(field, "\"\(value)\" is already used by \(list)[\(earlier)]; each \(noun) must be unique")
        } else {
            seen[folded] = index
        }
    }
}

extension Array where Element == FieldViolation {
    fileprivate mutating func add(_ field: String, _ description: String) {
        append(FieldViolation(field: field, description: description))
    }
}

extension String {
    fileprivate var isBlank: Bool { trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
}

extension Google_Protobuf_Duration {
    fileprivate var isPositive: Bool { seconds > 0 || (seconds == 0 && nanos > 0) }
    fileprivate var isNegative: Bool { seconds < 0 || nanos < 0 }
}

extension SmsTemplateKind {
    /// A kind the API defines, other than unspecified.
    var isDefinedKind: Bool {
        switch self {
        case .bookingConfirmation, .reminder, .reviewRequest, .autoReply: return true
        case .unspecified, .UNRECOGNIZED: return false
        }
    }
}
