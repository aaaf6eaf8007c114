import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// Local stand-ins for Twilio's Messages API and SendGrid's v3 mail API on one port, speaking
/// their wire formats: Twilio takes a form with basic auth and answers 201 with a Message
/// resource or its `{"code", "message"}` error; SendGrid takes JSON with a bearer key and answers
/// 202 with `X-Message-Id` or its `{"errors": [...]}`. Both check credentials and the request's
/// shape, keep every request they got, and can be told to fail the next ones. The Twilio account
/// also has its phone-number API (`numbers`), as the platform checks a line's number there.
public final class FakeMessagingProviders: Sendable {
    public static let twilioAccountSID = "AC0123456789abcdef0123456789abcdef"
    public static let twilioAuthToken = "fake_twilio_auth_token_0123456789"
    public static let sendGridAPIKey = "SG.fake_sendgrid_key.0123456789abcdef"

    public enum Provider: Sendable, Hashable {
        case twilio, sendGrid
    }

    /// A request to Twilio's Messages.json.
    public struct Text: Sendable {
        public let accountSID: String
        public let form: [String: String]
        public let status: Int
        /// The Message sid it was given; nil when refused.
        public let sid: String?
    }

    /// A request to SendGrid's mail/send.
    public struct Mail: Sendable {
        public let to: [String]
        public let fromEmail: String
        public let fromName: String?
        public let subject: String
        public let contentType: String
        public let text: String
        public let customArgs: [String: String]
        public let status: Int
        /// The `X-Message-Id` it was given; nil when refused.
        public let messageID: String?
    }

    struct Failure: Sendable {
        var status: Int
        var retryAfter: Int?
    }

    struct State: Sendable {
        var texts: [Text] = []
        var mails: [Mail] = []
        var failures: [Provider: [Failure]] = [:]
        var delay: Duration = .zero
        var arrived = 0
        var counter = 0
    }

    let state = Mutex(State())

    /// The Twilio account's numbers: a line given one by hand needs it here.
    public let numbers = FakeTwilioNumbers(accountSID: twilioAccountSID, authToken: twilioAuthToken)

    /// Every text request, refused ones included.
    public var texts: [Text] { state.withLock { $0.texts } }
    /// Every mail request, refused ones included.
    public var mails: [Mail] { state.withLock { $0.mails } }
    public var acceptedTexts: [Text] { texts.filter { $0.sid != nil } }
    public var acceptedMails: [Mail] { mails.filter { $0.messageID != nil } }
    /// Requests that have arrived, answered or not (answers wait out `respondSlowly`).
    public var arrived: Int { state.withLock { $0.arrived } }

    /// The next `times` requests to `provider` get `status` and that provider's error body.
    public func failNext(_ provider: Provider, status: Int, times: Int = 1, retryAfter: Int? = nil) {
        state.withLock { $0.failures[provider, default: []] += Array(repeating: Failure(status: status, retryAfter: retryAfter), count: times) }
    }

    /// Every answer waits this long, so concurrent senders overlap.
    public func respondSlowly(_ delay: Duration) {
        state.withLock { $0.delay = delay }
    }

    /// Runs `body` with the fakes listening on a loopback port; its argument is the base URL of both.
    public static func with<Result: Sendable>(_ body: (FakeMessagingProviders, String) async throws -> Result) async throws -> Result {
        let fake = FakeMessagingProviders()
        var logger = Logger(label: "test.fake-messaging")
        logger.logLevel = .critical
        let router = Router()
        router.post("/2010-04-01/Accounts/:account/Messages.json") { request, _ in await fake.serveText(request) }
        router.post("/v3/mail/send") { request, _ in await fake.serveMail(request) }
        fake.numbers.addRoutes(to: router)
        return try await ListeningServices.serve(router, logger: logger) { base in
            try await body(fake, base)
        }
    }

    // MARK: Twilio

    /// How a request is answered, worked out under the lock; the JSON is built outside it.
    private struct Answer: Sendable {
        var status: Int
        /// A provider error: Twilio's code (0 for SendGrid), message and, for SendGrid, the field.
        var error: (code: Int, message: String, field: String?)?
        /// The id given to an accepted message.
        var id: String?
        var retryAfter: Int?
    }

    private func serveText(_ request: Request) async -> Response {
        var request = request
        let bytes = (try? await request.collectBody(upTo: 1 << 20)) ?? ByteBuffer()
        let form = FakeStripe.parseForm(String(buffer: bytes))
        let parts = request.uri.path.split(separator: "/").map(String.init)
        let account = parts.count > 2 ? parts[2] : ""
        let authorization = request.headers[.authorization]
        let contentType = request.headers[.contentType] ?? ""
        await pause()
        let expected = "Basic " + Data("\(Self.twilioAccountSID):\(Self.twilioAuthToken)".utf8).base64EncodedString()
        let to = form["To"] ?? ""
        let answer = state.withLock { state -> Answer in
            var answer = Answer(status: 201)
            if let failure = state.failures[.twilio]?.first {
                state.failures[.twilio]?.removeFirst()
                answer.status = failure.status
                answer.retryAfter = failure.retryAfter
                switch failure.status {
                case 429: answer.error = (code: 20429, message: "Too Many Requests", field: nil)
                case 500...: answer.error = (code: 20500, message: "An internal server error has occurred", field: nil)
                default: answer.error = (code: 21211, message: "The 'To' number \(to) is not a valid phone number.", field: nil)
                }
            } else if authorization != expected || account != Self.twilioAccountSID {
                answer.status = 401
                answer.error = (code: 20003, message: "Authenticate", field: nil)
            } else if !contentType.hasPrefix("application/x-www-form-urlencoded") || to.isEmpty {
                answer.status = 400
                answer.error = (code: 21604, message: "A 'To' phone number is required.", field: nil)
            } else if (form["From"] ?? form["MessagingServiceSid"] ?? "").isEmpty {
                answer.status = 400
                answer.error = (code: 21603, message: "A 'From' phone number is required.", field: nil)
            } else if (form["Body"] ?? "").isEmpty {
                answer.status = 400
                answer.error = (code: 21602, message: "Message body is required.", field: nil)
            } else {
                state.counter += 1
                answer.id = "SM" + String(format: "%032x", state.counter)
            }
            state.texts.append(Text(accountSID: account, form: form, status: answer.status, sid: answer.id))
            return answer
        }
        if let error = answer.error {
            return Self.json(status: answer.status, [
                "code": error.code, "message": error.message,
                "more_info": "https://www.twilio.com/docs/errors/\(error.code)", "status": answer.status,
            ], retryAfter: answer.retryAfter)
        }
        let sid = answer.id ?? ""
        return Self.json(status: answer.status, [
            "sid": sid, "account_sid": account, "api_version": "2010-04-01", "status": "queued",
            "direction": "outbound-api", "to": to, "body": form["Body"] ?? "", "num_segments": "1",
            "from": form["From"].map { $0 as Any } ?? NSNull(),
            "messaging_service_sid": form["MessagingServiceSid"].map { $0 as Any } ?? NSNull(),
            "error_code": NSNull(), "error_message": NSNull(),
            "uri": "/2010-04-01/Accounts/\(account)/Messages/\(sid).json",
        ], retryAfter: nil)
    }

    // MARK: SendGrid

    private func serveMail(_ request: Request) async -> Response {
        var request = request
        let bytes = (try? await request.collectBody(upTo: 1 << 20)) ?? ByteBuffer()
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        let authorization = request.headers[.authorization]
        let contentType = request.headers[.contentType] ?? ""
        let personalizations = json["personalizations"] as? [[String: Any]] ?? []
        let to = personalizations.flatMap { ($0["to"] as? [[String: Any]] ?? []).compactMap { $0["email"] as? String } }
        let from = json["from"] as? [String: Any] ?? [:]
        let content = (json["content"] as? [[String: Any]])?.first ?? [:]
        let fromEmail = from["email"] as? String ?? ""
        let fromName = from["name"] as? String
        let subject = json["subject"] as? String ?? ""
        let type = content["type"] as? String ?? ""
        let text = content["value"] as? String ?? ""
        let customArgs = json["custom_args"] as? [String: String] ?? [:]
        let readable = contentType.hasPrefix("application/json") && !json.isEmpty
        await pause()
        let answer = state.withLock { state -> Answer in
            var answer = Answer(status: 202)
            func refuse(_ status: Int, _ message: String, field: String?) {
                answer.status = status
                answer.error = (code: 0, message: message, field: field)
            }
            if let failure = state.failures[.sendGrid]?.first {
                state.failures[.sendGrid]?.removeFirst()
                answer.retryAfter = failure.retryAfter
                switch failure.status {
                case 429: refuse(429, "too many requests", field: nil)
                case 500...: refuse(failure.status, "Internal server error", field: nil)
                default: refuse(failure.status, "Does not contain a valid address.", field: "personalizations.0.to.0.email")
                }
            } else if authorization != "Bearer \(Self.sendGridAPIKey)" {
                refuse(401, "The provided authorization grant is invalid, expired, or revoked", field: nil)
            } else if !readable {
                refuse(400, "Bad Request", field: nil)
            } else if to.isEmpty || to.contains(where: { !$0.contains("@") }) {
                refuse(400, "The to array is required for all personalization objects, and must have at least one email object with a valid email address.", field: "personalizations.0.to")
            } else if !fromEmail.contains("@") {
                refuse(400, "The from object must be provided for every email send.", field: "from.email")
            } else if subject.isEmpty {
                refuse(400, "The subject is required. You can get around this requirement if you use a template with a subject defined.", field: "subject")
            } else if type != "text/plain" || text.isEmpty {
                refuse(400, "The content value must be a string at least one character in length.", field: "content.0.value")
            } else {
                state.counter += 1
                answer.id = "fake-sg-" + String(format: "%014x", state.counter)
            }
            state.mails.append(Mail(
                to: to, fromEmail: fromEmail, fromName: fromName, subject: subject, contentType: type, text: text,
                customArgs: customArgs, status: answer.status, messageID: answer.id))
            return answer
        }
        if let error = answer.error {
            return Self.json(status: answer.status, [
                "errors": [["message": error.message, "field": error.field.map { $0 as Any } ?? NSNull(), "help": NSNull()] as [String: Any]],
            ], retryAfter: answer.retryAfter)
        }
        var headers = HTTPFields()
        if let id = answer.id { headers[.init("X-Message-Id")!] = id }
        return Response(status: .init(code: answer.status), headers: headers)
    }

    // MARK: Shared

    private func pause() async {
        let delay = state.withLock { state in
            state.arrived += 1
            return state.delay
        }
        if delay > .zero { try? await Task.sleep(for: delay) }
    }

    private static func json(status: Int, _ body: [String: Any], retryAfter: Int?) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retryAfter { headers[.init("Retry-After")!] = String(retryAfter) }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
