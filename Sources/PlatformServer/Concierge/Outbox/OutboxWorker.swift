import Foundation
import Logging
import ServiceLifecycle
import ServiceProAPI

/// Delivers the outbox. Each pass leases a batch of due messages, sends them side by side and
/// records each outcome: delivered with the provider's id, pending again after an exponential
/// backoff when the failure may pass (provider down, overloaded, unreachable) or, spending no
/// attempt, while the provider refuses the platform's own credentials; or failed when the
/// provider refused the message itself, or the attempts or the wait for an operator ran out.
/// An automation text is sent only while it still holds, filled in again as it goes
/// (``AutomationTextCheck``): one come to at night waits for the business's morning, and one whose
/// booking was cancelled or moved meanwhile is not sent.
///
/// A message is sent only by the worker holding its lease, and only that worker can record how
/// it went, so replicas running side by side never send the same message twice. A worker that
/// dies mid-send leaves its messages leased; once the lease runs out, another worker tries them
/// again. Only when it died after the provider accepted a message and before the row was
/// updated, a window one request long, does the message go out a second time. A worker that
/// is stopped, rather than killed, finishes the batch it holds first.
public struct OutboxWorker: Service {
    let database: any Database
    let settings: OutboxSettings
    let senders: OutboxSenders
    let logger: Logger
    /// Names this worker in the leases it takes.
    let worker: String

    public init(database: any Database, settings: OutboxSettings, logger: Logger, worker: String = UUID().uuidString) {
        self.init(database: database, settings: settings, senders: OutboxSenders(settings: settings, logger: logger), logger: logger, worker: worker)
    }

    init(database: any Database, settings: OutboxSettings, senders: OutboxSenders, logger: Logger, worker: String = UUID().uuidString) {
        self.database = database
        self.settings = settings
        self.senders = senders
        self.logger = logger
        self.worker = worker
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        logger.info("outbox delivery started", metadata: ["email": "\(senders.email.provider)", "sms": "\(senders.sms.provider)"])
        // A full batch suggests more is due: look again straight away.
        await JobLoop.run(every: settings.pollInterval, logger: logger, failure: "outbox pass failed; retrying next interval") {
            try await runOnce() >= settings.batchSize
        }
    }

    /// One pass as of `now`: claims what is due then, sends it and records each outcome.
    /// Returns how many messages it handled, whatever their outcome.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Int {
        let claimed = try await database.transaction(.platform) { tx in
            try await OutboxRecords.claim(worker: worker, now: now, lease: settings.leaseDuration, limit: settings.batchSize, tx)
        }
        guard !claimed.isEmpty else { return 0 }
        let clock = JobLoop.clock(startingAt: now)
        // What was claimed is seen through even when the worker is stopped (a server shutting
        // down cancels it): a send cut off after the provider took it, or an outcome never
        // written, would send the message a second time once its lease ran out. A task of its
        // own does not inherit the cancellation; the next pass is never started.
        await Task {
            await withTaskGroup(of: Void.self) { group in
                for message in claimed {
                    group.addTask { await self.deliver(message, clock: clock) }
                }
            }
        }.value
        return claimed.count
    }

    private func deliver(_ message: OutboxRecord, clock: @Sendable () -> Date) async {
        let attempts = settings.maxAttempts
        guard message.attempts <= attempts else {
            // Only a message whose last worker died mid-send gets here: it may have gone out.
            await record(.failed(error: "gave up after \(attempts) attempts; the last one ended without an answer"), of: message, clock: clock)
            return
        }
        var message = message
        let verdict: AutomationTextCheck.Verdict?
        do {
            verdict = try await automationVerdict(on: message, now: clock())
        } catch {
            await record(retryOrGiveUp(message, reason: "could not check that the automation text still holds: \(error)", clock: clock), of: message, clock: clock)
            return
        }
        switch verdict {
        case nil: break
        case .send(let body, let recipient, let sender)?:
            message.body = body
            message.recipient = recipient
            message.sender = sender
        case .wait(let reason, let until)?:
            await record(.deferred(reason: reason, until: until), of: message, clock: clock)
            return
        case .withdraw(let reason)?:
            await record(.withdrawn(reason: reason), of: message, clock: clock)
            return
        }
        guard let sender = senders.sender(for: message.channel) else {
            await record(.failed(error: "no provider delivers \(message.channel.storedName) messages"), of: message, clock: clock)
            return
        }
        let outcome: OutboxOutcome
        do {
            outcome = .delivered(providerMessageID: try await sender.send(message))
        } catch let error as MessageDeliveryError where error.isPermanent {
            outcome = .failed(error: error.message)
        } catch let error as MessageDeliveryError where error.settingsToCheck != nil {
            // No fault of the message: it waits for an operator, up to `operatorPatience` from
            // its making, and the wait spends none of its attempts.
            let advice = "check \(error.settingsToCheck ?? "")"
            let age = clock().timeIntervalSince(message.createTime)
            if age >= settings.operatorPatience {
                let hours = Int((settings.operatorPatience / 3_600).rounded(.up))
                outcome = .failed(error: "gave up after waiting \(hours) h for the provider to take the platform's credentials: \(error.message); \(advice)")
            } else {
                let wait = settings.operatorBackoff(age: age, retryAfter: error.retryAfter)
                outcome = .awaitOperator(error: "\(error.message); \(advice): the message is tried again", at: clock().addingTimeInterval(wait))
            }
        } catch {
            let delivery = error as? MessageDeliveryError
            outcome = retryOrGiveUp(message, reason: delivery?.message ?? "\(error)", retryAfter: delivery?.retryAfter, clock: clock)
        }
        await record(outcome, of: message, clock: clock)
    }

    /// After a failure that may pass: another attempt after the backoff, or the end once the
    /// attempts ran out.
    private func retryOrGiveUp(_ message: OutboxRecord, reason: String, retryAfter: TimeInterval? = nil, clock: @Sendable () -> Date) -> OutboxOutcome {
        guard message.attempts < settings.maxAttempts else {
            return .failed(error: "gave up after \(settings.maxAttempts) attempts: \(reason)")
        }
        return .retry(error: reason, at: clock().addingTimeInterval(settings.backoff(afterAttempt: message.attempts, retryAfter: retryAfter)))
    }

    /// The verdict on an automation text (``AutomationTextCheck``); nil for every other message.
    private func automationVerdict(on message: OutboxRecord, now: Date) async throws -> AutomationTextCheck.Verdict? {
        guard let key = message.dedupeKey.flatMap(AutomationSchedule.textKey) else { return nil }
        return try await database.read(.tenant(message.tenantID)) { [settings] base in
            try await AutomationTextCheck.verdict(
                on: key, queuedAt: message.createTime, now: now, quietHours: settings.quietHours,
                TenantTransaction(tenantID: message.tenantID, base: base))
        }
    }

    /// Writes the outcome, trying a few times: a delivered message whose row stays `sending`
    /// would be sent again once its lease runs out.
    private func record(_ outcome: OutboxOutcome, of message: OutboxRecord, clock: @Sendable () -> Date) async {
        var metadata: Logger.Metadata = ["outbox_message": "\(message.name)", "attempt": "\(message.attempts)"]
        for attempt in 1...3 {
            let now = clock()
            do {
                let held = try await database.transaction(.platform) { tx in
                    guard try await OutboxRecords.finish(message, worker: worker, outcome: outcome, now: now, tx) else { return false }
                    // A text from one of the tenant's lines is the tenant's: its message log shows it.
                    if case .delivered(let sid) = outcome, message.channel == .sms, !message.sender.isEmpty {
                        try await CommunicationRecords.logOutbound(
                            to: message.recipient, from: message.sender, body: message.body,
                            sid: sid.isEmpty ? "outbox-\(message.messageID)" : sid, TenantTransaction(tenantID: message.tenantID, base: tx), now: now)
                    }
                    return true
                }
                guard held else {
                    logger.warning("lost the lease on an outbox message; another worker's outcome stands", metadata: metadata)
                    return
                }
                switch outcome {
                case .delivered(let providerMessageID):
                    metadata["provider_message_id"] = "\(providerMessageID)"
                    logger.info("outbox message delivered", metadata: metadata)
                case .retry(let error, let next):
                    metadata["error"] = "\(error)"
                    metadata["next_attempt_time"] = "\(next)"
                    logger.warning("outbox message not delivered; will retry", metadata: metadata)
                case .awaitOperator(let error, let next):
                    metadata["error"] = "\(error)"
                    metadata["next_attempt_time"] = "\(next)"
                    logger.error("the provider refuses the platform's credentials; outbox messages wait until they are mended", metadata: metadata)
                case .deferred(let reason, let next):
                    metadata["reason"] = "\(reason)"
                    metadata["next_attempt_time"] = "\(next)"
                    logger.info("outbox message put off", metadata: metadata)
                case .failed(let error):
                    metadata["error"] = "\(error)"
                    logger.error("outbox message failed for good", metadata: metadata)
                case .withdrawn(let reason):
                    metadata["reason"] = "\(reason)"
                    logger.info("outbox message not sent: it no longer holds", metadata: metadata)
                }
                return
            } catch {
                var failure = metadata
                failure["error"] = "\(error)"
                logger.error("could not record an outbox message's outcome", metadata: failure)
                if attempt < 3 { try? await Task.sleep(for: .milliseconds(250 * attempt)) }
            }
        }
    }
}
