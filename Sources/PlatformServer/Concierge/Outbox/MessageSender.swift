import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceProAPI

/// Hands one outbox message to a provider.
///
/// `send` returns the provider's id for the accepted message. It throws a
/// ``MessageDeliveryError``: permanent when the provider refused the message itself (another
/// attempt would be refused the same way), transient when trying later may work (the provider
/// unreachable, overloaded or rate limiting). Any other error counts as transient.
protocol MessageSender: Sendable {
    /// Names the provider in logs: `twilio`, `sendgrid`, `log`.
    var provider: String { get }

    func send(_ message: OutboxRecord) async throws -> String
}

/// Why a provider did not take a message, and whether it is worth asking again.
struct MessageDeliveryError: Error, CustomStringConvertible, Sendable {
    var isPermanent: Bool
    /// What the provider said, for the message's `last_error`.
    var message: String
    /// How long the provider asked us to wait (`Retry-After`), if it did.
    var retryAfter: TimeInterval?
    /// The platform's settings to check when the provider refused its own credentials (401,
    /// 403); nil when it refused or failed on the message.
    var settingsToCheck: String?

    var description: String { message }

    static func permanent(_ message: String) -> MessageDeliveryError {
        MessageDeliveryError(isPermanent: true, message: message, retryAfter: nil)
    }

    static func transient(_ message: String, retryAfter: TimeInterval? = nil) -> MessageDeliveryError {
        MessageDeliveryError(isPermanent: false, message: message, retryAfter: retryAfter)
    }

    /// A refusal by HTTP status: a timeout (408), rate limit (429) or server error (5xx) may pass
    /// later; so may 401 and 403, which are about the platform's own `settings` (a key rotated
    /// at the provider and not yet here, a sender not verified), not the message, and pass once
    /// an operator mends them. Any other 4xx is about the request and will not.
    static func refused(status: Int, message: String, retryAfter: TimeInterval?, settings: String) -> MessageDeliveryError {
        if status == 401 || status == 403 {
            return MessageDeliveryError(isPermanent: false, message: message, retryAfter: retryAfter, settingsToCheck: settings)
        }
        return ProviderAPI.mayPassLater(status) ? .transient(message, retryAfter: retryAfter) : .permanent(message)
    }
}

/// Which sender each channel goes through.
struct OutboxSenders: Sendable {
    var email: any MessageSender
    var sms: any MessageSender

    init(email: any MessageSender, sms: any MessageSender) {
        self.email = email
        self.sms = sms
    }

    /// The configured providers. With none at all (a developer's machine) both channels are
    /// logged instead of sent; with one, the other channel's messages fail, saying what to set:
    /// that platform's logs are a production system's, and a login link must not end up there
    /// reported as sent.
    init(settings: OutboxSettings, logger: Logger) {
        guard settings.sendGrid != nil || settings.twilio != nil else {
            email = LoggingSender(logger: logger)
            sms = LoggingSender(logger: logger)
            return
        }
        if let sendGrid = settings.sendGrid {
            email = SendGridMailSender(settings: sendGrid)
        } else {
            email = UnconfiguredSender(channel: "email", settings: "SENDGRID_API_KEY and SERVICEPRO_MAIL_FROM")
        }
        if let twilio = settings.twilio {
            sms = TwilioMessagesSender(settings: twilio)
        } else {
            sms = UnconfiguredSender(channel: "SMS", settings: "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and SERVICEPRO_SMS_FROM")
        }
    }

    func sender(for channel: OutboxChannel) -> (any MessageSender)? {
        switch channel {
        case .email: return email
        case .sms: return sms
        default: return nil
        }
    }
}

/// What the outbox uses on a platform with no provider configured, e.g. a developer's machine:
/// it logs what would have been sent, body included (that is how a developer gets an onboarding
/// login link), and reports it delivered under a synthetic id.
struct LoggingSender: MessageSender {
    let logger: Logger
    var provider: String { "log" }

    func send(_ message: OutboxRecord) async throws -> String {
        let id = "log-" + UUID().uuidString.lowercased()
        var metadata: Logger.Metadata = [
            "outbox_message": "\(message.name)",
            "channel": "\(message.channel.storedName)",
            "to": "\(message.recipient)",
            "purpose": "\(message.purpose)",
            "body": "\(message.body)",
            "provider_message_id": "\(id)",
        ]
        if !message.subject.isEmpty { metadata["subject"] = "\(message.subject)" }
        logger.notice("no provider configured for this channel; logging the message instead of sending it", metadata: metadata)
        return id
    }
}

/// A channel with no provider on a platform that has another: its messages fail at once, saying
/// what to set.
struct UnconfiguredSender: MessageSender {
    /// "SMS", "email".
    let channel: String
    /// The environment variables that configure the channel's provider.
    let settings: String
    var provider: String { "none" }

    func send(_ message: OutboxRecord) async throws -> String {
        throw MessageDeliveryError.permanent(
            "no \(channel) provider is configured, so this message is not sent: set \(settings) where platform-server runs and restart it; an onboarding message can then be sent again (spctl concierge send-onboarding)")
    }
}

/// The HTTP exchange the provider senders share.
enum OutboxHTTP {
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// Sends `request`. Not reaching the provider, or not hearing back in time, is transient.
    /// Once a status has arrived, a body that cannot be read is taken as empty: for a 2xx the
    /// provider has accepted the message, and that must not turn into a retry.
    static func execute(_ request: HTTPClientRequest, http: HTTPClient, timeout: TimeAmount, provider: String) async throws -> Answer {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw MessageDeliveryError.transient("\(provider) could not be reached: \(error)")
        }
        let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
        return Answer(status: Int(response.status.code), headers: response.headers, body: body)
    }

    /// `Retry-After` in seconds; the HTTP-date form is rare from APIs and ignored.
    static func retryAfter(_ headers: HTTPHeaders) -> TimeInterval? {
        headers.first(name: "Retry-After").flatMap { TimeInterval($0.trimmingCharacters(in: .whitespaces)) }
    }
}
