/// How the bridge serves Twilio; see `twilio-bridge --help`. How it reaches the platform is the
/// `PlatformClient` it starts with.
public struct BridgeConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The base URL Twilio calls, used to verify webhook signatures.
    public var publicURL: String?
    /// Twilio's auth token, the key of `X-Twilio-Signature`. Without it every webhook is refused.
    public var twilioAuthToken: String?
    /// The SQLite file holding texts the platform could not take yet.
    public var spoolPath: String
    /// Where callers of a number the bridge has not heard of go while the platform is down.
    public var fallbackNumber: String?
    /// How long a webhook waits for the platform before falling back; well under Twilio's 15 s.
    public var platformDeadline: Duration
    /// How often the spool retries the platform.
    public var spoolRetryInterval: Duration
    /// How often the bridge reads every line's forward number, for callers in an outage.
    public var fallbackRouteInterval: Duration
    /// Stripe's webhook signing secrets, as the platform has them. With them, a webhook whose
    /// `Stripe-Signature` does not verify is refused here and never reaches the platform; without
    /// them, the platform alone checks it.
    public var stripeWebhookSecrets: [String]
    /// For bench/ only, off by default: also serve `POST /bench/static-sms`, which runs exactly
    /// what `/sms` runs (body, form, signature, spool check, TwiML) except the platform RPC, and
    /// answers a fixed reply. It is the baseline the end-to-end benchmark is compared against;
    /// production bridges leave it off, so the route does not exist there.
    public var benchmarkStaticRoute: Bool

    public init(
        host: String,
        port: Int,
        publicURL: String? = nil,
        twilioAuthToken: String? = nil,
        spoolPath: String,
        fallbackNumber: String? = nil,
        platformDeadline: Duration = .seconds(5),
        spoolRetryInterval: Duration = .seconds(1),
        fallbackRouteInterval: Duration = .seconds(60),
        stripeWebhookSecrets: [String] = [],
        benchmarkStaticRoute: Bool = false
    ) {
        self.host = host
        self.port = port
        self.publicURL = publicURL
        self.twilioAuthToken = twilioAuthToken
        self.spoolPath = spoolPath
        self.fallbackNumber = fallbackNumber
        self.platformDeadline = platformDeadline
        self.spoolRetryInterval = spoolRetryInterval
        self.fallbackRouteInterval = fallbackRouteInterval
        self.stripeWebhookSecrets = stripeWebhookSecrets
        self.benchmarkStaticRoute = benchmarkStaticRoute
    }
}
