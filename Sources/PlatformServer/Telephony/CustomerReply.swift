import Foundation
import RPCRuntime
import ServiceProAPI

/// A customer's answer to a booking text: the packs' confirmations and reminders say "Reply C to
/// cancel or R to reschedule", and this is what makes them true. A "C" cancels the appointment the
/// customer was last texted about and says so; an "R" asks for a new time (or points at the
/// booking page); either way the business is told, as the receptionist's notes are.
///
/// Only a reply to such a text counts: an open appointment that an automation texted the sender
/// about in the last week. Any other "C" is an ordinary text.
enum CustomerReply: Sendable {
    case cancel
    case reschedule

    /// How long after its text a reply still answers it.
    static let window: TimeInterval = 7 * 86_400

    /// The reply `body` is, if it is one: "C" or "cancel", "R" or "reschedule", whatever the case,
    /// spacing or closing punctuation.
    init?(_ body: String) {
        let word = body.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters)).lowercased()
        switch word {
        case "c", "cancel": self = .cancel
        case "r", "reschedule": self = .reschedule
        default: return nil
        }
    }

    /// What this reply to `text` did, as its answer to the customer and its note to the business;
    /// nil when it answers no booking text, and is an ordinary text. Cancels in `tx`, audited as
    /// the caller of `context` acting on the customer's word.
    func apply(to text: TextMessage, tenant: Tenant, context: RequestContext, _ tx: TenantTransaction, now: Date = Date()) async throws -> (answer: String, note: String)? {
        guard var appointment = try await Self.appointmentTextedAbout(text, tx, now: now) else { return nil }
        let when = TimeZone(identifier: tenant.timeZone).map { " on \(AppointmentTime.spoken(appointment.startTime.date, in: $0))" } ?? ""
        let what = "\(appointment.serviceName)\(when)"
        let who = try await BusinessAlert.caller(text.customer, number: text.from, tx)
        switch self {
        case .cancel:
            let current = appointment
            appointment.status = .cancelled
            let id = AppointmentRecords.collection.id(in: appointment.name, tenantID: tx.tenantID) ?? ""
            guard try await AppointmentRecords.update(appointment, replacing: current, id: id, tx) else {
                throw Etag.concurrentChange(of: appointment.name)
            }
            try await AuditLog.record(tx, context: context, resource: appointment.name, details: [
                "status": AppointmentStatus.cancelled.storedName, "by_customer_text": text.messageSid,
            ])
            return ("Your \(appointment.serviceName) with \(tenant.displayName)\(when) is cancelled. Text us any time to book again.",
                    "\(who) cancelled their \(what) by text.")
        case .reschedule:
            let answer = tenant.bookingURL.isEmpty
                ? "Sure! Reply with a day and time that suits you, and \(tenant.displayName) will confirm your new time."
                : "Sure! Pick a new time for your \(appointment.serviceName) at \(tenant.bookingURL), or reply with a day and time that suits you."
            return (answer, "\(who) asked by text to move their \(what). Text them back with a new time.")
        }
    }

    /// The open, future appointment of `text`'s sender that an automation texted them about last,
    /// within the ``window``; nil when there is none.
    private static func appointmentTextedAbout(_ text: TextMessage, _ tx: TenantTransaction, now: Date) async throws -> Appointment? {
        let keys = try await tx.base.query("""
            SELECT dedupe_key FROM outbox_messages
            WHERE tenant_id = \(tx.tenantID) AND recipient = \(text.from) AND dedupe_key LIKE 'automation/%'
            AND create_time > \(now.addingTimeInterval(-window))
            ORDER BY create_time DESC LIMIT 10
            """).map { try $0.string("dedupe_key") }
        for key in keys {
            // automation/<automation>/<appointment>, a reminder's with @<minute> after it.
            let parts = key.split(separator: "/")
            guard parts.count == 3, let id = parts[2].split(separator: "@").first.map(String.init),
                  let appointment = try await AppointmentRecords.find(id: id, tx),
                  appointment.customer == text.customer, [.scheduled, .confirmed].contains(appointment.status),
                  appointment.startTime.date > now
            else { continue }
            return appointment
        }
        return nil
    }
}
