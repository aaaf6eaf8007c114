import Foundation
import RPCRuntime
import ServiceProAPI

/// Whether an automation text the outbox is about to send still holds, and what it says then.
/// The outbox may come to it late: a provider down for hours, or credentials waiting for an
/// operator, put it off by as long. By then its booking may have been cancelled or moved, night
/// have come where the business is, "tomorrow" have become "today", the customer's number
/// have been corrected, or the business's line have changed its number.
enum AutomationTextCheck {
    /// What the outbox does with an automation text when it comes to send it.
    enum Verdict: Equatable {
        /// Send it, filled in again as of now (so what it says of times reads true when it goes),
        /// to the customer's number as it is now, from the business's line as it is now: a
        /// number the business gave up may be another business's by then, and the customer's
        /// answer would reach it.
        case send(body: String, recipient: String, sender: String)
        /// Try again at `until`, spending no attempt.
        case wait(reason: String, until: Date)
        /// It no longer holds: not sent. A later pass of the automations texts what is true by
        /// then (a moved booking's new time).
        case withdraw(reason: String)
    }

    /// How long a text waits for what the business must set or mend (its status, its time zone,
    /// what its template names) before it is looked at again.
    static let pause: TimeInterval = 3_600

    /// The verdict on the text queued under `key` at `queuedAt`. A text waits at most
    /// ``AutomationSchedule/catchUp`` from its queueing, as the automations send nothing later
    /// than that either.
    static func verdict(
        on key: AutomationSchedule.TextKey, queuedAt: Date, now: Date, quietHours: QuietHours?, _ tx: TenantTransaction
    ) async throws -> Verdict {
        guard now.timeIntervalSince(queuedAt) <= AutomationSchedule.catchUp else {
            return .withdraw(reason: "it could not go within a day of being due")
        }
        let rule = try await PackItemRecords.automationRules(tx).first { $0.key == key.automation }
        guard let rule, !rule.disabled else { return .withdraw(reason: "its automation was switched off or removed") }
        guard let appointment = try await AppointmentRecords.find(id: key.appointmentID, tx) else {
            return .withdraw(reason: "its appointment was deleted")
        }
        let start = appointment.startTime.date
        let schedule = AutomationSchedule(rule: rule)
        if rule.trigger == .appointmentCompleted {
            guard appointment.status == .completed else { return .withdraw(reason: "its appointment is no longer completed") }
        } else {
            guard [.scheduled, .confirmed].contains(appointment.status), start > now else {
                return .withdraw(reason: "its appointment was cancelled, or has begun")
            }
            guard schedule.names(startTime: appointment.startTime, in: key) else {
                return .withdraw(reason: "its appointment was moved; the automations text its new time")
            }
        }
        guard let customerID = ResourceName.id(of: appointment.customer, after: "customers"),
              let customer = try await CustomerRecords.find(id: customerID, tx), PhoneNumber.isE164(customer.phoneNumber)
        else {
            return .withdraw(reason: "its customer has no phone number to text now")
        }
        guard let tenant = try await TenantRecords.find(tx), tenant.status != .cancelled else {
            return .withdraw(reason: "the business has left")
        }
        guard let zone = TimeZoneName.zone(tenant.timeZone), AutomationJob.runsAutomations(tenant) else {
            return .wait(reason: "waits while the business sends no automated texts (its status, plan or time zone)", until: now.addingTimeInterval(pause))
        }
        var sendTime = now
        if let quietHours, !quietHours.allowsTexts(at: now, in: zone) {
            sendTime = quietHours.nextOpening(after: now, in: zone)
            if rule.trigger != .appointmentCompleted, sendTime >= start {
                return .withdraw(reason: "the business's morning comes after its appointment begins")
            }
        }
        if schedule.isPastItsDay(sentAt: sendTime, start: start, in: zone) {
            return .withdraw(reason: "a reminder for the day before would reach the customer on the day itself")
        }
        guard sendTime == now else {
            return .wait(reason: "waits for the business's day (texts go out 8 AM to 9 PM where it is)", until: sendTime)
        }
        guard let template = try await PackItemRecords.smsTemplate(rule.template, tx), !template.body.isEmpty else {
            return .withdraw(reason: "its template is gone")
        }
        guard let sender = try await AutomationJob.sender(tx) else {
            return .withdraw(reason: "the business has no line with a number to text from")
        }
        let missing = AutomationJob.missingValues(in: template.body, tenant)
        guard missing.isEmpty else {
            return .wait(reason: "waits for what its template names and the business has not set: \(missing.joined(separator: ", "))", until: now.addingTimeInterval(pause))
        }
        let due = AutomationSchedule.Due(
            appointmentID: key.appointmentID, serviceName: appointment.serviceName, startTime: start,
            startMinute: appointment.startTime.seconds / 60, customerName: customer.displayName, customerPhone: customer.phoneNumber)
        return .send(
            body: AutomationJob.text(template.body, for: tenant, due, in: zone, sentAt: now), recipient: customer.phoneNumber, sender: sender)
    }
}
