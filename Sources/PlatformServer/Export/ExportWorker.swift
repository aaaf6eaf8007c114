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

    let database: any Database
    let settings: ExportSettings
    /// Scratch space: an attempt builds in `<directory>/.work-<export>-<worker>`.
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
        while !Task.isCancelled {
            do {
                if try await runOnce() { continue }
            } catch is CancellationError {
                return
            } catch {
                logger.error("export worker pass failed; retrying next interval", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: settings.pollInterval)
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

    /// Deletes what `directory` holds whose name `matches`; a directory that is not there holds nothing.
    private static func removeEntries(of directory: URL, where matches: (String) -> Bool) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where matches(entry) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(entry))
        }
    }

    private typealias LeaseLost = ExportArchiveChunks.LeaseLost

    private func build(_ job: ExportJobRecord) async throws {
        // A work directory per attempt; a crashed attempt's leftovers here go when the job is retaken.
        let prefix = ".work-\(job.exportID)-"
        Self.removeEntries(of: directory) { $0.hasPrefix(prefix) }
        let work = directory.appendingPathComponent(prefix + worker, isDirectory: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        guard job.attempts <= Self.maxAttempts else {
            try await database.transaction(.platform) { tx in
                try await ExportJobRecords.fail(job, worker: worker, error: "gave up after \(Self.maxAttempts) attempts", now: Date(), tx)
            }
            return
        }
        logger.info("building export", metadata: ["export": "\(job.name)", "attempt": "\(job.attempts)"])
        do {
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
            logger.error("export failed", metadata: ["export": "\(job.name)", "error": "\(error)"])
            try await database.transaction(.platform) { tx in
                try await ExportJobRecords.fail(job, worker: worker, error: "the archive could not be built; start a new export", now: Date(), tx)
            }
        }
    }
}
