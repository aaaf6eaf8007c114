import Foundation

/// Where export archives are built and how long they are kept; how the worker paces itself.
public struct ExportSettings: Sendable {
    /// Scratch space for building archives, which then go into the store; nil for `<home>/exports`.
    public var directory: String?
    /// How long a finished archive can be downloaded before it is deleted.
    public var archiveLifetime: TimeInterval
    /// How often an idle worker looks for work.
    public var pollInterval: Duration
    /// How long a worker owns a job without renewing; another worker takes over after it.
    public var leaseDuration: TimeInterval
    /// Rows read per query: memory stays flat however large the tenant.
    public var pageSize: Int

    public init(
        directory: String? = nil,
        archiveLifetime: TimeInterval = 7 * 86_400,
        pollInterval: Duration = .seconds(2),
        leaseDuration: TimeInterval = 60,
        pageSize: Int = 2_000
    ) {
        self.directory = directory
        self.archiveLifetime = archiveLifetime
        self.pollInterval = pollInterval
        self.leaseDuration = leaseDuration
        // A page holds at least one row: the builder resumes after the last row of each.
        self.pageSize = max(1, pageSize)
    }
}
