import Foundation
import ServiceProAPI

/// What a line texts the business about what reached it (`PhoneConfig.business_alerts`): a
/// voicemail, or a text. Each goes through the outbox from the line's number, once per call or
/// text: a webhook Twilio sends again, or a status replayed from the bridge's spool, finds its
/// alert queued already.
enum BusinessAlert {
    /// Queues the alert of a voicemail left on `call`, when its line asks for them.
    static func voicemail(_ call: PhoneCall, _ tx: TenantTransaction) async throws {
        guard let to = try await recipient(of: call.phoneConfig, asking: \.voicemails, tx) else { return }
        let seconds = call.recordingDuration.seconds
        let length = call.hasRecordingDuration ? ", \(seconds / 60):\(String(format: "%02d", seconds % 60))" : ""
        let body = "Voicemail for \(to.tenant.displayName) from \(try await caller(call.customer, number: call.from, tx))\(length): \(call.recordingURL)"
        try await OutboxRecords.enqueue(.sms(
            to: to.business, from: to.line.textSender, body: body.truncated(to: OutboxRecords.maxTextLength),
            purpose: "business_alert voicemail", dedupeKey: "business_alert/voicemail/\(call.callSid)"), tx)
    }

    /// Queues the alert of `text`, received on its line, when the line asks for them; never for
    /// the business's own texts to the line (its reply to an alert would come back as another).
    static func text(_ text: TextMessage, _ tx: TenantTransaction) async throws {
        guard let to = try await recipient(of: text.phoneConfig, asking: \.texts, tx), text.from != to.business else { return }
        let count = text.mediaUrls.count
        let pictures = count == 0 ? "" : " (\(count) picture\(count == 1 ? "" : "s"))"
        let heading = "Text to \(to.tenant.displayName) from \(try await caller(text.customer, number: text.from, tx))\(pictures): "
        try await OutboxRecords.enqueue(.sms(
            to: to.business, from: to.line.textSender, body: (heading + "\"\(text.body)\"").truncated(to: OutboxRecords.maxTextLength),
            purpose: "business_alert text", dedupeKey: "business_alert/text/\(text.messageSid)"), tx)
    }

    /// The line `phoneConfig` names, its tenant and the business's number, when the line asks for
    /// the alert `kind`, the tenant is in good standing and the business has a number that takes
    /// texts.
    private static func recipient(
        of phoneConfig: String, asking kind: KeyPath<BusinessAlerts, Bool>, _ tx: TenantTransaction
    ) async throws -> (line: PhoneConfig, tenant: Tenant, business: String)? {
        guard let id = phoneConfig.split(separator: "/").last.map(String.init),
              let line = try await PhoneConfigRecords.find(id: id, tx)?.config, line.businessAlerts[keyPath: kind],
              let tenant = try await TenantRecords.find(tx), tenant.status.isInGoodStanding,
              let business = line.businessTextNumber(of: tenant)
        else { return nil }
        return (line, tenant, business)
    }

    /// "Jane Doe (+15550001111)", or the number alone for a caller with no name on file.
    private static func caller(_ customer: String, number: String, _ tx: TenantTransaction) async throws -> String {
        guard let id = customer.split(separator: "/").last.map(String.init),
              let name = try await CustomerRecords.find(id: id, tx)?.displayName, !name.isEmpty
        else { return number }
        return "\(name) (\(number))"
    }
}
