import Foundation
import Hummingbird
import Logging
import RPCRuntime
import ServiceLifecycle
import Synchronization

/// A local stand-in for Twilio's phone-number API: AvailablePhoneNumbers search, buying through
/// IncomingPhoneNumbers, updating a number's routing and releasing with DELETE, with basic auth
/// and Twilio's JSON shapes. It keeps the numbers it sold, so tests can check that a failed
/// create gave its number back, and each number's routing.
public final class FakeTwilioNumbers: Sendable {
    public static let accountSID = "AC00000000000000000000000000numbers"
    public static let authToken = "fake_numbers_token"

    struct State: Sendable {
        var owned: [String: String] = [:]
        var released: [String] = []
        var requests: [String] = []
        /// The form of each purchase.
        var purchases: [[String: String]] = []
        /// Purchases, updates or releases still to be made and then answered with a 500, as if
        /// the answer were lost.
        var answersToLose = 0
        var counter = 0
        /// The friendly name each owned number was bought with, by sid.
        var friendlyNames: [String: String] = [:]
        /// Offered by the next search instead of a new number, as when two creates race for one.
        var nextOffer: String?
        /// Each owned number's routing fields (`VoiceUrl`, `SmsApplicationSid`, …), by sid.
        var routing: [String: [String: String]] = [:]
        /// The form of each update.
        var updates: [[String: String]] = []
    }

    /// The fields of a number that route its calls and texts, as Twilio's update takes them.
    public static let routingFields = [
        "VoiceUrl", "VoiceMethod", "SmsUrl", "SmsMethod", "StatusCallback", "StatusCallbackMethod",
        "VoiceApplicationSid", "SmsApplicationSid", "TrunkSid",
    ]

    let state = Mutex(State())
    /// How long a purchase or an update takes, so tests can overlap two creates.
    let delay: Duration

    /// The account whose numbers these are, and its credentials.
    let accountSID: String
    let authToken: String

    init(delay: Duration = .zero, accountSID: String = FakeTwilioNumbers.accountSID, authToken: String = FakeTwilioNumbers.authToken) {
        self.delay = delay
        self.accountSID = accountSID
        self.authToken = authToken
    }

    /// Numbers bought and not released, by sid.
    public var owned: [String: String] { state.withLock { $0.owned } }
    public var released: [String] { state.withLock { $0.released } }
    /// "METHOD path" of every request.
    public var requests: [String] { state.withLock { $0.requests } }
    public var purchases: [[String: String]] { state.withLock { $0.purchases } }
    public var updates: [[String: String]] { state.withLock { $0.updates } }

    /// The routing of the number with `sid`.
    public func routing(_ sid: String) -> [String: String] { state.withLock { $0.routing[sid] ?? [:] } }

    /// Puts `number` in the account, as if bought earlier and routed by hand; returns its sid.
    @discardableResult
    public func own(_ number: String, routing: [String: String]) -> String {
        state.withLock { state in
            let sid = Self.nextSID(&state)
            state.owned[sid] = number
            state.routing[sid] = routing
            return sid
        }
    }

    /// Makes the next `count` purchases, updates or releases, then answers each with a 500.
    public func loseAnswers(_ count: Int) { state.withLock { $0.answersToLose = count } }

    /// Makes the next search offer `number`, whether or not the account already owns it.
    public func offerNext(_ number: String) { state.withLock { $0.nextOffer = number } }

    public static func with<Result: Sendable>(
        delay: Duration = .zero,
        _ body: (FakeTwilioNumbers, String) async throws -> Result
    ) async throws -> Result {
        let fake = FakeTwilioNumbers(delay: delay)
        var logger = Logger(label: "test.fake-twilio-numbers")
        logger.logLevel = .critical
        let router = Router()
        fake.addRoutes(to: router)
        return try await ListeningServices.serve(router, logger: logger) { base in
            try await body(fake, base)
        }
    }

    /// Serves the account's phone-number API from `router`, beside whatever else it serves.
    func addRoutes(to router: Router<BasicRequestContext>) {
        let account = "/2010-04-01/Accounts/\(accountSID)"
        router.get("\(account)/AvailablePhoneNumbers/:country/Local.json") { request, context in
            self.available(request, areaCode: request.uri.queryParameters.get("AreaCode"))
        }
        router.post("\(account)/IncomingPhoneNumbers.json") { request, _ in await self.buy(request) }
        router.post("\(account)/IncomingPhoneNumbers/:file") { request, context in
            await self.update(request, file: context.parameters.get("file") ?? "")
        }
        router.get("\(account)/IncomingPhoneNumbers.json") { request, _ in
            self.owned(request, phoneNumber: request.uri.queryParameters.get("PhoneNumber").map { String($0) })
        }
        router.delete("\(account)/IncomingPhoneNumbers/:file") { request, context in
            self.release(request, file: context.parameters.get("file") ?? "")
        }
    }

    /// A new IncomingPhoneNumber sid, `PN` and 32 hex digits.
    private static func nextSID(_ state: inout State) -> String {
        state.counter += 1
        return "PN" + String(format: "%032x", state.counter)
    }

    private func authorized(_ request: Request) -> Bool {
        let expected = "Basic " + Data("\(accountSID):\(authToken)".utf8).base64EncodedString()
        return request.headers[.authorization] == expected
    }

    private func record(_ request: Request) {
        state.withLock { $0.requests.append("\(request.method.rawValue) \(request.uri.path)") }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static let unauthorized = json(.unauthorized, #"{"code": 20003, "message": "Authenticate", "status": 401}"#)

    private func available(_ request: Request, areaCode: String?) -> Response {
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        let area = areaCode ?? "918"
        let number = state.withLock { state -> String in
            state.counter += 1
            defer { state.nextOffer = nil }
            return state.nextOffer ?? "+1\(area)555\(String(format: "%04d", state.counter))"
        }
        return Self.json(.ok, #"{"available_phone_numbers": [{"phone_number": "\#(number)", "friendly_name": "\#(number)", "capabilities": {"voice": true, "SMS": true}}]}"#)
    }

    private func buy(_ request: Request) async -> Response {
        var request = request
        let body = String(buffer: (try? await request.collectBody(upTo: 1 << 16)) ?? ByteBuffer())
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        if delay > .zero { try? await Task.sleep(for: delay) }
        let form = Self.form(body)
        guard let number = form["PhoneNumber"], number.hasPrefix("+") else {
            return Self.json(.badRequest, #"{"code": 21421, "message": "PhoneNumber is required.", "status": 400}"#)
        }
        guard (form["FriendlyName"] ?? "").count <= 64 else {
            return Self.json(.badRequest, #"{"code": 22116, "message": "FriendlyName is too long.", "status": 400}"#)
        }
        let (sid, loseAnswer) = state.withLock { state -> (String, Bool) in
            let sid = Self.nextSID(&state)
            state.owned[sid] = number
            state.friendlyNames[sid] = form["FriendlyName"] ?? ""
            state.routing[sid] = form.filter { Self.routingFields.contains($0.key) }
            state.purchases.append(form)
            defer { state.answersToLose = max(0, state.answersToLose - 1) }
            return (sid, state.answersToLose > 0)
        }
        if loseAnswer {
            return Self.json(.internalServerError, #"{"code": 20500, "message": "Internal Server Error", "status": 500}"#)
        }
        return Self.json(.created, #"{"sid": "\#(sid)", "phone_number": "\#(number)", "friendly_name": "\#(form["FriendlyName"] ?? "")"}"#)
    }

    /// A form body's fields; the last of a repeated one counts.
    private static func form(_ body: String) -> [String: String] {
        Dictionary(FormEncoding.decode(Array(body.utf8)) ?? [], uniquingKeysWith: { $1 })
    }

    /// Twilio's JSON for one number: snake_case fields, null for a routing field not set.
    private func numberJSON(sid: String, _ state: State) -> [String: Any] {
        var json: [String: Any] = [
            "sid": sid, "phone_number": state.owned[sid] ?? "", "friendly_name": state.friendlyNames[sid] ?? "",
        ]
        let routing = state.routing[sid] ?? [:]
        for field in Self.routingFields {
            let key = field.replacingOccurrences(of: "(?<=[a-z])([A-Z])", with: "_$1", options: .regularExpression).lowercased()
            json[key] = routing[field].flatMap { $0.isEmpty ? nil : $0 } ?? NSNull()
        }
        return json
    }

    private static func json(_ status: HTTPResponse.Status, object: Any) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return json(status, String(decoding: data, as: UTF8.self))
    }

    /// The account's numbers, filtered by `PhoneNumber` as Twilio filters them.
    private func owned(_ request: Request, phoneNumber: String?) -> Response {
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        let items = state.withLock { state in
            state.owned.filter { phoneNumber == nil || $0.value == phoneNumber }.keys.sorted().map { numberJSON(sid: $0, state) }
        }
        return Self.json(.ok, object: ["incoming_phone_numbers": items, "page": 0, "page_size": 50] as [String: Any])
    }

    /// An update of a number's routing: the fields sent replace the number's, as Twilio's do.
    private func update(_ request: Request, file: String) async -> Response {
        var request = request
        let body = String(buffer: (try? await request.collectBody(upTo: 1 << 16)) ?? ByteBuffer())
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        if delay > .zero { try? await Task.sleep(for: delay) }
        let sid = String(file.dropLast(".json".count))
        let form = Self.form(body)
        let (answer, loseAnswer) = state.withLock { state -> ([String: Any]?, Bool) in
            guard state.owned[sid] != nil else { return (nil, false) }
            state.updates.append(form)
            for (field, value) in form where Self.routingFields.contains(field) { state.routing[sid, default: [:]][field] = value }
            defer { state.answersToLose = max(0, state.answersToLose - 1) }
            return (numberJSON(sid: sid, state), state.answersToLose > 0)
        }
        guard let answer else {
            return Self.json(.notFound, #"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#)
        }
        if loseAnswer {
            return Self.json(.internalServerError, #"{"code": 20500, "message": "Internal Server Error", "status": 500}"#)
        }
        return Self.json(.ok, object: answer)
    }

    private func release(_ request: Request, file: String) -> Response {
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        let sid = String(file.dropLast(".json".count))
        let (found, loseAnswer) = state.withLock { state -> (Bool, Bool) in
            guard state.owned.removeValue(forKey: sid) != nil else { return (false, false) }
            state.released.append(sid)
            defer { state.answersToLose = max(0, state.answersToLose - 1) }
            return (true, state.answersToLose > 0)
        }
        guard found else {
            return Self.json(.notFound, #"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#)
        }
        if loseAnswer {
            return Self.json(.internalServerError, #"{"code": 20500, "message": "Internal Server Error", "status": 500}"#)
        }
        return Response(status: .noContent)
    }
}
