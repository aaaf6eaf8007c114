/// The steps of a concierge create, in order, all inside one transaction. Tests inject a failure
/// after any of them to show that a failure anywhere leaves no trace.
public enum ConciergeStep: String, Sendable, CaseIterable {
    case tenant
    case phoneConfig = "phone_config"
    case industryPack = "industry_pack"
    case audit
}

/// Where a concierge create may be made to fail on purpose; production passes none.
public struct ConciergeFaults: Sendable {
    let fail: @Sendable (ConciergeStep) throws -> Void

    public init(_ fail: @escaping @Sendable (ConciergeStep) throws -> Void) { self.fail = fail }

    public static let none = ConciergeFaults { _ in }
}
