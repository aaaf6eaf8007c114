import RPCRuntime
import ServiceProAPI

/// Where an appointment may go in its life. A booking is confirmed, done, cancelled or missed;
/// one cancelled or missed may be booked again; done is final, as the review request it
/// triggered has gone out.
enum AppointmentLifecycle {
    static func nextStatuses(from status: AppointmentStatus) -> Set<AppointmentStatus> {
        switch status {
        case .scheduled: return [.confirmed, .completed, .cancelled, .noShow]
        case .confirmed: return [.scheduled, .completed, .cancelled, .noShow]
        case .cancelled: return [.scheduled, .confirmed]
        case .noShow: return [.scheduled, .confirmed, .cancelled]
        case .completed, .unspecified, .UNRECOGNIZED: return []
        }
    }

    /// FAILED_PRECONDITION unless appointment `name` may go from `current` to `next`; staying
    /// put is fine.
    static func checkTransition(of name: String, from current: AppointmentStatus, to next: AppointmentStatus) throws {
        guard next != current, !nextStatuses(from: current).contains(next) else { return }
        let allowed = nextStatuses(from: current).map(\.storedName).sorted()
        throw ServiceError.failedPrecondition(
            reason: "invalid_status_transition",
            message: "\(name) cannot go from \(current.storedName) to \(next.storedName); "
                + (allowed.isEmpty ? "\(current.storedName) is final: book a new appointment" : "valid next statuses: \(allowed.joined(separator: ", "))"),
            metadata: ["from": current.storedName, "to": next.storedName])
    }
}
