import Foundation

/// The bridge's webhook paths, and the URLs TwiML tells Twilio to call next. The platform uses
/// them too, to point the numbers it buys at the bridge.
///
/// The platform names the next step abstractly (a `VoiceCallback`: a route, an attempt and, for
/// the menu, a step) so it never needs the bridge's address; this is where that becomes a URL.
/// The attempt and step travel as query parameters, which Twilio sends back (and signs)
/// unchanged.
///
/// ```swift
/// let urls = TwilioCallbackURLs(base: "https://bridge.example.com")
/// urls.url(for: callback)  // "https://bridge.example.com/twilio/voice/gather?attempt=2"
/// ```
public struct TwilioCallbackURLs: Sendable, Hashable {
    /// Inbound texts: HandleInboundMessage.
    public static let smsPath = "/sms"
    /// A call's start: HandleInboundCall.
    public static let incomingCallPath = "/twilio/voice/incoming"
    /// The AI receptionist's speech: HandleAiVoiceTurn.
    public static let aiVoicePath = "/twilio/voice/ai"
    /// The menu's digits: HandleIvrSelection.
    public static let ivrGatherPath = "/twilio/voice/gather"
    /// How a dial ended: HandleDialResult.
    public static let dialResultPath = "/twilio/voice/dial-result"
    /// Call, message and recording status: RecordCallStatus and RecordMessageStatus.
    public static let statusPath = "/twilio/status"
    /// For bench/ only, served when `BridgeConfiguration.benchmarkStaticRoute` is on: `/sms`
    /// without the platform RPC, the baseline of the webhook benchmark.
    public static let benchmarkStaticSMSPath = "/bench/static-sms"
    /// The query parameter that carries `VoiceCallback.attempt`.
    public static let attemptParameter = "attempt"
    /// The query parameter that carries `VoiceCallback.step`, when the callback has one.
    public static let stepParameter = "step"
    /// The query parameter that names the number a `<Dial>` rang, on its dial-result URL: with
    /// the platform out of reach, the bridge then knows not to ring that number again.
    public static let dialedParameter = "dialed"
    /// Marks the dial-result URL of a dial the bridge made on its own, during an outage: the
    /// platform did not plan that dial, so the bridge answers its result itself.
    public static let outageParameter = "outage"

    /// The public base URL, or "" for URLs relative to the host, which Twilio resolves against the
    /// URL it is calling. A base is needed when a proxy adds a path prefix.
    public let base: String

    /// Whether `base` can be handed to Twilio as where to call: an http(s) URL with a host, such
    /// as https://bridge.example.com, and at most the path prefix a proxy adds. A URL without a
    /// scheme would make Twilio refuse every text that names it; one that is already a webhook's
    /// (https://bridge.example.com/sms, as Twilio's console shows it) or carries a query would
    /// make every signature check of a bridge that uses it fail, and Twilio does not send a
    /// refused text again.
    public static func isCallable(_ base: String) -> Bool {
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased() else { return false }
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        return ["https", "http"].contains(scheme) && !(url.host ?? "").isEmpty && url.query == nil && url.fragment == nil
            && !webhookPaths.contains { path.hasSuffix($0) }
    }

    /// What `isCallable` asks for, for an error message to say.
    public static let callableExample = "the bridge's base URL, scheme and host (and any path prefix a proxy adds), not a webhook's: e.g. https://bridge.example.com"

    /// The paths Twilio calls, which a base URL does not end in.
    static let webhookPaths = [smsPath, incomingCallPath, aiVoicePath, ivrGatherPath, dialResultPath, statusPath]

    public init(base: String? = nil) {
        var base = base ?? ""
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    /// The path that answers a route; nil for a route this bridge does not serve.
    public static func path(for route: VoiceRoute) -> String? {
        switch route {
        case .incoming: incomingCallPath
        case .ivrSelection: ivrGatherPath
        case .aiVoiceTurn: aiVoicePath
        case .dialResult: dialResultPath
        case .unspecified, .UNRECOGNIZED: nil
        }
    }

    /// Where Twilio should send the call's next request; nil when the route is not one of ours.
    /// An attempt of 0 (unset) is left out; the platform reads its absence as the first try on
    /// the IVR and dial routes, and as a call's first request on the AI route.
    /// `dialed` is the number a `<Dial>` with this callback rings, if it rings a number.
    public func url(for callback: VoiceCallback, dialed: String? = nil) -> String? {
        guard let path = Self.path(for: callback.route) else { return nil }
        var query: [(String, String)] = []
        if callback.attempt > 0 { query.append((Self.attemptParameter, "\(callback.attempt)")) }
        if callback.hasStep { query.append((Self.stepParameter, "\(callback.step)")) }
        if let dialed { query.append((Self.dialedParameter, dialed)) }
        return base + path + Self.queryString(query)
    }

    /// Where the result of a dial the bridge makes during an outage goes: the bridge answers it.
    public func outageDialResult(dialed: String) -> String {
        base + Self.dialResultPath + Self.queryString([(Self.outageParameter, "1"), (Self.dialedParameter, dialed)])
    }

    /// `?name=value&...`, values percent-encoded: a query string read as a form would turn an
    /// E.164 number's `+` into a space.
    private static func queryString(_ items: [(name: String, value: String)]) -> String {
        guard !items.isEmpty else { return "" }
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return "?" + items.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")" }.joined(separator: "&")
    }

    /// Where status callbacks go.
    public var status: String { base + Self.statusPath }
}
