import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A local stand-in for Twilio's phone-number API: AvailablePhoneNumbers search, buying through
/// IncomingPhoneNumbers and releasing with DELETE, with basic auth and Twilio's JSON shapes. It
/// keeps the numbers it sold, so tests can check that a failed create gave its number back.
public final class FakeTwilioNumbers: Sendable {
    public static let accountSID = "AC00000000000000000000000000numbers"
    public static let authToken = "fake_numbers_token"

    struct State: Sendable {
        var owned: [String: String] = [:]
        var released: [String] = []
        var requests: [String] = []
        /// The form of each purchase.
        var purchases: [[String: String]] = []
        /// Purchases still to be made and then answered with a 500, as if the answer were lost.
        var answersToLose = 0
        var counter = 0
        /// The friendly name each owned number was bought with, by sid.
        var friendlyNames: [String: String] = [:]
        /// Offered by the next search instead of a new number, as when two creates race for one.
        var nextOffer: String?
    }

    let state = Mutex(State())
    /// How long a purchase takes, so tests can overlap two creates.
    let purchaseDelay: Duration

    init(purchaseDelay: Duration) {
        self.purchaseDelay = purchaseDelay
    }

    /// Numbers bought and not released, by sid.
    public var owned: [String: String] { state.withLock { $0.owned } }
    public var released: [String] { state.withLock { $0.released } }
    /// "METHOD path" of every request.
    public var requests: [String] { state.withLock { $0.requests } }
    public var purchases: [[String: String]] { state.withLock { $0.purchases } }

    /// Makes the next `count` purchases, then answers each with a 500.
    public func loseAnswers(_ count: Int) { state.withLock { $0.answersToLose = count } }

    /// Makes the next search offer `number`, whether or not the account already owns it.
    public func offerNext(_ number: String) { state.withLock { $0.nextOffer = number } }

    public static func with<Result: Sendable>(
        purchaseDelay: Duration = .zero,
        _ body: (FakeTwilioNumbers, String) async throws -> Result
    ) async throws -> Result {
        let fake = FakeTwilioNumbers(purchaseDelay: purchaseDelay)
        var logger = Logger(label: "test.fake-twilio-numbers")
        logger.logLevel = .critical
        let router = Router()
        let account = "/2010-04-01/Accounts/\(accountSID)"
        router.get("\(account)/AvailablePhoneNumbers/:country/Local.json") { request, context in
            fake.available(request, areaCode: request.uri.queryParameters.get("AreaCode"))
        }
        router.post("\(account)/IncomingPhoneNumbers.json") { request, _ in await fake.buy(request) }
        router.get("\(account)/IncomingPhoneNumbers.json") { request, _ in
            fake.owned(request, phoneNumber: request.uri.queryParameters.get("PhoneNumber").map { String($0) })
        }
        router.delete("\(account)/IncomingPhoneNumbers/:file") { request, context in
            fake.release(request, file: context.parameters.get("file") ?? "")
        }
        return try await ListeningServices.serve(router, logger: logger) { base in
            try await body(fake, base)
        }
    }

    private func authorized(_ request: Request) -> Bool {
        let expected = "Basic " + Data("\(Self.accountSID):\(Self.authToken)".utf8).base64EncodedString()
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
        if purchaseDelay > .zero { try? await Task.sleep(for: purchaseDelay) }
        let form = Dictionary(body.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }, uniquingKeysWith: { $1 })
        guard let number = form["PhoneNumber"], number.hasPrefix("+") else {
            return Self.json(.badRequest, #"{"code": 21421, "message": "PhoneNumber is required.", "status": 400}"#)
        }
        guard (form["FriendlyName"] ?? "").count <= 64 else {
            return Self.json(.badRequest, #"{"code": 22116, "message": "FriendlyName is too long.", "status": 400}"#)
        }
        let (sid, loseAnswer) = state.withLock { state -> (String, Bool) in
            state.counter += 1
            let sid = "PN" + String(format: "%032x", state.counter)
            state.owned[sid] = number
            state.friendlyNames[sid] = form["FriendlyName"] ?? ""
            state.purchases.append(form)
            defer { state.answersToLose = max(0, state.answersToLose - 1) }
            return (sid, state.answersToLose > 0)
        }
        if loseAnswer {
            return Self.json(.internalServerError, #"{"code": 20500, "message": "Internal Server Error", "status": 500}"#)
        }
        return Self.json(.created, #"{"sid": "\#(sid)", "phone_number": "\#(number)", "friendly_name": "\#(form["FriendlyName"] ?? "")"}"#)
    }

    /// The account's numbers, filtered by `PhoneNumber` as Twilio filters them.
    private func owned(_ request: Request, phoneNumber: String?) -> Response {
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        let (numbers, names) = state.withLock { ($0.owned, $0.friendlyNames) }
        let items = numbers.filter { phoneNumber == nil || $0.value == phoneNumber }.sorted { $0.key < $1.key }
            .map { #"{"sid": "\#($0.key)", "phone_number": "\#($0.value)", "friendly_name": "\#(names[$0.key] ?? "")"}"# }
            .joined(separator: ", ")
        return Self.json(.ok, #"{"incoming_phone_numbers": [\#(items)], "page": 0, "page_size": 50}"#)
    }

    private func release(_ request: Request, file: String) -> Response {
        record(request)
        guard authorized(request) else { return Self.unauthorized }
        let sid = String(file.dropLast(".json".count))
        let found = state.withLock { state -> Bool in
            guard state.owned.removeValue(forKey: sid) != nil else { return false }
            state.released.append(sid)
            return true
        }
        return found
            ? Response(status: .noContent)
            : Self.json(.notFound, #"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#)
    }
}
