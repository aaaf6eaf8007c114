import Foundation
import RPCRuntime
import ServiceProAPI

/// The `{{name}}` placeholders in pack text, in IVR menus and in auto-replies, filled in when a
/// text is sent or spoken.
///
/// Which names a text may use depends on what is known when it is used: a booking confirmation
/// knows the customer and the appointment, but an IVR greeting, the AI agent's first words and an
/// FAQ answer know only the business. The catalogue checks every text against its set at start,
/// so a customer never receives a message with `{{first_name}}` in it.
enum PackPlaceholders {
    static let businessName = "business_name"
    static let bookingURL = "booking_url"

    /// What SMS templates may use, as SmsTemplate documents.
    static let smsTemplate: Set<String> = [
        businessName, "customer_name", "service_name", "start_time", "start_relative", bookingURL, "review_url",
    ]

    /// What text spoken or shown before any customer or appointment is known may use: the IVR
    /// menu's greeting and prompts, the AI agent's instructions and greeting, FAQ answers.
    static let businessOnly: Set<String> = [businessName]

    /// What a text a tenant's line sends to someone not yet known may use: the auto-reply, and
    /// the booking option's text.
    static let lineText: Set<String> = [businessName, bookingURL]

    /// What the tenant's own details fill in: its name, and its booking link when it has one.
    static func values(for tenant: Tenant) -> [String: String] {
        var values = [businessName: tenant.displayName]
        if !tenant.bookingURL.isEmpty { values[bookingURL] = tenant.bookingURL }
        return values
    }

    /// The placeholder names in `text`, in order, and whether a `{{` is never closed.
    static func names(in text: String) -> (names: [String], unclosed: Bool) {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { return (names, true) }
            names.append(rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces))
            rest = rest[close.upperBound...]
        }
        return (names, false)
    }

    /// What is wrong with the placeholders of `text` at `field`, given the names it may use.
    static func violations(in text: String, allowed: Set<String>, field: String) -> [FieldViolation] {
        let found = names(in: text)
        var violations: [FieldViolation] = []
        let unknown = found.names.filter { !allowed.contains($0) }
        if !unknown.isEmpty {
            let listed = unknown.map { "{{\($0)}}" }.joined(separator: ", ")
            let known = allowed.sorted().map { "{{\($0)}}" }.joined(separator: ", ")
            violations.append(FieldViolation(field: field, description: "uses unknown placeholder \(listed); it may use \(known)"))
        }
        if found.unclosed {
            violations.append(FieldViolation(field: field, description: "has a {{ without its closing }}"))
        }
        return violations
    }

    /// `text` with every placeholder filled in from `values`; nil when it names one `values` lacks
    /// (a booking link the tenant has not set, say), so the caller can choose a text that fits.
    static func completelyFilled(_ text: String, _ values: [String: String]) -> String? {
        let found = names(in: text)
        guard !found.unclosed, found.names.allSatisfy({ values[$0] != nil }) else { return nil }
        return fill(text, values)
    }

    /// The first of `candidates` that is not empty, names only what `values` holds and, filled
    /// in, fits in `maxLength`; nil when none does. A text that needs a detail the tenant has not
    /// given, or that a long link would cut off, gives way to the next.
    static func firstFilled(_ candidates: [String], _ values: [String: String], maxLength: Int) -> String? {
        for candidate in candidates where !candidate.isEmpty {
            if let text = completelyFilled(candidate, values), text.count <= maxLength { return text }
        }
        return nil
    }

    /// `text` with each placeholder named in `values` replaced; others are left as they are.
    static func fill(_ text: String, _ values: [String: String]) -> String {
        var result = ""
        var rest = text[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            result.append(contentsOf: rest[..<open.lowerBound])
            result.append(contentsOf: values[name] ?? String(rest[open.lowerBound..<close.upperBound]))
            rest = rest[close.upperBound...]
        }
        result.append(contentsOf: rest)
        return result
    }
}

extension IvrMenuOption {
    /// What is wrong with the placeholders of the option's prompt and text, whose fields start
    /// with `path`. The prompt is spoken before anyone is known. Services and prices says its text
    /// aloud too, and a link is for reading, not for hearing: only the booking option's text may
    /// name the link.
    func placeholderViolations(path: String) -> [FieldViolation] {
        let textMayName = action == .bookingLinkSms ? PackPlaceholders.lineText : PackPlaceholders.businessOnly
        return PackPlaceholders.violations(in: prompt, allowed: PackPlaceholders.businessOnly, field: path + "prompt")
            + PackPlaceholders.violations(in: smsBody, allowed: textMayName, field: path + "sms_body")
    }
}
