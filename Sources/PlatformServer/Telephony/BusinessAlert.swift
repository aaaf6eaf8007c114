import Foundation
import ServiceProAPI

/// What a line texts the business about what reached it (`PhoneConfig.business_alerts`): a
/// voicemail, or a text. Each goes through the outbox from the line's number, once per call or
/// text: a webhook Twilio sends again, or a status replayed from the bridge's spool, finds its
/// alert queued already.
///
/// No alert goes to a number one of the platform's `lines` answers, nor about a text from one,
/// nor about the business's own texts to its line: an alert that arrived as a text would be
/// alerted again.
enum BusinessAlert {
    /// Queues the alert of a voicemail left on `call`, when its line asks for them.
    static func voicemail(_ call: PhoneCall, lines: TenantResolver.PlatformLines, _ tx: TenantTransaction) async throws {
        guard let to = try await recipient(of: call.phoneConfig, asking: \.voicemails, lines: lines, tx) else { return }
        let seconds = Int(call.recordingDuration.seconds)
        let length = call.hasRecordingDuration ? ", \(seconds / 60):\(String(format: "%02d", seconds % 60))" : ""
        let body = "Voicemail for \(to.tenant.displayName) from \(try await caller(call.customer, number: call.from, tx))\(length): \(call.recordingURL)"
        try await OutboxRecords.enqueue(.sms(
            to: to.business, from: to.line.textSender, body: body.truncated(to: OutboxRecords.maxTextLength),
            purpose: "business_alert voicemail", dedupeKey: "business_alert/voicemail/\(call.callSid)"), tx)
    }

    /// Queues the alert of `text`, received on its line, when the line asks for them.
    static func text(_ text: TextMessage, lines: TenantResolver.PlatformLines, _ tx: TenantTransaction) async throws {
        guard let to = try await recipient(of: text.phoneConfig, asking: \.texts, lines: lines, tx),
              ![to.tenant.contact.phone, to.line.forwardNumber].contains(text.from), !lines.answers(text.from),
              try await !toldAlready(text, tx)
        else { return }
        let count = text.mediaUrls.count
        let pictures = count == 0 ? "" : " (\(count) picture\(count == 1 ? "" : "s"))"
        let heading = "Text to \(to.tenant.displayName) from \(try await caller(text.customer, number: text.from, tx))\(pictures): "
        try await OutboxRecords.enqueue(.sms(
            to: to.business, from: to.line.textSender, body: (heading + "\"\(text.body)\"").truncated(to: OutboxRecords.maxTextLength),
            purpose: "business_alert text", dedupeKey: "business_alert/text/\(text.messageSid)"), tx)
    }

    /// Whether `text` is a customer's reply the business was told of already (``CustomerReply``),
    /// sent again.
    private static func toldAlready(_ text: TextMessage, _ tx: TenantTransaction) async throws -> Bool {
        guard CustomerReply(text.body) != nil else { return false }
        return try await OutboxRecords.find(dedupeKey: CustomerReply.noteKey(text.messageSid), tx) != nil
    }

    /// The line `phoneConfig` names, its tenant and the business's number, when the line asks for
    /// the alert `kind`, the tenant is in good standing and the business has a number that takes
    /// texts and is no line's.
    private static func recipient(
        of phoneConfig: String, asking kind: KeyPath<BusinessAlerts, Bool>, lines: TenantResolver.PlatformLines, _ tx: TenantTransaction
    ) async throws -> (line: PhoneConfig, tenant: Tenant, business: String)? {
        guard let id = PhoneConfigRecords.collection.id(in: phoneConfig, tenantID: tx.tenantID),
              let line = try await PhoneConfigRecords.find(id: id, tx)?.config, line.businessAlerts[keyPath: kind],
              let tenant = try await TenantRecords.find(tx), tenant.status.isInGoodStanding,
              let business = businessNumber(line: line, tenant: tenant, lines: lines)
        else { return nil }
        return (line, tenant, business)
    }

    /// Where a text about `line` goes to `tenant`'s business (``PhoneConfig/businessTextNumber(of:)``),
    /// unless one of the platform's `lines` answers that number.
    static func businessNumber(line: PhoneConfig, tenant: Tenant, lines: TenantResolver.PlatformLines) -> String? {
        guard let business = line.businessTextNumber(of: tenant), !lines.answers(business) else { return nil }
        return business
    }

    /// "Jane Doe (+15550001111)", or the number alone for a caller with no name on file.
    static func caller(_ customer: String, number: String, _ tx: TenantTransaction) async throws -> String {
        guard let id = CustomerRecords.collection.id(in: customer, tenantID: tx.tenantID),
              let name = try await CustomerRecords.find(id: id, tx)?.displayName, !name.isEmpty
        else { return number }
        return "\(name) (\(number))"
    }
}
