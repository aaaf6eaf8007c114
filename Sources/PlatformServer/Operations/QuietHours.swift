import Foundation

/// When a business's customers may be texted without being asked: 8 AM to 9 PM where the business
/// is, as US rules for marketing texts have it, and as people expect of a reminder.
public struct QuietHours: Sendable {
    var firstHour = 8
    var lastHour = 21

    public init() {}

    func allowsTexts(at date: Date, in zone: TimeZone) -> Bool {
        let hour = AppointmentTime.calendar(in: zone).component(.hour, from: date)
        return hour >= firstHour && hour < lastHour
    }

    /// When texts may go again after `date`: the next morning's first hour where the business is.
    func nextOpening(after date: Date, in zone: TimeZone) -> Date {
        AppointmentTime.calendar(in: zone).nextDate(
            after: date, matching: DateComponents(hour: firstHour, minute: 0, second: 0), matchingPolicy: .nextTime) ?? date.addingTimeInterval(3_600)
    }
}
