import Foundation
import ServiceProAPI

/// Whether an automation text the outbox is about to send still holds. The outbox may come to it
/// late: a provider down for hours, or credentials waiting for an operator, put it off by as long.
/// By then its booking may have been cancelled or moved, or night have come where the business is.
enum AutomationTextCheck {
    /// nil when the text queued under `key` is no automation text, or may go now; else what the
    /// outbox does instead: wait for the business's morning (spending no attempt), or give it up
    /// (a later pass of the automations texts what is true by then).
    static func withheld(textKey key: String, now: Date, quietHours: QuietHours?, _ tx: TenantTransaction) async throws -> OutboxOutcome? {
        guard let parts = AutomationSchedule.textKeyParts(key) else { return nil }
        guard let tenant = try await TenantRecords.find(tx), AutomationJob.runsAutomations(tenant) else {
            return withdrawn("the business no longer sends automated texts (its status or plan changed)")
        }
        let rule = try await PackItemRecords.automationRules(tx).first { $0.key == parts.automation }
        guard let rule, !rule.disabled else { return withdrawn("its automation was switched off or removed") }
        guard let appointment = try await AppointmentRecords.find(id: parts.appointmentID, tx) else {
            return withdrawn("its appointment was deleted")
        }
        let schedule = AutomationSchedule(rule: rule)
        let start = appointment.startTime.date
        if rule.trigger == .appointmentCompleted {
            guard appointment.status == .completed else { return withdrawn("its appointment is no longer completed") }
        } else {
            guard [.scheduled, .confirmed].contains(appointment.status), start > now else {
                return withdrawn("its appointment was cancelled, or has begun")
            }
            guard schedule.names(startTime: appointment.startTime, inTextKey: key) else {
                return withdrawn("its appointment was moved; the automations text its new time")
            }
        }
        guard let zone = TimeZoneName.zone(tenant.timeZone) else { return nil }
        var sendTime = now
        if let quietHours, !quietHours.allowsTexts(at: now, in: zone) {
            sendTime = quietHours.nextOpening(after: now, in: zone)
            if rule.trigger != .appointmentCompleted, sendTime >= start {
                return withdrawn("the business's morning comes after its appointment begins")
            }
        }
        if schedule.isPastItsDay(sentAt: sendTime, start: start, in: zone) {
            return withdrawn("a reminder for the day before would reach the customer on the day itself")
        }
        guard sendTime == now else {
            return .deferred(reason: "waits for the business's day (texts go out 8 AM to 9 PM where it is)", until: sendTime)
        }
        return nil
    }

    private static func withdrawn(_ reason: String) -> OutboxOutcome {
        .failed(error: "not sent: \(reason)")
    }
}
