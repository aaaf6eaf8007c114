import Foundation

/// Appointment times as the business's clock reads them, in its time zone.
enum AppointmentTime {
    /// "Tue, Dec 1 at 2:30 PM", as a text to a customer says it. A fixed pattern, so no
    /// character outside the GSM alphabet (such as the narrow space some locales put before "PM")
    /// turns the text into a costlier one.
    static func spoken(_ date: Date, in zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE, MMM d 'at' h:mm a"
        return formatter.string(from: date)
    }

    /// The calendar of `zone`: its days and hours.
    static func calendar(in zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
