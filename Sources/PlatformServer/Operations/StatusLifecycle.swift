import RPCRuntime

/// Where a record's status may go next: invoices and appointments each name their steps, and
/// share how a step not taken is refused.
protocol StatusLifecycle {
    associatedtype Status: StoredEnum & Hashable
    static func nextStatuses(from status: Status) -> Set<Status>
    /// What to do instead, said after "<status> is final".
    static var whenFinal: String { get }
}

extension StatusLifecycle {
    /// FAILED_PRECONDITION unless record `name` may go from `current` to `next`; staying put is
    /// fine.
    static func checkTransition(of name: String, from current: Status, to next: Status) throws {
        let allowed = nextStatuses(from: current)
        guard next != current, !allowed.contains(next) else { return }
        throw ServiceError.failedPrecondition(
            reason: "invalid_status_transition",
            message: "\(name) cannot go from \(current.storedName) to \(next.storedName); "
                + (allowed.isEmpty
                    ? "\(current.storedName) is final\(whenFinal)"
                    : "valid next statuses: \(allowed.map(\.storedName).sorted().joined(separator: ", "))"),
            metadata: ["from": current.storedName, "to": next.storedName])
    }
}
