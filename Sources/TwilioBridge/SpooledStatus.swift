import Foundation
import GRPCCore
import ServiceProAPI

/// A status callback the platform could not take when it came, kept in the spool for a replay.
/// Twilio sends each once, and only the last of a call's says how it ended and where its
/// voicemail is; a text's delivery report can also come before the platform has logged the text
/// (the outbox logs it once Twilio's answer is back, and the report may overtake that answer).
public enum SpooledStatus: Sendable, Equatable {
    case call(RecordCallStatusRequest)
    case message(RecordMessageStatusRequest)

    /// How long a delivery report waits for its text to appear in the platform's log. The race
    /// with the outbox lasts milliseconds; a report still unknown after this is for a text the
    /// platform never logged (another system's, on the same Twilio account) and is dropped.
    public static let messageGrace: TimeInterval = 10 * 60

    /// The longest a status kept for a later pass waits between two attempts.
    static let longestRetryWait = Duration.seconds(60)

    /// How long a status kept for a later pass waits before its next attempt, `age` after it was
    /// spooled: as long as it has waited already, but at least the drainer's `interval` and at
    /// most `longestRetryWait`. A status the platform keeps failing on then costs it one RPC a
    /// minute rather than one a pass (a delivery report waiting out `messageGrace`, some fifteen
    /// instead of six hundred), and one the platform can take again waits a minute at most.
    static func retryWait(age: Duration, interval: Duration) -> Duration {
        min(longestRetryWait, max(interval, age))
    }

    /// Hands the status to the platform.
    func record<Transport: ClientTransport>(through inbound: InboundService.Client<Transport>, metadata: Metadata) async throws {
        switch self {
        case .call(let request): _ = try await inbound.recordCallStatus(request, metadata: metadata)
        case .message(let request): _ = try await inbound.recordMessageStatus(request, metadata: metadata)
        }
    }

    /// Whether the platform's `error` says it has not logged this delivery report's text.
    func missesItsText(_ error: RPCError) -> Bool {
        guard case .message = self else { return false }
        return error.code == .notFound
    }

    /// Whether the platform's `error` means "not yet" for this status, spooled at `spoolTime`.
    func waitsForItsText(after error: RPCError, spooledAt spoolTime: Date, now: Date = Date()) -> Bool {
        missesItsText(error) && now.timeIntervalSince(spoolTime) < Self.messageGrace
    }

    /// The stored kind, for the spool's `kind` column.
    var kind: String {
        switch self {
        case .call: "call"
        case .message: "message"
        }
    }

    func serializedBytes() throws -> [UInt8] {
        switch self {
        case .call(let request): try request.serializedBytes()
        case .message(let request): try request.serializedBytes()
        }
    }

    /// The status stored as `kind` and `bytes`; nil when it cannot be read back.
    init?(kind: String, bytes: [UInt8]) {
        switch kind {
        case "call": guard let request = try? RecordCallStatusRequest(serializedBytes: bytes) else { return nil }; self = .call(request)
        case "message": guard let request = try? RecordMessageStatusRequest(serializedBytes: bytes) else { return nil }; self = .message(request)
        default: return nil
        }
    }

    /// The sid a log line names.
    var sid: String {
        switch self {
        case .call(let request): request.callSid
        case .message(let request): request.messageSid
        }
    }
}
