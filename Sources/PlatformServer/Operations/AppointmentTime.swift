import Foundation

/// Appointment times as the business's clock reads them, in its time zone.
enum AppointmentTime {
    /// "Tue, Dec 1 at 2:30 PM", as a text to a customer says it. A fixed pattern, so no
    /// character outside the GSM alphabet (such as the narrow space some locales put before "PM")
    /// turns the text into a costlier one.
    static func spoken(_ date: Date, in zone: TimeZone) -> String {
        let formatter = formatter(in: zone)
        formatter.dateFormat = "EEE, MMM d 'at' h:mm a"
        return formatter.string(from: date)
    }

    /// "today at 2:30 PM", "tomorrow at 2:30 PM" or "on Tue, Dec 1 at 2:30 PM", as seen from
    /// `now` where the business is: what a reminder says, whatever its lead.
    static func relative(_ date: Date, from now: Date, in zone: TimeZone) -> String {
        let calendar = calendar(in: zone)
        let days = calendar.dateComponents([.day], from: calendar.startOfDay(for: now), to: calendar.startOfDay(for: date)).day
        let formatter = formatter(in: zone)
        formatter.dateFormat = "h:mm a"
        let time = formatter.string(from: date)
        switch days {
        case 0: return "today at \(time)"
        case 1: return "tomorrow at \(time)"
        default: return "on \(spoken(date, in: zone))"
        }
    }

    private static func formatter(in zone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        return formatter
    }

    /// The calendar of `zone`: its days and hours.
    static func calendar(in zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
