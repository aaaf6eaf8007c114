import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RPCRuntime

/// A REST call to an outside provider (Stripe, Twilio) made while an RPC waits, its failures
/// turned into the errors that RPC answers with: not reachable, 5xx, 429 or 408 is UNAVAILABLE
/// `<provider>_unavailable` (retry with the same request_id, or, after a 5xx from a provider
/// that keeps its answers, with a new one); any other refusal is FAILED_PRECONDITION
/// `<provider>_request_failed` with the provider's own message and code.
struct ProviderAPI: Sendable {
    /// As people read it, e.g. "Stripe".
    let name: String
    /// Whether the provider answers a repeated idempotency key with its first answer, a 5xx
    /// included, as Stripe does for a day once the request began to run. A retry of a keyed
    /// request with the same request_id (the same key) then fails the same way, so the caller is
    /// told to use a new one.
    var keepsFailedAnswers = false
    var http: HTTPClient = .shared
    /// Well under the RPC's own deadline.
    var timeout: TimeAmount = .seconds(10)

    /// What a provider's error body says.
    struct ErrorDetail: Sendable {
        var code: String?
        var message: String?
    }

    private var reason: String { name.lowercased() }

    /// Whether a refusal with HTTP `status` may pass if tried again: a timeout (408), a rate
    /// limit (429) or a server error (5xx); any other 4xx is about the request and will not.
    static func mayPassLater(_ status: Int) -> Bool { status == 408 || status == 429 || status >= 500 }

    /// `base` without a trailing slash, so `base + "/path"` has one.
    static func trimmedBase(_ base: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// Sends `request` with `form` as its body when given; decodes a 2xx answer (snake_case
    /// keys), taking an empty one as `Response()` when `Response` is `EmptyAnswer`.
    func call<Response: Decodable>(
        _ request: HTTPClientRequest,
        form: [(String, String)]?,
        errorDetail: (ByteBuffer, JSONDecoder) -> ErrorDetail?
    ) async throws -> Response {
        var request = request
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: FormEncoding.encode(form)))
        }
        let what = "\(request.method.rawValue) \(URL(string: request.url)?.path ?? request.url)"
        let status: HTTPResponseStatus
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = response.status
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw ServiceError(code: .unavailable, reason: "\(reason)_unavailable", message: "\(name) could not be reached (\(error)); retry with the same request_id")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard (200..<300).contains(status.code) else {
            let detail = errorDetail(body, decoder)
            let message = "\(name) refused \(what) (\(status.code)): \(detail?.message ?? "no message")"
            if Self.mayPassLater(Int(status.code)) {
                let answerKept = status.code >= 500 && keepsFailedAnswers && request.headers.contains(name: "Idempotency-Key")
                let advice = answerKept
                    ? "whether it made the change shows in a minute, when its webhook arrives: read the resource again, "
                        + "and if nothing changed, retry with a new request_id (\(name) answers this one the same way for a day)"
                    : "retry with the same request_id"
                throw ServiceError(code: .unavailable, reason: "\(reason)_unavailable", message: message + "; " + advice)
            }
            throw ServiceError.failedPrecondition(reason: "\(reason)_request_failed", message: message, metadata: ["\(reason)_error": detail?.code ?? ""])
        }
        if body.readableBytes == 0, let empty = EmptyAnswer() as? Response { return empty }
        do {
            return try decoder.decode(Response.self, from: body)
        } catch {
            throw ServiceError.internal("unreadable \(name) response to \(what): \(error)")
        }
    }
}

/// The answer of a call that returns nothing, such as Twilio's 204 to a DELETE.
struct EmptyAnswer: Decodable, Sendable {}
