import Foundation
import RPCRuntime
import ServiceProAPI

/// A customer's answer to a booking text: confirmations and reminders that say "Reply C to
/// cancel" or "Reply R to reschedule" mean it. A "C" cancels the appointment the text was about
/// and says so; an "R" asks for a new time (or points at the booking page); either way the
/// business is told, as the receptionist's notes are.
///
/// Only an answer to such a text counts: the newest booking text the sender had from the tenant
/// before it, delivered within the last week, about a booking still open and to come, whose
/// automation's text offers that letter. Any other "C" is an ordinary text. "Cancel" spelled out
/// is not taken: Twilio takes it as an opt-out, and blocks every later text to the sender.
enum CustomerReply: Sendable {
    case cancel
    case reschedule

    /// The outbox key of the business's note about the reply `messageSID`.
    static func noteKey(_ messageSID: String) -> String { "customer_reply/\(messageSID)" }

    /// How long after its text a reply still answers it.
    static let window: TimeInterval = 7 * 86_400

    /// The reply `body` is, if it is one: "C", or "R" or "reschedule", whatever the case or
    /// spacing, with or without a closing "!" or ".".
    init?(_ body: String) {
        // "C?" is a question about the text, not an answer to it.
        switch body.trimmingCharacters(in: Self.around).lowercased() {
        case "c": self = .cancel
        case "r", "reschedule": self = .reschedule
        default: return nil
        }
    }

    /// What may stand around the answer: spacing, and a "!" or ".".
    private static let around = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "!."))

    /// The letter a text offers this reply by.
    var letter: String { self == .cancel ? "C" : "R" }

    /// What answering `text` does: the appointment, the answer to the customer and the note to
    /// the business.
    struct Outcome: Sendable {
        var appointmentID: String
        var appointment: Appointment
        var answer: String
        var note: String
    }

    /// What this reply to `text` would do; nil when it answers no booking text, and is an
    /// ordinary text.
    func outcome(for text: TextMessage, tenant: Tenant, _ tx: TenantTransaction, now: Date = Date()) async throws -> Outcome? {
        guard let (id, appointment) = try await answeredAppointment(text, tx, now: now) else { return nil }
        let when = TimeZoneName.zone(tenant.timeZone).map { " on \(AppointmentTime.spoken(appointment.startTime.date, in: $0))" } ?? ""
        let who = try await BusinessAlert.caller(text.customer, number: text.from, tx)
        let service = appointment.serviceName
        switch self {
        case .cancel:
            return Outcome(
                appointmentID: id, appointment: appointment,
                answer: "Your \(service) with \(tenant.displayName)\(when) is cancelled. Text us any time to book again.",
                note: "\(who) cancelled their \(service)\(when) by text.")
        case .reschedule:
            let answer = tenant.bookingURL.isEmpty
                ? "Sure! Reply with a day and time that suits you, and \(tenant.displayName) will confirm your new time."
                : "Sure! Pick a new time for your \(service) at \(tenant.bookingURL), or reply with a day and time that suits you."
            return Outcome(appointmentID: id, appointment: appointment, answer: answer, note: "\(who) asked by text to move their \(service)\(when). Text them back with a new time.")
        }
    }

    /// Does what `outcome` says, in `tx`: a cancellation, audited as the caller of `context`
    /// acting on the customer's text `messageSID`. Moving a booking is the business's to do.
    func carryOut(_ outcome: Outcome, messageSID: String, context: RequestContext, _ tx: TenantTransaction) async throws {
        guard self == .cancel else { return }
        var appointment = outcome.appointment
        appointment.status = .cancelled
        guard try await AppointmentRecords.update(appointment, replacing: outcome.appointment, id: outcome.appointmentID, tx) else {
            throw Etag.concurrentChange(of: appointment.name)
        }
        try await AuditLog.record(tx, context: context, resource: appointment.name, details: [
            "status": AppointmentStatus.cancelled.storedName, "by_customer_text": messageSID,
        ])
    }

    /// The appointment the booking text `text` answers was about, when it is still open and to
    /// come and its automation's text offers this reply; nil otherwise, and when the newest texts
    /// were about two bookings at once (a reply could mean either).
    private func answeredAppointment(_ text: TextMessage, _ tx: TenantTransaction, now: Date) async throws -> (id: String, appointment: Appointment)? {
        let received = text.hasCreateTime ? text.createTime.date : now
        let newest = try await tx.base.query("""
            SELECT dedupe_key, create_time FROM outbox_messages
            WHERE tenant_id = \(tx.tenantID) AND recipient = \(text.from) AND dedupe_key LIKE \(AutomationSchedule.keyPrefix + "%")
            AND state = \(OutboxMessageState.delivered.storedName)
            AND create_time <= \(received) AND create_time > \(received.addingTimeInterval(-Self.window))
            ORDER BY create_time DESC LIMIT 2
            """).map { (key: try $0.string("dedupe_key"), time: try $0.int("create_time")) }
        guard let last = newest.first, let about = AutomationSchedule.textKey(last.key) else { return nil }
        if newest.count == 2, newest[1].time == last.time, AutomationSchedule.textKey(newest[1].key)?.appointmentID != about.appointmentID {
            return nil
        }
        guard try await offers(automation: about.automation, tx),
              let appointment = try await AppointmentRecords.find(id: about.appointmentID, tx),
              appointment.customer == text.customer, [.scheduled, .confirmed].contains(appointment.status),
              appointment.startTime.date > now,
              // A text of a time the booking has since moved from: the customer may mean that
              // time, not the one the business moved it to.
              about.isAbout(start: appointment.startTime)
        else { return nil }
        return (about.appointmentID, appointment)
    }

    /// Whether the text of the tenant's automation `key` offers this reply (`Self.offered`).
    private func offers(automation key: String, _ tx: TenantTransaction) async throws -> Bool {
        let automation = try await PackItemRecords.automationRules(tx).first { $0.key == key }
        guard let automation, let template = try await PackItemRecords.smsTemplate(automation.template, tx) else { return false }
        return offered(by: template.body)
    }

    /// Whether `text` offers this reply: its letter stands alone in a sentence, and what it does
    /// follows it there, before the other reply's letter: "Reply C to cancel", "Reply R if you
    /// need to reschedule", "Responda C para cancelar". "Reply C to confirm or R to reschedule.
    /// Cancellations are charged." offers R alone.
    func offered(by text: String) -> Bool {
        let other = self == .cancel ? "R" : "C"
        for sentence in text.split(whereSeparator: { ".!?\n".contains($0) }) {
            let words = sentence.split(whereSeparator: { !$0.isLetter })
            guard let at = words.firstIndex(where: { $0 == letter }) else { continue }
            let said = words[(at + 1)...].prefix { $0 != other }
            if said.contains(where: { word in meanings.contains { word.lowercased().hasPrefix($0) } }) { return true }
        }
        return false
    }

    /// How a text says what the letter does, in the words of the packs and of tenants' own
    /// templates (Spanish too).
    private var meanings: [String] {
        self == .cancel ? ["cancel"] : ["reschedul", "rebook", "reprogram", "move", "change"]
    }
}
