import Foundation

/// How the outbox delivers: the providers' credentials, the retry policy and the worker's pace.
/// With no provider at all, messages are logged instead of sent (``LoggingSender``); with one,
/// the other channel's fail (``UnconfiguredSender``).
public struct OutboxSettings: Sendable {
    /// Texts go through Twilio Messages.
    public var twilio: TwilioMessagingSettings?
    /// Emails go through SendGrid v3 mail.
    public var sendGrid: SendGridSettings?
    /// Attempts before a message that keeps failing transiently is given up as failed.
    public var maxAttempts: Int
    /// The wait after the first failed attempt; it doubles after each further one.
    public var baseBackoff: TimeInterval
    /// The longest wait between attempts.
    public var maxBackoff: TimeInterval
    /// How long a message waits, from its making, for an operator to mend the credentials a
    /// provider refuses (`MessageDeliveryError.settingsToCheck`): a login link lasts a day too.
    public var operatorPatience: TimeInterval = 86_400
    /// How often an idle worker looks for due messages.
    public var pollInterval: Duration
    /// How long a worker owns a message it is sending. Far longer than one provider request
    /// (10 s at most), so a lease only runs out when its worker died.
    public var leaseDuration: TimeInterval
    /// Messages a worker claims and sends together in one pass.
    public var batchSize: Int
    /// How often tenants' automations look for texts that have fallen due and queue them here.
    public var automationInterval: Duration = .seconds(60)
    /// When automation texts may go, where the business is: they are queued only then, and one
    /// that retries carry past it waits for the morning. Nil sends at any hour.
    public var quietHours: QuietHours? = QuietHours()

    public init(
        twilio: TwilioMessagingSettings? = nil,
        sendGrid: SendGridSettings? = nil,
        maxAttempts: Int = 6,
        baseBackoff: TimeInterval = 30,
        maxBackoff: TimeInterval = 3_600,
        pollInterval: Duration = .seconds(5),
        leaseDuration: TimeInterval = 120,
        batchSize: Int = 20,
        automationInterval: Duration = .seconds(60)
    ) {
        self.twilio = twilio
        self.sendGrid = sendGrid
        self.maxAttempts = max(1, maxAttempts)
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.pollInterval = pollInterval
        self.leaseDuration = leaseDuration
        self.batchSize = max(1, batchSize)
        self.automationInterval = automationInterval
    }

    /// The wait of a message held for an operator (`operatorPatience`), `age` after its making:
    /// as long as it has waited, between `baseBackoff` and `maxBackoff`. Its attempts do not
    /// count, so they cannot set the pace, and a day of waiting costs a provider some twenty
    /// refusals a message, not thousands.
    func operatorBackoff(age: TimeInterval, retryAfter: TimeInterval? = nil) -> TimeInterval {
        clamped(max(age, baseBackoff), retryAfter: retryAfter)
    }

    /// The wait after attempt `attempt` (1 for the first) failed: 30 s, 1 min, 2 min, ... up to
    /// `maxBackoff`, or longer when the provider asked for it with `Retry-After` (a day at most,
    /// whatever it asked).
    func backoff(afterAttempt attempt: Int, retryAfter: TimeInterval? = nil) -> TimeInterval {
        clamped(Backoff.doubling(afterAttempt: attempt, first: baseBackoff), retryAfter: retryAfter)
    }

    /// `wait` up to `maxBackoff`, or what `Retry-After` asked for when that is longer (a day at
    /// most).
    private func clamped(_ wait: TimeInterval, retryAfter: TimeInterval?) -> TimeInterval {
        max(min(wait, maxBackoff), min(retryAfter ?? 0, 86_400))
    }

    /// Reads Twilio from `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `SERVICEPRO_SMS_FROM` (a number
    /// or a Messaging Service sid, `MG…`) and `SERVICEPRO_TWILIO_API_URL`; SendGrid from
    /// `SENDGRID_API_KEY`, `SERVICEPRO_MAIL_FROM` (`noreply@example.com` or
    /// `ServicePro <noreply@example.com>`) and `SERVICEPRO_SENDGRID_API_URL`. Empty values count
    /// as unset. A provider with none of its required values is not configured (see
    /// `OutboxSenders` for what becomes of its messages); one with some but not all is an error
    /// naming what is missing,
    /// since it would log what was meant to be sent (login links among it) and call it delivered.
    /// `TWILIO_AUTH_TOKEN` alone is the bridge's, for signatures, and configures nothing here.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> OutboxSettings {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func requireAll(_ names: [String], given: Bool, provider: String) throws {
            let missing = names.filter { value($0) == nil }
            guard given, !missing.isEmpty else { return }
            throw OutboxConfigurationError(
                description: "\(provider) is partly configured: set \(missing.joined(separator: " and ")), or unset the rest to log messages instead of sending them")
        }
        try requireAll(["TWILIO_AUTH_TOKEN", "SERVICEPRO_SMS_FROM"], given: value("TWILIO_ACCOUNT_SID") != nil, provider: "Twilio messaging (TWILIO_ACCOUNT_SID)")
        try requireAll(
            ["SENDGRID_API_KEY", "SERVICEPRO_MAIL_FROM"], given: value("SENDGRID_API_KEY") != nil || value("SERVICEPRO_MAIL_FROM") != nil,
            provider: "SendGrid")
        var settings = OutboxSettings()
        if let sid = value("TWILIO_ACCOUNT_SID"), let token = value("TWILIO_AUTH_TOKEN"), let from = value("SERVICEPRO_SMS_FROM") {
            settings.twilio = TwilioMessagingSettings(
                accountSID: sid, authToken: token, from: from,
                apiURL: value("SERVICEPRO_TWILIO_API_URL") ?? TwilioMessagingSettings.defaultAPIURL)
        }
        if let key = value("SENDGRID_API_KEY"), let from = value("SERVICEPRO_MAIL_FROM") {
            let sender = SendGridSettings.parseSender(from)
            settings.sendGrid = SendGridSettings(
                apiKey: key, fromEmail: sender.email, fromName: sender.name,
                apiURL: value("SERVICEPRO_SENDGRID_API_URL") ?? SendGridSettings.defaultAPIURL)
        }
        return settings
    }
}

/// Twilio's Messages API: the account, and who texts come from.
public struct TwilioMessagingSettings: Sendable {
    public static let defaultAPIURL = "https://api.twilio.com"

    public var accountSID: String
    public var authToken: String
    /// An E.164 number of the account, or a Messaging Service sid (`MG…`), which then picks the number.
    public var from: String
    /// Twilio's base URL; a local fake's in tests.
    public var apiURL: String
    /// The bridge's public base URL: each text from a tenant's line asks for its delivery reports
    /// there (`StatusCallback`), and the message log follows them. The platform's own texts are in
    /// no message log, so they ask for none; nor does any text without it.
    public var webhookBaseURL: String?

    public init(accountSID: String, authToken: String, from: String, apiURL: String = defaultAPIURL, webhookBaseURL: String? = nil) {
        self.accountSID = accountSID
        self.authToken = authToken
        self.from = from
        self.apiURL = apiURL
        self.webhookBaseURL = webhookBaseURL
    }

    /// Messaging Service sids start `MG`; anything else that sends is a number.
    static func isMessagingService(_ sender: String) -> Bool { sender.hasPrefix("MG") }
}

/// SendGrid's v3 mail API: the key, and who emails come from (a verified sender).
public struct SendGridSettings: Sendable {
    public static let defaultAPIURL = "https://api.sendgrid.com"

    public var apiKey: String
    public var fromEmail: String
    /// Shown as the sender's name; none when empty.
    public var fromName: String
    /// SendGrid's base URL; a local fake's in tests.
    public var apiURL: String

    public init(apiKey: String, fromEmail: String, fromName: String = "", apiURL: String = defaultAPIURL) {
        self.apiKey = apiKey
        self.fromEmail = fromEmail
        self.fromName = fromName
        self.apiURL = apiURL
    }

    /// `Name <address>` or a bare address.
    static func parseSender(_ value: String) -> (email: String, name: String) {
        guard value.hasSuffix(">"), let open = value.lastIndex(of: "<") else { return (value, "") }
        let email = value[value.index(after: open)..<value.index(before: value.endIndex)]
        let name = value[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return (email.trimmingCharacters(in: .whitespaces), name)
    }
}

/// A messaging provider configured by halves in the environment.
public struct OutboxConfigurationError: Error, CustomStringConvertible {
    public let description: String
}
