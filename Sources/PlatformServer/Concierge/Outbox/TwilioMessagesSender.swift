import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RPCRuntime
import ServiceProAPI

/// Texts through Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
/// form-encoded `To`, `From` (or `MessagingServiceSid`) and `Body`, with the account sid and auth
/// token as basic auth. Twilio answers 201 with the Message resource, whose `sid` is returned.
///
/// Twilio takes no idempotency key for creating messages. What keeps a text from going out
/// twice is the worker's lease: only the worker holding it sends, and it records the outcome
/// right after Twilio answers. A second send is only possible when that worker dies (or loses
/// the store) after Twilio accepted the text and before the row was updated; that window is one
/// request long, and the lease must run out before anyone tries again.
struct TwilioMessagesSender: MessageSender {
    let settings: TwilioMessagingSettings
    var http: HTTPClient = .shared
    /// Far shorter than the worker's lease.
    var timeout: TimeAmount = .seconds(10)

    var provider: String { "twilio" }

    /// The Message resource; only its sid matters here.
    private struct Created: Decodable {
        var sid: String
    }

    /// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
    private struct ErrorBody: Decodable {
        var code: Int?
        var message: String?
    }

    func send(_ message: OutboxRecord) async throws -> String {
        let path = "/2010-04-01/Accounts/\(settings.accountSID)/Messages.json"
        var form = [("To", message.recipient)]
        // The tenant's own sender when the text names one, else the platform's.
        let sender = message.sender.isEmpty ? settings.from : message.sender
        form.append(TwilioMessagingSettings.isMessagingService(sender) ? ("MessagingServiceSid", sender) : ("From", sender))
        form.append(("Body", message.body))
        // Only a text from a tenant's line is in a message log (see OutboxWorker.record): a report
        // on the platform's own would find no text to move on, and wait in the bridge in vain.
        if !message.sender.isEmpty, let base = settings.webhookBaseURL {
            form.append(("StatusCallback", TwilioCallbackURLs(base: base).status))
        }
        var request = HTTPClientRequest(url: ProviderAPI.trimmedBase(settings.apiURL) + path)
        request.method = .POST
        let credentials = Data("\(settings.accountSID):\(settings.authToken)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))

        let answer = try await OutboxHTTP.execute(request, http: http, timeout: timeout, provider: "Twilio")
        guard (200..<300).contains(answer.status) else {
            let detail = try? JSONDecoder().decode(ErrorBody.self, from: answer.body)
            let code = detail?.code.map { " error \($0)" } ?? ""
            throw MessageDeliveryError.refused(
                status: answer.status,
                message: "Twilio refused the text (\(answer.status)\(code)): \(detail?.message ?? "no message")",
                retryAfter: OutboxHTTP.retryAfter(answer.headers),
                settings: "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        }
        // Accepted: an unreadable answer still means the text is on its way, so it is not retried.
        return (try? JSONDecoder().decode(Created.self, from: answer.body))?.sid ?? ""
    }
}
