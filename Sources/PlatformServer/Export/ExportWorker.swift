import Foundation
import Logging
import ServiceLifecycle

/// Builds export archives in the background. Each job is taken under a lease that the worker
/// renews with every page it writes; a worker that crashes or is killed stops renewing, and the
/// next worker to look takes the job over from the start. A job finishes once: only the lease
/// holder can mark it succeeded. The archive is built in a scratch directory, then goes into the
/// store (`ExportArchiveChunks`), where every replica can serve it; it is deleted when it expires.
public struct ExportWorker: Service {
    static let maxAttempts = 5
    /// How long a failed attempt waits for the next, times the attempts made: a store or disk
    /// that failed for a moment has time to come back before the job has had its attempts.
    static let retryBackoff: TimeInterval = 30

    let database: any Database
    let settings: ExportSettings
    /// Scratch space: an attempt builds in `<directory>/.work-<export>-<worker>`, and a crashed
    /// one's is cleared at the next start (`clearLeftovers`).
    let directory: URL
    let logger: Logger
    let worker: String

    public init(database: any Database, settings: ExportSettings, directory: URL, logger: Logger, worker: String = UUID().uuidString) {
        self.database = database
        self.settings = settings
        self.directory = directory
        self.logger = logger
        self.worker = worker
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        do {
            try await clearLeftovers()
        } catch {
            logger.warning("could not clear what earlier exports left on disk; trying again at the next start", metadata: ["error": "\(error)"])
        }
        // A job built suggests more are waiting: look again straight away.
        await JobLoop.run(every: settings.pollInterval, logger: logger, failure: "export worker pass failed; retrying next interval") {
            try await runOnce()
        }
    }

    /// Deletes expired archives, then builds at most one job. True when it built one.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Bool {
        try await database.transaction(.platform) { try await ExportJobRecords.expire(now: now, $0) }
        guard let job = try await database.transaction(.platform, { tx in
            try await ExportJobRecords.claim(worker: worker, now: now, lease: settings.leaseDuration, tx)
        }) else { return false }
        try await build(job)
        return true
    }

    /// Deletes what earlier runs left on disk: the scratch directories of attempts no worker
    /// holds a live lease on any more (a crash, a kill), and the archive files of the version
    /// that kept archives on disk, which the store has replaced (`ExportArchiveChunks.migration`).
    func clearLeftovers(now: Date = Date()) async throws {
        let live = try await database.transaction(.platform) { tx in
            Set(try await tx.query("SELECT export_id FROM export_jobs WHERE state = 'running' AND lease_expire_time >= \(now)")
                .map { try $0.string("export_id") })
        }
        Self.removeEntries(of: directory) { entry in
            // `.work-<export>-<worker>`: export ids have no dashes, worker names may.
            guard entry.hasPrefix(Self.scratchPrefix) else { return false }
            return !live.contains(String(entry.dropFirst(Self.scratchPrefix.count).prefix { $0 != "-" }))
        }
        let archives = try await database.transaction(.platform) { tx in
            try await tx.query("SELECT tenant_id, export_id, archive_path FROM export_jobs WHERE archive_path IS NOT NULL")
                .map { (tenantID: try $0.string("tenant_id"), exportID: try $0.string("export_id"), path: try $0.string("archive_path")) }
        }
        let inside = directory.standardizedFileURL.path + "/"
        for archive in archives {
            let file = archive.path.hasPrefix("/") ? URL(fileURLWithPath: archive.path) : directory.appendingPathComponent(archive.path)
            // Only what this worker's own directory holds: a path elsewhere is another replica's,
            // left for its own worker to delete. So is a file not on this disk: replicas may
            // share a directory's name but not its disk, and the row is the other one's reminder.
            guard file.standardizedFileURL.path.hasPrefix(inside), (try? FileManager.default.removeItem(at: file)) != nil else { continue }
            try await database.transaction(.platform) { tx in
                try await tx.execute("""
                    UPDATE export_jobs SET archive_path = NULL WHERE tenant_id = \(archive.tenantID) AND export_id = \(archive.exportID)
                    """)
            }
        }
    }

    static let scratchPrefix = ".work-"

    /// Deletes what `directory` holds whose name `matches`; a directory that is not there holds nothing.
    private static func removeEntries(of directory: URL, where matches: (String) -> Bool) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where matches(entry) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(entry))
        }
    }

    private typealias LeaseLost = ExportArchiveChunks.LeaseLost

    private func build(_ job: ExportJobRecord) async throws {
        // A work directory per attempt; a crashed attempt's leftovers here go when the job is retaken.
        let prefix = "\(Self.scratchPrefix)\(job.exportID)-"
        Self.removeEntries(of: directory) { $0.hasPrefix(prefix) }
        let work = directory.appendingPathComponent(prefix + worker, isDirectory: true)
        defer { try? FileManager.default.removeItem(at: work) }

        // Counted before anything can fail, so an attempt that fails even to start still counts.
        guard job.attempts <= Self.maxAttempts else {
            try await database.transaction(.platform) { tx in
                try await ExportJobRecords.fail(job, worker: worker, error: "the archive could not be built in \(Self.maxAttempts) attempts; start a new export", now: Date(), tx)
            }
            return
        }
        logger.info("building export", metadata: ["export": "\(job.name)", "attempt": "\(job.attempts)"])
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let builder = ExportArchiveBuilder(database: database, pageSize: settings.pageSize)
            let archive = try await builder.build(job, in: work, heartbeat: .seconds(settings.leaseDuration / 3)) { percent in
                try Task.checkCancellation()
                let renewed = try await database.transaction(.platform) { tx in
                    try await ExportJobRecords.renew(job, worker: worker, progress: percent, now: Date(), lease: settings.leaseDuration, tx)
                }
                guard renewed else { throw LeaseLost() }
            }
            try await ExportArchiveChunks.store(fileAt: archive.path, for: job, worker: worker, lease: settings.leaseDuration, database)
            let finished = try await database.transaction(.platform) { tx in
                try await ExportJobRecords.succeed(job, worker: worker, archive: archive, now: Date(), lifetime: settings.archiveLifetime, tx)
            }
            guard finished else { throw LeaseLost() }
            logger.info("export ready", metadata: ["export": "\(job.name)", "bytes": "\(archive.sizeBytes)"])
        } catch is LeaseLost {
            logger.warning("lost the lease on an export; another worker has it", metadata: ["export": "\(job.name)"])
        } catch is CancellationError {
            // Stopping: the lease runs out and another worker (or this one, restarted) takes over.
            throw CancellationError()
        } catch {
            // Most likely passing (the store, the disk): the job goes back for another attempt,
            // later, until it has had its attempts.
            let retryTime = Date().addingTimeInterval(Self.retryBackoff * Double(job.attempts))
            logger.error("export attempt failed; it will be tried again", metadata: [
                "export": "\(job.name)", "attempt": "\(job.attempts)", "error": "\(error)", "retry_time": "\(retryTime)",
            ])
            try await database.transaction(.platform) { tx in
                try await ExportJobRecords.release(job, worker: worker, retryTime: retryTime, tx)
            }
        }
    }
}
