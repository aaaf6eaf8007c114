import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Emails through SendGrid's v3 mail API: `POST /v3/mail/send` with the API key as a bearer
/// token and a JSON body of personalizations, from, subject and a text/plain content. SendGrid
/// answers 202 with the message id in `X-Message-Id`.
///
/// The outbox message's name travels in `custom_args` (`outbox_message`), so SendGrid's event
/// webhooks and activity feed tie every email back to its row, and a duplicate, should the
/// worker die between SendGrid accepting and the row being updated, can be recognised.
struct SendGridMailSender: MessageSender {
    let settings: SendGridSettings
    var http: HTTPClient = .shared
    /// Far shorter than the worker's lease.
    var timeout: TimeAmount = .seconds(10)

    var provider: String { "sendgrid" }

    struct Mail: Encodable {
        struct Address: Encodable {
            var email: String
            var name: String?
        }
        struct Personalization: Encodable {
            var to: [Address]
        }
        struct Content: Encodable {
            var type: String
            var value: String
        }
        var personalizations: [Personalization]
        var from: Address
        var subject: String
        var content: [Content]
        var customArgs: [String: String]

        enum CodingKeys: String, CodingKey {
            case personalizations, from, subject, content
            case customArgs = "custom_args"
        }
    }

    /// SendGrid's error body: `{"errors": [{"message": "...", "field": "from.email", "help": null}]}`.
    private struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var message: String?
            var field: String?
        }
        var errors: [Detail]
    }

    func mail(for message: OutboxRecord) -> Mail {
        Mail(
            personalizations: [.init(to: [.init(email: message.recipient)])],
            from: .init(email: settings.fromEmail, name: settings.fromName.isEmpty ? nil : settings.fromName),
            subject: message.subject,
            content: [.init(type: "text/plain", value: message.body)],
            customArgs: ["outbox_message": message.name])
    }

    func send(_ message: OutboxRecord) async throws -> String {
        var request = HTTPClientRequest(url: ProviderAPI.trimmedBase(settings.apiURL) + "/v3/mail/send")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(settings.apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = try encoder.encode(mail(for: message))
        request.body = .bytes(ByteBuffer(bytes: json))

        let answer = try await OutboxHTTP.execute(request, http: http, timeout: timeout, provider: "SendGrid")
        guard (200..<300).contains(answer.status) else {
            let errors = (try? JSONDecoder().decode(ErrorBody.self, from: answer.body))?.errors ?? []
            let said = errors.map { error in
                (error.field.map { "\($0): " } ?? "") + (error.message ?? "no message")
            }.joined(separator: "; ")
            throw MessageDeliveryError.refused(
                status: answer.status,
                message: "SendGrid refused the email (\(answer.status)): \(said.isEmpty ? "no message" : said)",
                retryAfter: OutboxHTTP.retryAfter(answer.headers),
                settings: "SENDGRID_API_KEY and SERVICEPRO_MAIL_FROM")
        }
        return answer.headers.first(name: "X-Message-Id") ?? ""
    }
}
