/// How the bridge starts; see `twilio-bridge --help`.
public struct BridgeConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// host:port of platform-server.
    public var platform: String
    /// The bridge's own bearer token (role telephony_bridge).
    public var bridgeToken: String
    /// The base URL Twilio calls, used to verify webhook signatures.
    public var publicURL: String?
    /// Twilio's auth token, the key of `X-Twilio-Signature`.
    public var twilioAuthToken: String?

    public init(host: String, port: Int, platform: String, bridgeToken: String, publicURL: String? = nil, twilioAuthToken: String? = nil) {
        self.host = host
        self.port = port
        self.platform = platform
        self.bridgeToken = bridgeToken
        self.publicURL = publicURL
        self.twilioAuthToken = twilioAuthToken
    }
}
