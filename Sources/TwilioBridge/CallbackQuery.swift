import Hummingbird
import ServiceProAPI

/// What the callback URLs the bridge renders carry back in their query string, which Twilio
/// sends (and signs) unchanged: see `TwilioCallbackURLs`.
struct CallbackQuery: Sendable {
    /// A count from 1; 0 when there is none (or it is below 0), as on a call's first request.
    /// The platform reads 0 as the first try on the IVR and dial routes, and as a new call on
    /// the AI route.
    var attempt = 0
    /// On the menu's digits: the menu's step, when its URL carried one.
    var step: Int?
    /// On a dial result: the number the `<Dial>` rang, when it rang a number.
    var dialed: String?
    /// On a dial result: the dial was the bridge's own, made during an outage.
    var outage = false

    init(_ parameters: Hummingbird.Parameters) {
        attempt = max(parameters.get(TwilioCallbackURLs.attemptParameter, as: Int.self) ?? 0, 0)
        step = parameters.get(TwilioCallbackURLs.stepParameter, as: Int.self).map { max($0, 0) }
        dialed = parameters.get(TwilioCallbackURLs.dialedParameter).flatMap { $0.isEmpty ? nil : $0 }
        outage = parameters.get(TwilioCallbackURLs.outageParameter) == "1"
    }
}
