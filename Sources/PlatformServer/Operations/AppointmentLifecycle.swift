import ServiceProAPI

/// Where an appointment may go in its life. A booking is confirmed, done, cancelled or missed;
/// one cancelled or missed may be booked again; done is final, as the review request it
/// triggered has gone out.
enum AppointmentLifecycle: StatusLifecycle {
    static let whenFinal = ": book a new appointment"

    static func nextStatuses(from status: AppointmentStatus) -> Set<AppointmentStatus> {
        switch status {
        case .scheduled: return [.confirmed, .completed, .cancelled, .noShow]
        case .confirmed: return [.scheduled, .completed, .cancelled, .noShow]
        case .cancelled: return [.scheduled, .confirmed]
        case .noShow: return [.scheduled, .confirmed, .cancelled]
        case .completed, .unspecified, .UNRECOGNIZED: return []
        }
    }
}
