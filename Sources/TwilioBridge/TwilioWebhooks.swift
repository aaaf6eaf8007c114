import Foundation
import GRPCCore
import Hummingbird
import Logging
import RPCRuntime
import ServiceProAPI

/// Twilio's webhooks, each turned into one platform RPC whose answer is rendered as TwiML (texts
/// that arrive together share one; see `InboundTextBatcher`).
///
/// Twilio never gets a 5xx: a request that is not Twilio's gets 403 (bad signature) or 400 (bad
/// body); when the platform is down or slow, callers hear a polite fallback and are connected to
/// the last-known forward number, or leave a voicemail when no one is left to ring, and texts go
/// to the durable spool to be replayed in order, line by line.
struct TwilioWebhooks<Transport: ClientTransport>: Sendable {
    let platform: PlatformClient<Transport>
    let verifier: TwilioSignatureVerifier?
    let publicURL: String?
    let renderer: TwiMLRenderer
    let spool: MessageSpool
    let fallback: VoiceFallback
    /// Inbound texts' way to the platform, under the same deadline.
    let texts: InboundTextBatcher<Transport>
    /// Well under Twilio's 15 s, leaving time to answer with the fallback.
    let deadline: CallDeadline
    let logger: Logger
    /// Serve the benchmark baseline route; see `BridgeConfiguration.benchmarkStaticRoute`.
    var benchmarkStaticRoute = false

    static var maxBodyBytes: Int { 64 * 1024 }

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(stringLiteral: TwilioCallbackURLs.smsPath)) { request, _ in await webhook(request, inboundMessage) }
        router.post(RouterPath(stringLiteral: TwilioCallbackURLs.incomingCallPath)) { request, _ in await webhook(request, incomingCall) }
        router.post(RouterPath(stringLiteral: TwilioCallbackURLs.ivrGatherPath)) { request, _ in await webhook(request, ivrSelection) }
        router.post(RouterPath(stringLiteral: TwilioCallbackURLs.aiVoicePath)) { request, _ in await webhook(request, aiVoiceTurn) }
        router.post(RouterPath(stringLiteral: TwilioCallbackURLs.dialResultPath)) { request, _ in await webhook(request, dialResult) }
        router.post(RouterPath(stringLiteral: TwilioCallbackURLs.statusPath)) { request, _ in await webhook(request, statusCallback) }
        if benchmarkStaticRoute {
            router.post(RouterPath(stringLiteral: TwilioCallbackURLs.benchmarkStaticSMSPath)) { request, _ in await webhook(request, benchmarkStaticMessage) }
        }
    }

    /// What every route shares: a bounded UTF-8 form body, a valid signature, then the handler.
    private func webhook(_ request: Request, _ handle: (FormBody, CallbackQuery) async -> Response) async -> Response {
        var request = request
        let bytes: ByteBuffer
        do {
            bytes = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return Self.plain(.badRequest, "the request body is larger than \(Self.maxBodyBytes) bytes")
        } catch {
            return Self.plain(.badRequest, "the request body could not be read: \(error)")
        }
        let form: FormBody
        do {
            form = try FormBody(Array(bytes.readableBytesView))
        } catch {
            return Self.plain(.badRequest, "\(error)")
        }
        guard let verifier else {
            logger.error("refusing a webhook: TWILIO_AUTH_TOKEN is not set, so no signature can be checked")
            return Self.plain(.forbidden, "signature check unavailable")
        }
        let url = TwilioWebhookURL.resolve(
            requestTarget: request.uri.description,
            configuredBase: publicURL,
            forwardedProto: request.headers[.init("X-Forwarded-Proto")!],
            forwardedHost: request.headers[.init("X-Forwarded-Host")!],
            host: request.head.authority)
        let signature = request.headers[.init(TwilioSignatureVerifier.signatureHeader)!] ?? ""
        // A SharedKey signature names its algorithm; one this bridge does not know is refused.
        let algorithm = TwilioSignatureVerifier.Algorithm(settingsHeader: request.headers[.init(TwilioSignatureVerifier.settingsHeader)!])
        guard let url, let algorithm, verifier.isValid(signature: signature, url: url, parameters: form.parameters, algorithm: algorithm) else {
            // The URL checked says what is wrong when every webhook is refused: a public URL
            // that is not the one Twilio calls, or a proxy that drops X-Forwarded-Proto.
            logger.notice("refusing a webhook with a missing or wrong signature; if Twilio's own are refused, the URL checked is not the one Twilio called (set the bridge's public URL)", metadata: [
                "path": "\(request.uri.path)", "checked_url": "\(url ?? "none: no host to rebuild it from")",
            ])
            return Self.plain(.forbidden, "invalid X-Twilio-Signature")
        }
        return await handle(form, CallbackQuery(request.uri.queryParameters))
    }

    // MARK: Routes

    private func inboundMessage(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        await inboundMessage(form) { message in try await texts.deliver(message).replies }
    }

    /// `/sms` with the platform's answer replaced by a fixed reply: the benchmark's baseline, so
    /// that the two differ only by the RPC (and what the platform does behind it).
    private func benchmarkStaticMessage(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        await inboundMessage(form) { _ in [BenchmarkBaseline.reply] }
    }

    /// An inbound text: the request built from the form, spooled behind earlier spooled texts of
    /// its line, otherwise handed to `deliver` (the platform RPC) and its replies rendered as TwiML.
    private func inboundMessage(_ form: FormBody, deliver: (HandleInboundMessageRequest) async throws -> [SmsReply]) async -> Response {
        let message = HandleInboundMessageRequest.with {
            $0.messageSid = form["MessageSid"]
            $0.messagingServiceSid = form["MessagingServiceSid"]
            $0.from = form["From"]
            $0.to = form["To"]
            $0.body = form["Body"]
            $0.mediaUrls = form.numbered("MediaUrl").filter { !$0.isEmpty }
            $0.receiveTime = .init(date: Date())
        }
        guard !message.messageSid.isEmpty else { return Self.plain(.badRequest, "MessageSid is missing") }
        do {
            // Behind its line's spooled texts a new one waits its turn, so the platform sees each
            // line's texts in arrival order.
            if await spool.holdsLine(of: message) {
                do {
                    try await spool.append(message)
                    return twiml(renderer.messagingResponse([]))
                } catch {
                    // Out of turn is better than lost: Twilio does not send a text again.
                    logger.critical("could not spool an inbound text behind its line; delivering it out of turn", metadata: [
                        "message_sid": "\(message.messageSid)", "error": "\(error)",
                    ])
                }
            }
            return twiml(renderer.messagingResponse(try await deliver(message)))
        } catch let error as RPCError where error.isVerdictOnRequest {
            logger.warning("platform refused an inbound text", metadata: ["message_sid": "\(message.messageSid)", "error": "\(error)"])
            return Self.plain(.badRequest, error.message)
        } catch {
            do {
                try await spool.append(message)
                if let error = error as? RPCError, error.refusesBridge {
                    logger.critical("\(RPCError.refusedBridgeAdvice)", metadata: [
                        "message_sid": "\(message.messageSid)", "error": "\(error)",
                    ])
                } else if let error = error as? RPCError, error.isTenantBacklog {
                    // One log entry per text of a flood; the platform logs each refusal already.
                    logger.debug("tenant backlogged: spooled an inbound text", metadata: ["message_sid": "\(message.messageSid)"])
                } else if error is NaturalBatcherBacklog {
                    // The platform answers, but slower than this line's texts arrive.
                    logger.notice("a line's texts arrive faster than the platform answers them: spooled an inbound text", metadata: [
                        "message_sid": "\(message.messageSid)", "error": "\(error)",
                    ])
                } else {
                    logger.warning("platform unavailable: spooled an inbound text", metadata: ["message_sid": "\(message.messageSid)", "error": "\(error)"])
                }
            } catch {
                logger.critical("could not spool an inbound text", metadata: ["message_sid": "\(message.messageSid)", "error": "\(error)"])
            }
            return twiml(renderer.messagingResponse([]))
        }
    }

    private func incomingCall(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        await voice(calledNumber: form["To"]) {
            try await inbound.handleInboundCall(.with {
                $0.callSid = form["CallSid"]
                $0.from = form["From"]
                $0.to = form["To"]
                $0.callerName = form["CallerName"]
            }, metadata: platform.metadata)
        }
    }

    private func ivrSelection(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        await voice(calledNumber: form["To"]) {
            try await inbound.handleIvrSelection(.with {
                $0.callSid = form["CallSid"]
                $0.from = form["From"]
                $0.to = form["To"]
                $0.digits = form["Digits"]
                $0.attempt = Int32(clamping: query.attempt)
                if let step = query.step { $0.step = Int32(clamping: step) }
            }, metadata: platform.metadata)
        }
    }

    private func dialResult(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        // Someone answered and the conversation is over: with the platform out of reach, the
        // call ends, rather than hearing the outage message and being rung through again.
        let answered = ["completed", "answered"].contains(form["DialCallStatus"])
        let hangUp: [VoiceInstruction] = [.with { $0.hangup = .init() }]
        if query.outage {
            // The bridge's own dial: the platform did not plan it, whether or not it is back.
            let next = answered ? nil : fallback.forwardNumber(for: form["To"], after: query.dialed)
            logger.info("answering the result of an outage dial", metadata: [
                "call_sid": "\(form["CallSid"])", "to": "\(form["To"])", "dialed": "\(query.dialed ?? "")",
                "dial_call_status": "\(form["DialCallStatus"])", "answer": "\(answered ? "hang up" : next.map { "ring \($0)" } ?? "voicemail")",
            ])
            return twiml(answered ? renderer.voiceResponse(hangUp) : renderer.outageResponse(forwardNumber: next))
        }
        return await voice(calledNumber: form["To"], dialed: query.dialed, unavailable: answered ? hangUp : nil) {
            try await inbound.handleDialResult(.with {
                $0.callSid = form["CallSid"]
                $0.from = form["From"]
                $0.to = form["To"]
                $0.dialCallStatus = form["DialCallStatus"]
                $0.attempt = Int32(clamping: query.attempt)
            }, metadata: platform.metadata)
        }
    }

    private func aiVoiceTurn(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        await voice(calledNumber: form["To"]) {
            try await inbound.handleAiVoiceTurn(.with {
                $0.callSid = form["CallSid"]
                $0.from = form["From"]
                $0.to = form["To"]
                $0.speechResult = form["SpeechResult"]
                $0.confidence = Float(form["Confidence"]) ?? 0
                $0.attempt = Int32(clamping: query.attempt)
                $0.callerName = form["CallerName"]
            }, metadata: platform.metadata)
        }
    }

    /// Call and message status callbacks (and recordings); Twilio only needs to hear 200, and
    /// never sends one again. A status the platform cannot take now waits in the spool: a call's
    /// final status and the voicemail it left, and a text's delivery report, which may come
    /// before the platform has logged its text.
    private func statusCallback(_ form: FormBody, _ query: CallbackQuery) async -> Response {
        // Twilio sends a message's status twice, as MessageStatus and as the older SmsStatus.
        let messageStatus = form["MessageStatus"].isEmpty ? form["SmsStatus"] : form["MessageStatus"]
        if !form["MessageSid"].isEmpty, let status = TwilioStatus.message(messageStatus) {
            await record(.message(.with {
                $0.messageSid = form["MessageSid"]
                $0.status = status
                $0.errorCode = Int32(form["ErrorCode"]) ?? 0
            }))
        } else if !form["CallSid"].isEmpty {
            await record(.call(.with {
                $0.callSid = form["CallSid"]
                $0.status = TwilioStatus.call(form["CallStatus"])
                if let seconds = Int64(form["CallDuration"]) { $0.duration = .init(seconds: seconds) }
                $0.recordingSid = form["RecordingSid"]
                $0.recordingURL = form["RecordingUrl"]
                if let seconds = Int64(form["RecordingDuration"]) { $0.recordingDuration = .init(seconds: seconds) }
                $0.from = form["From"]
                $0.to = form["To"]
                $0.eventTime = .init(date: Date())
            }))
        } else if !form["MessageSid"].isEmpty {
            // A status Twilio added after this bridge was built: said, so it is not lost unseen.
            logger.notice("a text's status callback names a status the bridge does not know; not recorded", metadata: [
                "message_sid": "\(form["MessageSid"])", "status": "\(messageStatus)",
            ])
        }
        return twiml(renderer.messagingResponse([]))
    }

    /// Hands a status to the platform, or keeps it in the spool when the platform cannot take it
    /// now (or, for a delivery report, does not know its text yet).
    private func record(_ status: SpooledStatus) async {
        do {
            try await deadline.run { [inbound] in try await status.record(through: inbound, metadata: platform.metadata) }
            return
        } catch let error as RPCError where status.missesItsText(error) {
            logger.debug("a delivery report came before its text was logged; it waits in the spool", metadata: ["message_sid": "\(status.sid)"])
        } catch let error as RPCError where error.isVerdictOnRequest {
            logger.warning("the platform refuses a status callback", metadata: ["sid": "\(status.sid)", "error": "\(error)"])
            return
        } catch let error as RPCError where error.refusesBridge {
            logger.critical("\(RPCError.refusedBridgeAdvice)", metadata: ["sid": "\(status.sid)", "error": "\(error)"])
        } catch let error as RPCError where error.failsThisRequest {
            logger.error("the platform failed on a status callback: spooled it for a later attempt", metadata: ["sid": "\(status.sid)", "error": "\(error)"])
        } catch {
            logger.warning("platform unavailable: spooled a status callback", metadata: ["sid": "\(status.sid)", "error": "\(error)"])
        }
        do {
            try await spool.appendStatus(status)
        } catch {
            // Twilio sends a status once: a call's final status and voicemail, or a text's
            // delivery report, are gone.
            var metadata: Logger.Metadata = ["sid": "\(status.sid)", "error": "\(error)"]
            if case .call(let request) = status { metadata["recording_url"] = "\(request.recordingURL)" }
            logger.critical("could not spool a status callback; it is lost", metadata: metadata)
        }
    }

    /// The platform's reply to a voice webhook; when the platform cannot answer in time,
    /// `unavailable`, or else the outage answer: an apology, then the last-known forward number
    /// unless that is the number just `dialed`, then a voicemail.
    private func voice(
        calledNumber: String, dialed: String? = nil, unavailable: [VoiceInstruction]? = nil,
        _ call: @escaping @Sendable () async throws -> VoiceReply
    ) async -> Response {
        do {
            let reply = try await deadline.run(call)
            if fallback.remember(forwardNumber: reply.fallbackForwardNumber, for: calledNumber) {
                await keep(forwardNumber: reply.fallbackForwardNumber, for: calledNumber)
            }
            return twiml(renderer.voiceResponse(reply.instructions))
        } catch {
            if let refusal = error as? RPCError, refusal.isVerdictOnRequest {
                // No call Twilio makes should meet this; the caller still hears the fallback.
                logger.error("the platform refused a call's webhook: answering with the fallback", metadata: ["to": "\(calledNumber)", "error": "\(error)"])
            } else {
                logger.warning("platform unavailable: answering a call with the fallback", metadata: ["to": "\(calledNumber)", "error": "\(error)"])
            }
            if let unavailable { return twiml(renderer.voiceResponse(unavailable)) }
            return twiml(renderer.outageResponse(forwardNumber: fallback.forwardNumber(for: calledNumber, after: dialed)))
        }
    }

    // MARK: Helpers

    /// Keeps a forward number that changed in the spool's file, for a bridge restarted during an
    /// outage; one the file cannot take is still known until then, and written on the next call.
    private func keep(forwardNumber: String, for calledNumber: String) async {
        do {
            try await spool.keepForwardNumber(forwardNumber, for: calledNumber)
            fallback.saved(forwardNumber: forwardNumber, for: calledNumber)
        } catch {
            logger.warning("could not keep a forward number for a restart", metadata: ["to": "\(calledNumber)", "error": "\(error)"])
        }
    }

    private var inbound: InboundService.Client<Transport> { InboundService.Client(wrapping: platform.grpc) }

    private func twiml(_ document: String) -> Response {
        Response(status: .ok, headers: [.contentType: TwiMLRenderer.contentType], body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    static func plain(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

/// What the benchmark baseline answers instead of asking the platform.
private enum BenchmarkBaseline {
    static let reply = SmsReply.with { $0.body = "Thanks for texting! We got your message and will reply shortly." }
}

/// Twilio's status words as the platform's enums.
enum TwilioStatus {
    static func message(_ status: String) -> TextMessageStatus? {
        switch status {
        case "accepted": .accepted
        case "scheduled": .scheduled
        case "queued": .queued
        case "sending": .sending
        case "sent": .sent
        case "delivered": .delivered
        case "partially_delivered": .partiallyDelivered
        case "undelivered": .undelivered
        case "failed": .failed
        case "receiving": .receiving
        case "received": .received
        case "read": .read
        case "canceled": .canceled
        default: nil
        }
    }

    static func call(_ status: String) -> PhoneCallStatus {
        switch status {
        case "queued": .queued
        case "ringing": .ringing
        case "in-progress": .inProgress
        case "completed": .completed
        case "busy": .busy
        case "no-answer": .noAnswer
        case "failed": .failed
        case "canceled": .canceled
        default: .unspecified
        }
    }
}
