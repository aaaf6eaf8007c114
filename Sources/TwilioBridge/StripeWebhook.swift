import Foundation
import GRPCCore
import Hummingbird
import Logging
import RPCRuntime
import ServiceProAPI

/// Stripe's webhook, beside Twilio's: the raw body and its `Stripe-Signature` go to the platform
/// as one RPC, which verifies and applies the event. The body is passed on byte for byte, since
/// the signature covers the exact bytes Stripe sent. A bridge given Stripe's secrets verifies the
/// signature first, so a forged webhook costs the platform nothing, not even an audit entry.
///
/// Stripe retries anything but a 2xx for days, so unlike Twilio it is told the truth: 400 for a
/// bad signature or body (never retried into success), 503 while the platform cannot answer. A
/// platform that cannot take events until an operator acts (its Stripe secrets unset, the
/// bridge's token refused) is answered 503 too, so Stripe keeps the events until then; that is
/// logged as an error saying what to do.
struct StripeWebhook<Transport: ClientTransport>: Sendable {
    static var path: String { "/stripe/webhook" }
    static var signatureHeader: String { "Stripe-Signature" }
    /// Stripe's events are small; a subscription with many items stays far below this.
    static var maxBodyBytes: Int { 512 * 1024 }

    let platform: PlatformClient<Transport>
    let deadline: CallDeadline
    let secrets: [String]
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, _ in await handle(request) }
    }

    private func handle(_ request: Request) async -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return Self.json(.badRequest, ["error": "the request body is larger than \(Self.maxBodyBytes) bytes"])
        } catch {
            return Self.json(.badRequest, ["error": "the request body could not be read: \(error)"])
        }
        guard let signature = request.headers[.init(Self.signatureHeader)!], !signature.isEmpty else {
            return Self.json(.badRequest, ["error": "missing Stripe-Signature header"])
        }
        let payload = Data(body.readableBytesView)
        if !secrets.isEmpty {
            do {
                try StripeSignature.verify(payload: payload, header: signature, secrets: secrets)
            } catch {
                logger.notice("refusing a Stripe webhook", metadata: ["error": "\(error)"])
                return Self.json(.badRequest, ["error": "Stripe-Signature rejected: \(error)"])
            }
        }
        do {
            let outcome = try await deadline.run {
                try await BillingService.Client(wrapping: platform.grpc).handleStripeEvent(.with {
                    $0.payload = payload
                    $0.signature = signature
                }, metadata: platform.metadata)
            }
            logger.info("stripe event", metadata: [
                "event": "\(outcome.eventID)", "type": "\(outcome.eventType)",
                "outcome": "\(outcome.outcome)", "reason": "\(outcome.reason)", "tenant": "\(outcome.tenant)",
            ])
            return Self.json(.ok, ["received": "true", "outcome": outcome.outcome == .applied ? "applied" : "ignored", "reason": outcome.reason])
        } catch let error as RPCError where error.code == .invalidArgument {
            logger.notice("refusing a Stripe webhook", metadata: ["error": "\(error.message)"])
            return Self.json(.badRequest, ["error": error.message])
        } catch {
            // Stripe keeps what is not taken and retries it for days: the event waits there.
            if let error = error as? RPCError, error.refusesBridge {
                logger.error("the platform refuses the bridge's token: Stripe events wait at Stripe; give the bridge a valid token (--token-file)", metadata: [
                    "error": "\(error)",
                ])
            } else if let error = error as? RPCError, error.code == .failedPrecondition {
                logger.error("the platform cannot take Stripe events as it is set up: they wait at Stripe; do what the error says", metadata: [
                    "reason": "\(error.errorInfoReason)", "error": "\(error.message)",
                ])
            } else {
                logger.warning("platform could not take a Stripe event; Stripe will retry", metadata: ["error": "\(error)"])
            }
            return Self.json(.serviceUnavailable, ["error": "temporarily unavailable; retry later"])
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ fields: [String: String]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let body = (try? encoder.encode(fields)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
