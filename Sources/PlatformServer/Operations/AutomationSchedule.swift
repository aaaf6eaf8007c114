import Foundation
import ServiceProAPI
import SwiftProtobuf

/// When an automation's text is due for an appointment, as a query over the tenant's
/// appointments: the ones whose text is due by `now`, whose customer has a phone number, and
/// that have not had it yet (its outbox message, keyed by automation and appointment, and for a
/// confirmation or reminder by the start time too, is the record that they have).
///
/// A text is sent up to ``catchUp`` late (a reminder up to half its lead), so a platform that was
/// down, or night (``QuietHours``), sends what fell due meanwhile; never for an appointment older
/// than that, so switching automations on, or bringing in history from elsewhere, does not text
/// every customer the business ever had.
struct AutomationSchedule {
    static let catchUp: TimeInterval = 86_400

    /// Migration 32: what the texts need. The tenant's time zone and review link fill
    /// `{{start_time}}` and `{{review_url}}`; a review request is timed from the completion.
    static let migration = Migration(
        version: 32,
        name: "automations",
        statements: [
            "ALTER TABLE tenants ADD COLUMN time_zone TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE tenants ADD COLUMN review_url TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE appointments ADD COLUMN complete_time BIGINT",
            "CREATE INDEX appointments_by_create ON appointments (tenant_id, create_time)",
            "CREATE INDEX appointments_by_complete ON appointments (tenant_id, complete_time)",
        ],
        tenantOwnedTables: [])

    /// Migration 34: bookings created with `skip_confirmation` (brought in from another system)
    /// get no confirmation, and so are reminded whenever they were made.
    static let skipConfirmationMigration = Migration(
        version: 34,
        name: "appointments_confirmation_skipped",
        statements: ["ALTER TABLE appointments ADD COLUMN confirmation_skipped BOOLEAN NOT NULL DEFAULT FALSE"],
        tenantOwnedTables: [])

    /// An appointment whose text is due, with what the text says about it.
    struct Due: Sendable {
        var appointmentID: String
        var serviceName: String
        var startTime: Date
        /// `startTime` in whole minutes since 1970: what a reminder says, and so what its outbox
        /// key names (a start saved again to the second is no new time to remind of).
        var startMinute: Int64
        var customerName: String
        var customerPhone: String
        /// Whether a text of this automation already told this start: the booking was moved
        /// away from it and back, and this text's key must differ from that one's.
        var startToldBefore = false
        /// When the appointment last changed, in microseconds: what tells a text that repeats a
        /// start told before from that one.
        var updateMicros: Int64 = 0
    }

    let rule: AutomationRule
    /// Whether the tenant confirms bookings by text: then a booking made inside a reminder's lead
    /// has just been told all a reminder would say, and gets no reminder.
    var confirmsBookings = true

    /// The outbox key of `due`'s text: one per automation and appointment; a confirmation's and
    /// a reminder's name the start's minute too, so a booking moved after its text is told its
    /// new time. A confirmation of a start told before (moved away and back) names the change
    /// too, after a `+`.
    func dedupeKey(_ due: Due) -> String {
        guard namesStart else { return dedupePrefix + due.appointmentID }
        let key = "\(dedupePrefix)\(due.appointmentID)@\(due.startMinute)"
        return due.startToldBefore ? "\(key)+\(due.updateMicros)" : key
    }

    /// Whether the rule's texts tell a booking's time, and are keyed by it: all but the review
    /// request, which follows the visit whenever it was.
    private var namesStart: Bool { rule.trigger != .appointmentCompleted }

    /// Whether the text queued under `key` is about an appointment starting at `startTime`: a
    /// key that names a minute (as `Due.startMinute`) is about that start; an earlier release's
    /// bare key, and a review request's, about the appointment whenever it starts.
    func names(startTime: Google_Protobuf_Timestamp, in key: TextKey) -> Bool {
        !namesStart || key.isAbout(start: startTime)
    }

    /// Whether a text sent at `date` about an appointment starting at `start` comes too late to
    /// read true: a reminder a day or more ahead is for the day before, not once the day has come
    /// (a template written for it may say "tomorrow"). One less than a day ahead may fall on the
    /// day itself (12 hours before a 6 PM visit is 6 AM that day).
    func isPastItsDay(sentAt date: Date, start: Date, in zone: TimeZone) -> Bool {
        rule.trigger == .beforeAppointmentStart && rule.offset.seconds >= 86_400 && AppointmentTime.calendar(in: zone).startOfDay(for: start) <= date
    }

    /// Microseconds in a minute, as start times are stored.
    private static let storedMinute: Int64 = 60_000_000

    private var dedupePrefix: String { "\(Self.keyPrefix)\(rule.key)/" }

    /// What every automation text's outbox key starts with.
    static let keyPrefix = "automation/"

    /// What an automation text's outbox key names: `automation/<automation>/<appointment>`, a
    /// confirmation's or reminder's with `@<minute>` after it (and `+<change>` after that when it
    /// tells a start told before).
    struct TextKey: Sendable {
        var automation: String
        var appointmentID: String
        /// The start it told, as `Due.startMinute`; nil for a review request's key, and for an
        /// earlier release's.
        var startMinute: Int64?

        /// Whether the text is about an appointment starting at `start`: one that told a start
        /// is about that one alone; one that told none, about any.
        func isAbout(start: Google_Protobuf_Timestamp) -> Bool {
            startMinute.map { $0 == start.seconds / 60 } ?? true
        }
    }

    /// What `key` names, when it is an automation text's.
    static func textKey(_ key: String) -> TextKey? {
        guard key.hasPrefix(keyPrefix) else { return nil }
        let parts = key.dropFirst(keyPrefix.count).split(separator: "/")
        guard parts.count == 2 else { return nil }
        let about = parts[1].split(separator: "@", maxSplits: 1)
        guard let appointment = about.first else { return nil }
        let minute = about.count == 2 ? about[1].split(separator: "+", maxSplits: 1).first.flatMap { Int64($0) } : nil
        return TextKey(automation: String(parts[0]), appointmentID: String(appointment), startMinute: minute)
    }

    /// The keys that mean an appointment had its text, as SQL over `a`. A bare key is an earlier
    /// release's, from before moved bookings were told their new time.
    private var sentKeys: SQLStatement {
        let bare: SQLStatement = "\(dedupePrefix) || a.appointment_id"
        guard namesStart else { return bare }
        return "\(bare), \(startKey)"
    }

    /// The key of this automation's text about `a`'s start, as SQL: `dedupeKey` of a start not
    /// told before.
    private var startKey: SQLStatement { "\(dedupePrefix) || a.appointment_id || '@' || \(Self.startMinute)" }

    /// `a`'s start in whole minutes, as SQL text: what its texts' keys name.
    private static let startMinute: SQLStatement = "CAST(a.start_time / \(storedMinute) AS TEXT)"

    /// `a`'s texts, of any automation, that tell a start, as a condition on `t`.
    private static let toldStart: SQLStatement = "t.tenant_id = a.tenant_id AND t.dedupe_key LIKE \(keyPrefix + "%/") || a.appointment_id || '@%'"

    /// Whether `key` (SQL) tells `a`'s start, as SQL.
    private static func keyTellsStart(_ key: SQLStatement) -> SQLStatement {
        "(\(key) LIKE '%@' || \(startMinute) OR \(key) LIKE '%@' || \(startMinute) || '+%')"
    }

    /// Whether `a` was moved since its customer was last told a start, as SQL: the last text
    /// delivered about it told another start (perhaps one an earlier text told before that), and
    /// none about to go tells its own. Texts not delivered count for nothing: a confirmation of
    /// a time the booking was moved away from again before it went is withdrawn, never read.
    private static let movedSinceTold: SQLStatement = """
        NOT \(keyTellsStart(lastDeliveredKey))
        AND NOT EXISTS (SELECT 1 FROM outbox_messages t WHERE \(toldStart) AND t.state IN ('pending', 'sending') AND \(keyTellsStart("t.dedupe_key")))
        """

    /// The key of the last text delivered that told `a`'s customer a start, as SQL; NULL when
    /// none has been.
    private static let lastDeliveredKey: SQLStatement = """
        (SELECT t.dedupe_key FROM outbox_messages t WHERE \(toldStart) AND t.state = 'delivered'
            ORDER BY t.deliver_time DESC, t.message_id DESC LIMIT 1)
        """

    /// Whether a text of this automation has told `a`'s start, as SQL.
    private var startToldBefore: SQLStatement {
        "EXISTS (SELECT 1 FROM outbox_messages o WHERE o.tenant_id = a.tenant_id AND o.dedupe_key = \(startKey))"
    }

    /// Whether this automation has no text keyed by `a`'s last change (see `dedupeKey`), as
    /// SQL: one that failed is not queued again under the same key every pass.
    private var notSentSinceChange: SQLStatement {
        """
        NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.tenant_id = a.tenant_id
            AND o.dedupe_key = \(startKey) || '+' || CAST(a.update_time AS TEXT))
        """
    }

    /// The appointments whose text is due by `now`, soonest first, at most `limit`.
    func due(now: Date, limit: Int, _ tx: TenantTransaction) async throws -> [Due] {
        guard let window = window(now: now) else { return [] }
        let rows = try await tx.base.query("""
            SELECT a.appointment_id, a.service_name, a.start_time, a.update_time, c.display_name AS customer_name, c.phone AS customer_phone,
                \(startToldBefore) AS start_told_before
            FROM appointments a JOIN customers c ON c.tenant_id = a.tenant_id AND c.customer_id = a.customer_id
            WHERE a.tenant_id = \(tx.tenantID) AND c.phone IS NOT NULL AND \(window)
            ORDER BY a.start_time, a.appointment_id LIMIT \(limit)
            """)
        return try rows.map {
            Due(
                appointmentID: try $0.string("appointment_id"), serviceName: try $0.string("service_name"),
                startTime: try $0.date("start_time"), startMinute: try $0.int("start_time") / Self.storedMinute, customerName: try $0.string("customer_name"),
                customerPhone: try $0.string("customer_phone"), startToldBefore: try $0.bool("start_told_before"), updateMicros: try $0.int("update_time"))
        }
    }

    /// Which appointments are due by `now` under the rule's trigger and have not had the text;
    /// nil for a trigger that schedules nothing.
    private func window(now: Date) -> SQLStatement? {
        let offset = rule.hasOffset ? max(0, TimeInterval(rule.offset.seconds)) : 0
        let open: SQLStatement = "a.status IN ('scheduled', 'confirmed')"
        let notSent: SQLStatement = "NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.tenant_id = a.tenant_id AND o.dedupe_key IN (\(sentKeys)))"
        switch rule.trigger {
        case .appointmentBooked:
            // Confirms a booking still to come, `offset` after it was made, and again after it
            // moved from the start its customer was last told (its last change is then the
            // move), also back to one an earlier text told.
            let latest = now.addingTimeInterval(-offset)
            let earliest = latest.addingTimeInterval(-Self.catchUp)
            return """
                \(open) AND a.start_time > \(now)
                AND ((NOT a.confirmation_skipped AND a.create_time <= \(latest) AND a.create_time > \(earliest) AND \(notSent))
                OR (a.update_time <= \(latest) AND a.update_time > \(earliest) AND \(Self.movedSinceTold) AND \(notSentSinceChange)))
                """
        case .beforeAppointmentStart:
            // Reminds `offset` ahead, up to half of it late (a day-ahead reminder is still the
            // day before then), of a booking made before then when bookings are confirmed: one
            // made closer in has just been.
            let lead: SQLStatement = """
                \(open) AND a.start_time > \(now.addingTimeInterval(offset / 2)) AND a.start_time <= \(now.addingTimeInterval(offset)) AND \(notSent)
                """
            guard confirmsBookings else { return lead }
            return lead + " AND (a.create_time + \(Int64(offset * 1_000_000)) <= a.start_time OR a.confirmation_skipped)"
        case .appointmentCompleted:
            let latest = now.addingTimeInterval(-offset)
            return """
                a.status = 'completed' AND a.complete_time <= \(latest) AND a.complete_time > \(latest.addingTimeInterval(-Self.catchUp)) AND \(notSent)
                """
        case .unspecified, .UNRECOGNIZED:
            return nil
        }
    }
}
