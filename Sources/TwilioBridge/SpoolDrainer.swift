import Foundation
import GRPCCore
import Logging
import ServiceLifecycle
import RPCRuntime
import ServiceProAPI
import Synchronization

/// Replays spooled texts to the platform, oldest first, until only held lines are left, or
/// none; stops when the platform cannot take texts at all (UNAVAILABLE) and tries again shortly.
/// Then the spooled status callbacks that are due, the same way, whatever became of the texts;
/// one kept for a later pass is due again once its wait is over (`SpooledStatus.retryWait`).
///
/// A text the platform takes but cannot store holds up only its own line, whose texts keep
/// their order: one whose tenant's texts arrive faster than the platform stores them, one that
/// loses a race or outlasts the replay's deadline, or one the platform fails on (an internal
/// error, every time, say). The other lines' texts, and the status callbacks, go on.
struct SpoolDrainer<Transport: ClientTransport>: Service {
    let platform: PlatformClient<Transport>
    let spool: MessageSpool
    let interval: Duration
    /// On each replayed text, so that a platform that hangs on one holds up only its line. No one
    /// waits on a replay, so it gets longer than a webhook: the platform goes on with a call the
    /// bridge gave up on, and a shorter deadline would pile up copies of a slow one.
    let deadline = CallDeadline(timeout: .seconds(30))
    let logger: Logger
    /// The texts whose failure was logged, so that a text that fails on every pass is logged
    /// once, not once a second.
    let reported = FailedTexts()
    /// When each status kept for a later pass is due again.
    let retries = StatusRetries()

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await drain()
                    failing = false
                } catch {
                    // Once per run of failures, which no retry mends: texts wait until someone acts.
                    if !failing {
                        if let error = error as? RPCError, error.refusesBridge {
                            logger.critical("\(RPCError.refusedBridgeAdvice)", metadata: ["error": "\(error)"])
                        } else {
                            logger.critical("could not read or update the spool", metadata: ["error": "\(error)"])
                        }
                    }
                    failing = true
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Sends everything it can; returns how many messages left the spool. Throws when the spool
    /// cannot be read or updated, or the platform refuses the bridge itself.
    @discardableResult
    func drain() async throws -> Int {
        var sent = 0
        var held: Set<String> = []
        let inbound = InboundService.Client(wrapping: platform.grpc)
        while let (sequence, line, spooled) = try await spool.oldest(skipping: held) {
            var message = spooled
            message.replayed = true
            do {
                _ = try await deadline.run { [message] in try await inbound.handleInboundMessage(message, metadata: platform.metadata) }
                sent += 1
            } catch let error as RPCError where error.isVerdictOnRequest {
                logger.error("dropping a spooled text the platform refuses", metadata: ["message_sid": "\(message.messageSid)", "error": "\(error)"])
            } catch let error as RPCError where error.refusesBridge {
                throw error
            } catch let error as RPCError where error.delaysThisRequest {
                // A backlog is the platform pacing a tenant; anything else keeps a line waiting
                // unexpectedly, and is said once.
                if !error.isTenantBacklog, reported.firstFailure(of: sequence) {
                    logger.warning("the platform cannot finish a spooled text now; its line waits, and the others go on", metadata: [
                        "message_sid": "\(message.messageSid)", "line": "\(line)", "error": "\(error)",
                    ])
                }
                held.insert(line)
                continue
            } catch let error as RPCError where error.failsThisRequest {
                if reported.firstFailure(of: sequence) {
                    logger.error("the platform fails on a spooled text; its line waits, and the others go on", metadata: [
                        "message_sid": "\(message.messageSid)", "line": "\(line)", "error": "\(error)",
                    ])
                }
                held.insert(line)
                continue
            } catch {
                break
            }
            try await spool.remove(sequence: sequence)
            reported.forget(sequence)
        }
        if sent > 0 { logger.info("replayed spooled texts", metadata: ["count": "\(sent)"]) }
        return sent + (try await drainStatuses(through: inbound))
    }

    /// Sends the spooled status callbacks, a page at a time; returns how many left the spool.
    private func drainStatuses(through inbound: InboundService.Client<Transport>) async throws -> Int {
        var sent = 0
        var last = 0
        pages: while true {
            let page = try await spool.oldestStatuses(after: last)
            if page.isEmpty { break }
            for (sequence, status, spoolTime) in page {
                // Past one kept for a later pass, so no number of those holds up the ones after.
                last = sequence
                guard retries.isDue(sequence) else { continue }
                do {
                    try await deadline.run { try await status.record(through: inbound, metadata: platform.metadata) }
                    sent += 1
                } catch let error as RPCError where status.waitsForItsText(after: error, spooledAt: spoolTime) {
                    postpone(sequence, spooledAt: spoolTime)
                    continue
                } catch let error as RPCError where status.missesItsText(error) {
                    // Most likely a text another system sent from the same Twilio account.
                    logger.info("dropping a spooled delivery report: no text with its sid was logged within ten minutes", metadata: [
                        "message_sid": "\(status.sid)",
                    ])
                } catch let error as RPCError where error.isVerdictOnRequest {
                    logger.error("dropping a spooled status the platform cannot take", metadata: ["sid": "\(status.sid)", "error": "\(error)"])
                } catch let error as RPCError where error.refusesBridge {
                    throw error
                } catch let error as RPCError where error.failsThisRequest || error.delaysThisRequest {
                    // One that fails every time holds up no other status.
                    logger.debug("the platform fails on a spooled status", metadata: ["sid": "\(status.sid)", "error": "\(error)"])
                    postpone(sequence, spooledAt: spoolTime)
                    continue
                } catch {
                    break pages
                }
                try await spool.removeStatus(sequence: sequence)
                retries.forget(sequence)
            }
        }
        if sent > 0 { logger.info("replayed spooled statuses", metadata: ["count": "\(sent)"]) }
        return sent
    }

    /// Keeps a status, spooled at `spoolTime`, out of the passes until its next attempt is due.
    private func postpone(_ sequence: Int, spooledAt spoolTime: Date) {
        let age = Duration.seconds(Date().timeIntervalSince(spoolTime))
        retries.postpone(sequence, until: .now + SpooledStatus.retryWait(age: age, interval: interval))
    }
}

/// The spooled texts the platform has failed on, by spool sequence.
final class FailedTexts: Sendable {
    private let sequences = Mutex<Set<Int>>([])

    /// True the first time `sequence` fails.
    func firstFailure(of sequence: Int) -> Bool {
        sequences.withLock { $0.insert(sequence).inserted }
    }

    /// `sequence` left the spool.
    func forget(_ sequence: Int) {
        _ = sequences.withLock { $0.remove(sequence) }
    }
}

/// When each spooled status kept for a later pass is due again, by spool sequence. Kept in
/// memory, as `FailedTexts` is: a restarted bridge tries each once more at once, and a wait costs
/// no write to the spool's file.
final class StatusRetries: Sendable {
    private let due = Mutex<[Int: ContinuousClock.Instant]>([:])

    func isDue(_ sequence: Int, at now: ContinuousClock.Instant = .now) -> Bool {
        due.withLock { $0[sequence].map { $0 <= now } ?? true }
    }

    func postpone(_ sequence: Int, until time: ContinuousClock.Instant) {
        due.withLock { $0[sequence] = time }
    }

    /// `sequence` left the spool.
    func forget(_ sequence: Int) {
        _ = due.withLock { $0.removeValue(forKey: sequence) }
    }
}
