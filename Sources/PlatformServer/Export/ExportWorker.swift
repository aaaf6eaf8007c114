import Foundation
import Logging
import ServiceLifecycle

/// Builds export archives in the background. Each job is taken under a lease that the worker
/// renews with every page it writes; a worker that crashes or is killed stops renewing, and the
/// next worker to look takes the job over from the start. A job finishes once: only the lease
/// holder can mark it succeeded. Finished archives are deleted when they expire.
public struct ExportWorker: Service {
    static let maxAttempts = 5

    let database: any Database
    let settings: ExportSettings
    /// Archives live in `<directory>/<tenant>/<export>-<attempt>.zip`.
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
        for path in try await database.transaction(.platform, { try await ExportJobRecords.expire(now: now, $0) }) {
            try? FileManager.default.removeItem(atPath: path)
        }
        guard let job = try await database.transaction(.platform, { tx in
            try await ExportJobRecords.claim(worker: worker, now: now, lease: settings.leaseDuration, tx)
        }) else { return false }
        try await build(job)
        return true
    }

    private struct LeaseLost: Error {}

    private func build(_ job: ExportJobRecord) async throws {
        let tenantDirectory = directory.appendingPathComponent(job.tenantID, isDirectory: true)
        // A work directory per attempt; a crashed attempt's leftovers go when the job is retaken.
        let prefix = ".work-\(job.exportID)-"
        try FileManager.default.createDirectory(at: tenantDirectory, withIntermediateDirectories: true)
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: tenantDirectory.path)) ?? [] where leftover.hasPrefix(prefix) {
            try? FileManager.default.removeItem(at: tenantDirectory.appendingPathComponent(leftover))
        }
        let work = tenantDirectory.appendingPathComponent(prefix + worker, isDirectory: true)
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
            var built = try await builder.build(job, in: work) { percent in
                try Task.checkCancellation()
                let renewed = try await database.transaction(.platform) { tx in
                    try await ExportJobRecords.renew(job, worker: worker, progress: percent, now: Date(), lease: settings.leaseDuration, tx)
                }
                guard renewed else { throw LeaseLost() }
            }
            // Named per attempt: a worker that lost its lease never replaces the winner's file.
            let final = tenantDirectory.appendingPathComponent("\(job.exportID)-\(job.attempts).zip")
            try? FileManager.default.removeItem(at: final)
            try FileManager.default.moveItem(atPath: built.path, toPath: final.path)
            built.path = final.path
            let archive = built
            let finished = try await database.transaction(.platform) { tx in
                try await ExportJobRecords.succeed(job, worker: worker, archive: archive, now: Date(), lifetime: settings.archiveLifetime, tx)
            }
            if !finished {
                try? FileManager.default.removeItem(at: final)
                throw LeaseLost()
            }
            logger.info("export ready", metadata: ["export": "\(job.name)", "bytes": "\(built.sizeBytes)"])
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
