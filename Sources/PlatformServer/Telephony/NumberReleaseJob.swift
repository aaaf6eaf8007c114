import Foundation
import Logging
import ServiceLifecycle
import ServiceProAPI

/// Gives the numbers the platform bought back to Twilio once their release is due. Each pass
/// leases the due releases, releases them one after another and records each outcome: released,
/// or due again after a backoff (a minute, doubling, at most six hours) with Twilio's answer kept
/// for staff to read. A release is never given up: a number left in the account is billed every
/// month and its calls reach the platform's main line.
///
/// Only the worker holding a release's lease releases it, so replicas side by side never release
/// a number twice, and a phone config can keep a number only while no lease is live; the lease is
/// renewed right before each release, so it outlasts the call to Twilio (10 s at most) by far. A
/// worker that dies mid-release leaves the lease to run out, and Twilio's 404 to the second
/// attempt counts as released.
public struct NumberReleaseJob: Service {
    static let minimumBackoff: TimeInterval = 60
    static let maximumBackoff: TimeInterval = 6 * 3_600

    let database: any Database
    let provisioner: any NumberProvisioner
    let interval: Duration
    /// How long a worker holds a release: far longer than one call to Twilio takes.
    let lease: TimeInterval
    let batchSize: Int
    let logger: Logger
    /// Names this worker in the leases it takes.
    let worker: String

    public init(
        database: any Database, provisioner: any NumberProvisioner, interval: Duration = .seconds(60), lease: TimeInterval = 300,
        batchSize: Int = 20, logger: Logger, worker: String = UUID().uuidString
    ) {
        self.database = database
        self.provisioner = provisioner
        self.interval = interval
        self.lease = lease
        self.batchSize = batchSize
        self.logger = logger
        self.worker = worker
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        // A full batch suggests more is due: look again straight away.
        await JobLoop.run(every: interval, logger: logger, failure: "number release pass failed; retrying next interval") {
            try await runOnce() >= batchSize
        }
    }

    /// One pass as of `now`; returns how many releases it attempted, whatever their outcome.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Int {
        let claimed = try await database.transaction(.platform) { tx in
            try await NumberReleaseRecords.claim(worker: worker, now: now, lease: lease, limit: batchSize, tx)
        }
        let clock = JobLoop.clock(startingAt: now)
        // Seen through even when the server stops: a release Twilio took but never recorded would
        // be attempted again once its lease ran out (harmless, but noisy).
        await Task {
            for release in claimed { await self.release(release, clock: clock) }
        }.value
        return claimed.count
    }

    /// Releases one claimed number and records how it went. The lease is renewed first, from the
    /// time the release really starts: the batch's claim may be old by then, and a config may
    /// have kept the number once it ran out (``NumberReleaseRecords/withdraw``).
    func release(_ release: NumberReleaseRecord, clock: @Sendable () -> Date) async {
        var metadata: Logger.Metadata = [
            "number": "\(release.phoneNumber)", "sid": "\(release.numberSID)", "tenant": "\(release.tenantID)", "attempt": "\(release.attempts)",
        ]
        do {
            let start = clock()
            let renewed = try await database.transaction(.platform) { tx in
                try await NumberReleaseRecords.renew(release, worker: worker, until: start.addingTimeInterval(lease), now: start, tx)
            }
            guard renewed else {
                logger.warning("a number release's lease ran out before it began; another worker or a phone config has it now", metadata: metadata)
                return
            }
        } catch {
            metadata["error"] = "\(error)"
            logger.error("could not renew a number release's lease; it is tried again when the lease runs out", metadata: metadata)
            return
        }
        let outcome: NumberReleaseRecords.Outcome
        do {
            try await provisioner.release(ProvisionedNumber(sid: release.numberSID, phoneNumber: release.phoneNumber))
            outcome = .released
        } catch {
            outcome = .retry(error: "\(error)", at: clock().addingTimeInterval(Self.backoff(afterAttempt: release.attempts)))
        }
        do {
            let end = clock()
            let held = try await database.transaction(.platform) { tx in
                try await NumberReleaseRecords.finish(release, worker: worker, outcome: outcome, now: end, tx)
            }
            guard held else {
                // Only a release that outlived its renewed lease gets here.
                logger.error("lost the lease on a number release while Twilio was releasing it; check that no phone config holds the number", metadata: metadata)
                return
            }
        } catch {
            metadata["error"] = "\(error)"
            logger.error("could not record a number release's outcome; it is tried again when its lease runs out", metadata: metadata)
            return
        }
        switch outcome {
        case .released:
            logger.notice("released a number the platform bought", metadata: metadata)
        case .retry(let error, let next):
            metadata["error"] = "\(error)"
            metadata["next_attempt_time"] = "\(next)"
            logger.error("a number the platform bought could not be released; will retry", metadata: metadata)
        }
    }

    /// The wait after attempt `attempt` (1 for the first) failed.
    static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(Backoff.doubling(afterAttempt: attempt, first: minimumBackoff), maximumBackoff)
    }
}
