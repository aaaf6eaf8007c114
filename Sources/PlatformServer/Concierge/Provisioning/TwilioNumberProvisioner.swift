import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RPCRuntime
import ServiceProAPI

/// Twilio's REST API for numbers: search AvailablePhoneNumbers, buy through
/// IncomingPhoneNumbers, release with a DELETE. A number is bought with the bridge's webhooks
/// already set, so its first call or text reaches the platform; an existing number given to a
/// tenant is pointed at them with an update.
public struct TwilioNumberProvisioner: NumberProvisioner {
    public static let defaultAPIURL = "https://api.twilio.com"

    let accountSID: String
    let authToken: String
    let apiURL: String
    /// The bridge's public base URL, e.g. `https://bridge.example.com`: where a bought number's
    /// calls, texts and status callbacks go. Nothing is bought without it.
    public var webhookBaseURL: String?
    var api = ProviderAPI(name: "Twilio")

    public init(accountSID: String, authToken: String, apiURL: String = defaultAPIURL, webhookBaseURL: String? = nil) {
        self.accountSID = accountSID
        self.authToken = authToken
        self.apiURL = apiURL
        self.webhookBaseURL = webhookBaseURL
    }

    /// From TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and SERVICEPRO_TWILIO_API_URL; nil without
    /// credentials. The bridge's URL (`webhookBaseURL`) is the caller's to set: platform-server
    /// resolves it once for everything that gives Twilio a callback.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> TwilioNumberProvisioner? {
        guard let sid = environment["TWILIO_ACCOUNT_SID"], !sid.isEmpty,
              let token = environment["TWILIO_AUTH_TOKEN"], !token.isEmpty
        else { return nil }
        let url = environment["SERVICEPRO_TWILIO_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultAPIURL
        return TwilioNumberProvisioner(accountSID: sid, authToken: token, apiURL: url)
    }

    /// The bridge's routes a bought number is pointed at.
    private func webhooks() throws -> TwilioCallbackURLs {
        guard let base = webhookBaseURL, TwilioCallbackURLs.isCallable(base) else {
            throw ServiceError.failedPrecondition(
                reason: "number_webhooks_unconfigured",
                message: "a bought number needs the Twilio bridge's public URL for its calls and texts: set SERVICEPRO_TWILIO_WEBHOOK_URL (e.g. https://bridge.example.com), or --twilio-public-url with --twilio-listen")
        }
        return TwilioCallbackURLs(base: base)
    }

    public func checkCanProvision() throws {
        _ = try webhooks()
    }

    /// The fields of a number that route its calls and texts, set to the bridge's webhooks. A
    /// TwiML app or a SIP trunk on the number would take precedence over its URLs, so neither
    /// is left on it.
    private static func routing(to webhooks: TwilioCallbackURLs) -> [String: String] {
        [
            "VoiceUrl": webhooks.base + TwilioCallbackURLs.incomingCallPath, "VoiceMethod": "POST",
            "SmsUrl": webhooks.base + TwilioCallbackURLs.smsPath, "SmsMethod": "POST",
            "StatusCallback": webhooks.status, "StatusCallbackMethod": "POST",
            "VoiceApplicationSid": "", "SmsApplicationSid": "", "TrunkSid": "",
        ]
    }

    private struct AvailableNumbers: Decodable {
        struct Number: Decodable { var phoneNumber: String }
        var availablePhoneNumbers: [Number]
    }

    private struct IncomingNumber: Decodable {
        var sid: String
        var phoneNumber: String
        var friendlyName: String?
        var voiceUrl: String?
        var voiceMethod: String?
        var smsUrl: String?
        var smsMethod: String?
        var statusCallback: String?
        var statusCallbackMethod: String?
        var voiceApplicationSid: String?
        var smsApplicationSid: String?
        var trunkSid: String?

        /// The number's routing, in the fields `routing(to:)` sets.
        var routing: [String: String] {
            [
                "VoiceUrl": voiceUrl ?? "", "VoiceMethod": voiceMethod ?? "POST",
                "SmsUrl": smsUrl ?? "", "SmsMethod": smsMethod ?? "POST",
                "StatusCallback": statusCallback ?? "", "StatusCallbackMethod": statusCallbackMethod ?? "POST",
                "VoiceApplicationSid": voiceApplicationSid ?? "", "SmsApplicationSid": smsApplicationSid ?? "", "TrunkSid": trunkSid ?? "",
            ]
        }
    }

    private struct IncomingNumbers: Decodable {
        var incomingPhoneNumbers: [IncomingNumber]
    }

    public func provision(areaCode: String?, countryCode: String, friendlyName: String) async throws -> ProvisionedNumber {
        let webhooks = try webhooks()
        var query = "SmsEnabled=true&VoiceEnabled=true&PageSize=1"
        if let areaCode { query += "&AreaCode=\(areaCode)" }
        let available: AvailableNumbers = try await send(.GET, "/AvailablePhoneNumbers/\(countryCode)/Local.json?\(query)", form: nil)
        guard let candidate = available.availablePhoneNumbers.first else {
            throw ServiceError.failedPrecondition(
                reason: "no_number_available",
                message: "Twilio has no local number\(areaCode.map { " in area code \($0)" } ?? "") in \(countryCode); try another area code")
        }
        // Twilio takes a friendly name of at most 64 characters and refuses the purchase otherwise.
        let friendlyName = String(friendlyName.prefix(64))
        let bought: IncomingNumber
        do {
            bought = try await send(.POST, "/IncomingPhoneNumbers.json", form: [
                ("PhoneNumber", candidate.phoneNumber), ("FriendlyName", friendlyName),
            ] + Self.form(Self.routing(to: webhooks)))
        } catch let error as ServiceError where error.code == .unavailable {
            // A purchase whose answer was lost (a timeout, a 5xx) may have gone through: then the
            // account owns the number under this create's friendly name, which starts with the
            // new tenant's id (so Twilio's 64-character cut keeps it). Otherwise a retry would buy
            // a second one while the first went on being billed, unknown to the platform. A number
            // the account owns under another name is another create's, which won a race for it:
            // never this one's to keep or release.
            let owned = (try? await accountNumbers(candidate.phoneNumber)) ?? []
            guard let number = owned.first(where: { $0.friendlyName == friendlyName }) else { throw error }
            bought = number
        }
        return ProvisionedNumber(sid: bought.sid, phoneNumber: bought.phoneNumber)
    }

    public func checkOwned(_ phoneNumber: String, field: String) async throws {
        _ = try await owned(phoneNumber, field: field)
    }

    /// Without the bridge's public URL there is nowhere to point the number: it keeps the
    /// routing it has, which an operator may have set by hand.
    public func routeToBridge(_ phoneNumber: String, field: String) async throws -> RoutedNumber? {
        let number = try await owned(phoneNumber, field: field)
        guard let base = webhookBaseURL, TwilioCallbackURLs.isCallable(base) else { return nil }
        let bridge = Self.routing(to: TwilioCallbackURLs(base: base))
        guard number.routing != bridge else { return nil }
        let routed = RoutedNumber(sid: number.sid, phoneNumber: number.phoneNumber, previousRouting: number.routing)
        do {
            let _: IncomingNumber = try await send(.POST, "/IncomingPhoneNumbers/\(number.sid).json", form: Self.form(bridge))
        } catch let error as ServiceError where error.code == .unavailable {
            // An update whose answer was lost may have gone through: then the number is on the
            // bridge, and the create goes on with it as if the answer had come.
            guard (try? await owned(phoneNumber, field: field))?.routing == bridge else { throw error }
        }
        return routed
    }

    public func restoreRouting(_ number: RoutedNumber) async throws {
        let _: IncomingNumber = try await send(.POST, "/IncomingPhoneNumbers/\(number.sid).json", form: Self.form(number.previousRouting))
    }

    /// A routing as a form, in a stable order.
    private static func form(_ fields: [String: String]) -> [(String, String)] {
        fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The account's `phoneNumber`, or FAILED_PRECONDITION `number_not_in_account` naming `field`.
    private func owned(_ phoneNumber: String, field: String) async throws -> IncomingNumber {
        if let number = try await accountNumbers(phoneNumber).first { return number }
        throw ServiceError.failedPrecondition(
            reason: "number_not_in_account",
            message: "\(phoneNumber) is not a number of the platform's Twilio account, so its calls and texts would never arrive; check \(field), or have the platform buy a number (a new phone config's provision_number, or the concierge's TELEPHONY_SETUP_MODE_PROVISION_NUMBER)",
            metadata: ["field": field])
    }

    /// The account's holdings of `phoneNumber`: Twilio filters by it, and only exact matches count.
    private func accountNumbers(_ phoneNumber: String) async throws -> [IncomingNumber] {
        let owned: IncomingNumbers = try await send(.GET, "/IncomingPhoneNumbers.json?" + FormEncoding.encode([("PhoneNumber", phoneNumber)]), form: nil)
        return owned.incomingPhoneNumbers.filter { $0.phoneNumber == phoneNumber }
    }

    /// A number the account no longer has (Twilio's 20404) counts as released: an earlier
    /// release whose answer was lost took it.
    public func release(_ number: ProvisionedNumber) async throws {
        do {
            let _: EmptyAnswer = try await send(.DELETE, "/IncomingPhoneNumbers/\(number.sid).json", form: nil)
        } catch let error as ServiceError where error.metadata["twilio_error"] == Self.notFoundCode {
            return
        }
    }

    /// Twilio's error code for a resource that does not exist.
    static let notFoundCode = "20404"

    /// Twilio's error body: `{"code": 21452, "message": "...", "status": 400}`.
    private struct ErrorBody: Decodable {
        var code: Int?
        var message: String?
    }

    private func send<Response: Decodable>(_ method: HTTPMethod, _ path: String, form: [(String, String)]?) async throws -> Response {
        var request = HTTPClientRequest(url: "\(ProviderAPI.trimmedBase(apiURL))/2010-04-01/Accounts/\(accountSID)\(path)")
        request.method = method
        let credentials = Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        return try await api.call(request, form: form) { body, decoder in
            (try? decoder.decode(ErrorBody.self, from: body)).map { .init(code: $0.code.map(String.init), message: $0.message) }
        }
    }
}
