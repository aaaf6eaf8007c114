import Foundation
import Logging
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.telephony.v1.InboundService: what the Twilio bridge calls for each webhook.
/// Every method is idempotent on MessageSid / CallSid and answers with abstract instructions,
/// never TwiML. Texts and calls resolve their tenant the same way (messaging service, number
/// called, root); status callbacks go to whichever tenant's log holds their SID.
public struct InboundHandler: InboundServiceHandler {
    let database: any Database
    let resolver: TenantResolver
    /// Opens a line's SIP password for the dial that rings its endpoint.
    let sealer: SecretSealer
    let agent: any VoiceAgent
    let logger: Logger
    /// Inbound texts of a tenant that arrive together are stored together: one statement and
    /// one commit for a burst, on PostgreSQL a fraction of the cost of one each.
    let textInserts: NaturalBatcher<String, CommunicationRecords.NewText, TextMessage?>

    public init(database: any Database, resolver: TenantResolver, sealer: SecretSealer, agent: any VoiceAgent = PlaceholderVoiceAgent(), logger: Logger) {
        self.database = database
        self.resolver = resolver
        self.sealer = sealer
        self.logger = logger
        self.agent = agent
        // 100 texts bind 1,300 values, well under both stores' limits. 5,000 waiting texts are
        // one to two seconds of writing at the rates measured (docs/benchmarks.md).
        self.textInserts = NaturalBatcher(maximumBatch: 100, maximumWaiting: 5_000, mayBeOneItemsFault: StatementRefusal.mayBeOneRowsFault) { tenantID, texts in
            try await CommunicationRecords.insertIfNew(texts, tenantID: tenantID, database)
        }
    }

    /// The call's flow. A SIP password that cannot be opened is logged, and the endpoint rung
    /// without it: the call still goes through, to the next person if the endpoint refuses.
    private func callFlow(for resolution: TenantResolver.Resolution) async throws -> CallFlow {
        let flow = try await CallFlow(resolution: resolution, database: database, sealer: sealer)
        if case .failure(let problem) = flow.sipCredential {
            logger.error(
                "cannot open a phone config's SIP password; ringing its endpoint without it. Is the secrets key (SERVICEPRO_SECRETS_KEY or secrets.key) the one it was sealed with?",
                metadata: ["phone_config": "\(flow.config.name)", "error": "\(problem)"])
        }
        return flow
    }

    public func resolveInbound(_ request: ResolveInboundRequest, context: RequestContext) async throws -> ResolveInboundResponse {
        let resolution = try await resolve(messagingServiceSID: request.messagingServiceSid, to: request.to)
        let flow = try await callFlow(for: resolution)
        guard let tenant = flow.tenant else { throw ServiceError.notFound(ResourceName.tenant(resolution.tenantID)) }
        return ResolveInboundResponse.with {
            $0.tenant = tenant
            if let config = resolution.phoneConfig { $0.phoneConfig = config.config }
            // The mode calls are answered in: the configured one, as the tenant's plan and standing allow it.
            $0.ivrMode = flow.mode
            $0.resolutionMethod = resolution.method
        }
    }

    /// The common case, a known customer's text, is one statement, shared with the texts that
    /// arrive beside it; a first text from a number then makes the customer and links it, and a
    /// retry reads the stored message back.
    public func handleInboundMessage(_ request: HandleInboundMessageRequest, context: RequestContext) async throws -> HandleInboundMessageResponse {
        let resolution = try await resolve(messagingServiceSID: request.messagingServiceSid, to: request.to)
        var response = HandleInboundMessageResponse.with {
            $0.tenant = ResourceName.tenant(resolution.tenantID)
            $0.resolutionMethod = resolution.method
        }
        if let stored = try await storeOnce(Self.newText(request, resolution), for: resolution.tenantID) {
            response.message = stored
        } else {
            response.message = try await recallFirst(request, resolution)
            response.duplicate = true
        }
        // A first attempt that stopped before linking its sender (it failed, or timed out) is
        // finished by its retry.
        if response.message.customer.isEmpty, CallerNumber.canTakeTexts(request.from) {
            response = try await linkSender(of: request, resolution, answering: response)
        }
        // A customer's "C" or "R" to a booking text; a retry finds it answered. The business's
        // note about it stands in for the text's alert.
        if !response.message.customer.isEmpty, response.message.autoReply.isEmpty, let reply = CustomerReply(request.body),
           let answer = try await answer(reply, response.message, resolution, context: context) {
            response.message.autoReply = answer
            response.replies = [.with { $0.body = answer }]
        } else if resolution.phoneConfig?.config.businessAlerts.texts == true {
            // Only for lines that ask: the common case stays one statement.
            let text = response.message, lines = try await resolver.lines()
            try await database.withTenant(resolution.tenantID) { tx in try await BusinessAlert.text(text, lines: lines, tx) }
        }
        // Replayed from the bridge's spool: the bridge spools only a text it had no answer for,
        // and Twilio is no longer waiting for one. The answer recorded on the text goes through
        // the outbox instead, once, whichever attempt recorded it: the first may have committed
        // it only while this one ran.
        if request.replayed {
            response.replies = []
            try await sendRecordedAnswer(of: request, resolution)
        }
        return response
    }

    /// Each text as `handleInboundMessage` handles it, all at once: a burst of one tenant's texts
    /// shares the inserts' batch. A text that fails has its error as its outcome, and leaves the
    /// others be; it is logged here, as the call log would log its own call. The call's log line
    /// names the texts' tenant when they all have one.
    public func batchHandleInboundMessages(_ request: BatchHandleInboundMessagesRequest, context: RequestContext) async throws -> BatchHandleInboundMessagesResponse {
        var outcomes = [InboundMessageOutcome](repeating: InboundMessageOutcome(), count: request.requests.count)
        await withTaskGroup(of: (Int, InboundMessageOutcome).self) { group in
            for (index, text) in request.requests.enumerated() {
                group.addTask {
                    // Each text names its own tenant, not the call's.
                    await CallRecord.$current.withValue(nil) { (index, await outcome(of: text, context: context)) }
                }
            }
            for await (index, outcome) in group {
                outcomes[index] = outcome
            }
        }
        let tenants = Set(outcomes.compactMap { outcome -> String? in
            if case .handled(let response) = outcome.outcome { return response.tenant }
            return nil
        })
        if tenants.count == 1, let tenant = tenants.first {
            CallRecord.current?.tenantID = ResourceName.tenantID(of: tenant)
        }
        return .with { $0.outcomes = outcomes }
    }

    private func outcome(of text: HandleInboundMessageRequest, context: RequestContext) async -> InboundMessageOutcome {
        do {
            let handled = try await handleInboundMessage(text, context: context)
            return .with { $0.handled = handled }
        } catch {
            // Logged as the call log would log the text's own call: the batch's call succeeded.
            let refusal = ServiceError(error)
            logger.log(level: CallLogInterceptor.level(of: refusal.code), "an inbound text of a batch refused", metadata: [
                "message_sid": "\(text.messageSid)", "code": "\(refusal.code)", "reason": "\(refusal.reason)",
                "detail": "\(refusal.metadata["detail"] ?? refusal.message)",
            ])
            return .with { $0.refused = InboundMessageRefusal(refusal) }
        }
    }

    /// Queues the answer recorded on `request`'s text, if any, from its line; once per MessageSid.
    private func sendRecordedAnswer(of request: HandleInboundMessageRequest, _ resolution: TenantResolver.Resolution) async throws {
        try await database.withTenant(resolution.tenantID) { tx in
            guard let answer = try await CommunicationRecords.autoReply(ofMessage: request.messageSid, tx), !answer.isEmpty else { return }
            try await Self.enqueue(answer, to: request.from, from: resolution.phoneConfig?.config ?? PhoneConfig(), for: request.messageSid, tx)
        }
    }

    private static func newText(_ request: HandleInboundMessageRequest, _ resolution: TenantResolver.Resolution) -> CommunicationRecords.NewText {
        let message = TextMessage.with {
            $0.messageSid = request.messageSid
            $0.direction = .inbound
            $0.from = request.from
            $0.to = request.to
            $0.body = request.body
            $0.mediaUrls = request.mediaUrls
            $0.status = .received
            if request.hasReceiveTime { $0.createTime = request.receiveTime }
        }
        return CommunicationRecords.NewText(message: message, id: Tokens.id(bytes: 10), phoneConfigID: resolution.phoneConfig?.id)
    }

    /// Twilio retried: the text as the first attempt stored it, answered as the first time,
    /// without a second acknowledgement.
    private func recallFirst(_ request: HandleInboundMessageRequest, _ resolution: TenantResolver.Resolution) async throws -> TextMessage {
        try await database.withTenant(resolution.tenantID) { tx in
            guard let first = try await CommunicationRecords.message(sid: request.messageSid, tx) else {
                throw ServiceError.alreadyExists(reason: "message_sid_taken", field: "message_sid", message: "\(request.messageSid) is stored for another number")
            }
            return first
        }
    }

    /// Links the text to its sender's customer, made now for a new number, whose first text
    /// gets the line's auto-reply (regulars don't). Once the root's main line has a number of
    /// its own, a text that reached the root only as the fallback gets none: it was sent to a
    /// number no line answers (a deleted tenant's, one not yet set up), whose callers would be
    /// thanked in the root business's name. Until then (a new or a developer's platform) the
    /// fallback is the root's only way in, and answers as its line.
    private func linkSender(
        of request: HandleInboundMessageRequest, _ resolution: TenantResolver.Resolution, answering unlinked: HandleInboundMessageResponse
    ) async throws -> HandleInboundMessageResponse {
        try await database.withTenant(resolution.tenantID) { tx in
            guard let customer = try await CustomerRecords.findOrCreate(phone: request.from, tx) else { return unlinked }
            try await CommunicationRecords.linkCustomer(customer.id, toMessage: request.messageSid, tx)
            var linked = unlinked
            guard let message = try await CommunicationRecords.message(sid: request.messageSid, tx) else { throw ServiceError.notFound(request.messageSid) }
            linked.message = message
            let config = resolution.phoneConfig?.config ?? PhoneConfig()
            let stray = resolution.method == .fallbackRoot && !config.phoneNumber.isEmpty
            guard customer.created, !stray, !config.autoReply.disabled, let tenant = try await TenantRecords.find(tx), tenant.status.isInGoodStanding,
                  let acknowledgement = config.autoReplyText(for: tenant, packAutoReply: try await PackItemRecords.smsTemplate(.autoReply, tx)?.body)
            else { return linked }
            try await CommunicationRecords.recordAutoReply(acknowledgement, toMessage: request.messageSid, tx)
            linked.message.autoReply = acknowledgement
            linked.replies = [.with { $0.body = acknowledgement }]
            return linked
        }
    }

    /// Does what a customer's reply to a booking text asks, records the answer on the text (as an
    /// acknowledgement is), and tells the business; the answer, or nil when the text answers no
    /// booking text or was answered already.
    private func answer(
        _ reply: CustomerReply, _ text: TextMessage, _ resolution: TenantResolver.Resolution, context: RequestContext
    ) async throws -> String? {
        let lines = try await resolver.lines()
        return try await database.withTenant(resolution.tenantID) { tx in
            guard let tenant = try await TenantRecords.find(tx), tenant.status.isInGoodStanding,
                  let done = try await reply.outcome(for: text, tenant: tenant, tx),
                  // Two copies of the text at once: the one that answers it first acts.
                  try await CommunicationRecords.claimAutoReply(done.answer, toMessage: text.messageSid, tx)
            else { return nil }
            try await reply.carryOut(done, messageSID: text.messageSid, context: context, tx)
            let line = resolution.phoneConfig?.config ?? PhoneConfig()
            if let business = BusinessAlert.businessNumber(line: line, tenant: tenant, lines: lines) {
                try await OutboxRecords.enqueue(.sms(
                    to: business, from: line.textSender, body: done.note.truncated(to: OutboxRecords.maxTextLength),
                    purpose: "customer_reply", dedupeKey: CustomerReply.noteKey(text.messageSid)), tx)
            }
            return done.answer
        }
    }

    /// Sends a text's acknowledgement through the outbox, from its line; once per MessageSid.
    private static func enqueue(_ acknowledgement: String, to caller: String, from config: PhoneConfig, for messageSid: String, _ tx: TenantTransaction) async throws {
        try await OutboxRecords.enqueue(.sms(
            to: caller, from: config.textSender, body: acknowledgement,
            purpose: "auto_reply", dedupeKey: "auto_reply/\(messageSid)"), tx)
    }

    /// Stores `text` unless its MessageSid is already stored; nil then. When the tenant's texts
    /// are arriving faster than the store takes them, UNAVAILABLE: the bridge keeps the text in
    /// its spool and sends it again.
    private func storeOnce(_ text: CommunicationRecords.NewText, for tenantID: String) async throws -> TextMessage? {
        do {
            return try await textInserts.submit(text, for: tenantID)
        } catch let backlog as NaturalBatcherBacklog {
            throw ServiceError(code: .unavailable, reason: "inbound_backlog", message: "\(backlog.waiting) texts of tenants/\(tenantID) are already waiting for the store; send the text again shortly")
        }
    }

    public func handleInboundCall(_ request: HandleInboundCallRequest, context: RequestContext) async throws -> VoiceReply {
        let resolution = try await resolve(messagingServiceSID: "", to: request.to)
        let flow = try await callFlow(for: resolution)
        try await logCall(sid: request.callSid, from: request.from, to: request.to, callerName: request.callerName, flow)
        let instructions: [VoiceInstruction]
        switch flow.mode {
        case .aiVoice: instructions = try await agent.greet(agentCall(flow, callSid: nil, caller: request.from))
        case .ivr: instructions = flow.menu(attempt: 1, apology: false, step: 0)
        default: instructions = flow.connect()
        }
        return flow.reply(instructions)
    }

    public func handleIvrSelection(_ request: HandleIvrSelectionRequest, context: RequestContext) async throws -> VoiceReply {
        let resolution = try await resolve(messagingServiceSID: "", to: request.to)
        let flow = try await callFlow(for: resolution)
        // The line left the menu during the call (its mode or plan changed, or its tenant was
        // suspended): a person takes over rather than a menu the tenant no longer has.
        guard flow.mode == .ivr else { return flow.reply(flow.handOff()) }
        let attempt = max(Int(request.attempt), 1), canText = CallerNumber.canTakeTexts(request.from)
        let step = request.hasStep ? Int(request.step) : nil
        guard !request.digits.isEmpty else {
            // Nothing was pressed, so nothing is recorded: the menu offered again is the same step.
            return flow.reply(flow.select(digits: "", attempt: attempt, canText: canText, step: step).instructions)
        }
        let selection = try await database.withTenant(resolution.tenantID) { tx in
            let priceList = flow.readsPriceList(request.digits) ? try await PriceList.read(tx).text(businessName: flow.tenant?.displayName) : nil
            let taken = try await CommunicationRecords.appendSelection(request.digits, callSid: request.callSid, step: step, tx)
            let selection = flow.select(digits: request.digits, attempt: attempt, canText: canText, priceList: priceList, step: taken)
            if let text = selection.text {
                // Once per call and key: Twilio retrying the webhook sends nothing twice.
                try await OutboxRecords.enqueue(.sms(
                    to: request.from, from: flow.config.textSender, body: text, purpose: "ivr",
                    dedupeKey: "ivr/\(request.callSid)/\(request.digits)"), tx)
            }
            return selection
        }
        return flow.reply(selection.instructions)
    }

    public func handleDialResult(_ request: HandleDialResultRequest, context: RequestContext) async throws -> VoiceReply {
        let resolution = try await resolve(messagingServiceSID: "", to: request.to)
        let flow = try await callFlow(for: resolution)
        let attempt = max(Int(request.attempt), 1)
        if CallFlow.wasAnswered(request.dialCallStatus), let person = flow.dialed(attempt: attempt) {
            try await database.withTenant(resolution.tenantID) { tx in
                try await CommunicationRecords.setConnectedTo(person, callSid: request.callSid, tx)
            }
        }
        return flow.reply(flow.afterDial(attempt: attempt, status: request.dialCallStatus))
    }

    public func handleAiVoiceTurn(_ request: HandleAiVoiceTurnRequest, context: RequestContext) async throws -> VoiceReply {
        guard request.attempt > 0 else {
            // No turn yet: the call's first request, sent straight to the AI entry point (a number
            // whose voice webhook is that URL). It is recorded and answered as any new call is,
            // by its number's mode: a greeting in AI voice, the number's own flow otherwise.
            return try await handleInboundCall(.with {
                $0.callSid = request.callSid
                $0.from = request.from
                $0.to = request.to
                $0.callerName = request.callerName
            }, context: context)
        }
        let resolution = try await resolve(messagingServiceSID: "", to: request.to)
        let flow = try await callFlow(for: resolution)
        // The line left AI voice during the call (its mode changed, or its plan lost the
        // feature): a person takes over rather than a receptionist the tenant no longer has.
        guard flow.mode == .aiVoice else { return flow.reply(flow.handOff()) }
        // A call whose start reached only the bridge is logged at its first turn here, so what
        // the caller says is taken as on any other call.
        try await logCall(sid: request.callSid, from: request.from, to: request.to, callerName: request.callerName, flow)
        let turn = try await agent.respond(
            to: request.speechResult, confidence: request.confidence, attempt: Int(request.attempt), agentCall(flow, callSid: request.callSid, caller: request.from))
        if let answered = turn.answered {
            _ = try await database.withTenant(resolution.tenantID) { tx in
                try await CommunicationRecords.appendCallerSaid(answered, callSid: request.callSid, tx)
            }
        }
        if let asked = turn.passOn {
            let outcome = try await database.withTenant(resolution.tenantID) { tx in
                let outcome = try await CommunicationRecords.appendCallerSaid(asked, callSid: request.callSid, tx)
                guard outcome == .added, let business = flow.businessTextNumber else { return outcome }
                // Once per call and turn: Twilio retrying the webhook texts nothing twice.
                try await OutboxRecords.enqueue(.sms(
                    to: business, from: flow.config.textSender,
                    body: Self.passOnNote(caller: request.from, asked: asked), purpose: "ai_voice_request",
                    dedupeKey: "ai_voice/\(request.callSid)/\(request.attempt)"), tx)
                return outcome
            }
            // The call is logged for another tenant (its number changed hands during the call):
            // nothing could be taken here, so nothing is promised. A retry of the turn that was
            // taken gets the first answer again.
            guard outcome != .noCall else { return flow.reply(flow.handOff()) }
        }
        return flow.reply(turn.instructions)
    }

    /// The text telling the business what a caller asked its AI receptionist. A caller who talks
    /// at length is cut short (…) so the note fits in one outbox text: a longer one would be
    /// refused, and the caller would hear the outage message instead of being passed on.
    static func passOnNote(caller: String, asked: String) -> String {
        func note(_ asked: String) -> String { "\(caller) called your AI receptionist: \"\(asked)\"" }
        let whole = note(asked)
        guard whole.count > OutboxRecords.maxTextLength else { return whole }
        let room = OutboxRecords.maxTextLength - note("…").count
        return note(String(asked.prefix(max(room, 0))) + "…")
    }

    public func recordMessageStatus(_ request: RecordMessageStatusRequest, context: RequestContext) async throws -> TextMessage {
        guard let tenantID = try await owner(of: "text_messages", sidColumn: "message_sid", sid: request.messageSid) else {
            throw ServiceError.notFound(request.messageSid)
        }
        return try await database.withTenant(tenantID) { tx in
            guard let message = try await CommunicationRecords.updateMessageStatus(sid: request.messageSid, status: request.status, errorCode: request.errorCode, tx)
            else { throw ServiceError.notFound(request.messageSid) }
            return message
        }
    }

    public func recordCallStatus(_ request: RecordCallStatusRequest, context: RequestContext) async throws -> PhoneCall {
        let known = try await owner(of: "phone_calls", sidColumn: "call_sid", sid: request.callSid)
        let tenantID = if let known { known } else { try await logCallAnsweredAlone(request) }
        let lines = request.recordingURL.isEmpty ? nil : try await resolver.lines()
        return try await database.withTenant(tenantID) { tx in
            guard let call = try await CommunicationRecords.updateCall(request, tx) else { throw ServiceError.notFound(request.callSid) }
            if let lines { try await BusinessAlert.voicemail(call, lines: lines, tx) }
            return call
        }
    }

    /// A call the bridge answered alone, while the platform was down, is logged from its status,
    /// for the tenant whose number was called, linked to its caller's customer as any call is;
    /// returns that tenant.
    private func logCallAnsweredAlone(_ request: RecordCallStatusRequest) async throws -> String {
        guard !request.to.isEmpty else { throw ServiceError.notFound(request.callSid) }
        let resolution = try await resolve(messagingServiceSID: "", to: request.to)
        try await database.withTenant(resolution.tenantID) { tx in
            let customer = try await CustomerRecords.findOrCreate(phone: request.from, tx)
            let call = PhoneCall.with {
                $0.callSid = request.callSid
                $0.direction = .inbound
                $0.from = request.from
                $0.to = request.to
            }
            try await CommunicationRecords.insert(
                call, id: Tokens.id(bytes: 10), phoneConfigID: resolution.phoneConfig?.id, customerID: customer?.id, tx,
                now: Self.startTime(of: request))
        }
        return resolution.tenantID
    }

    /// When a call answered alone began. Its status may be replayed from the bridge's spool long
    /// after the call, so the time is taken from the status: when the bridge received it, less
    /// how long the call lasted.
    private static func startTime(of request: RecordCallStatusRequest) -> Date {
        guard request.hasEventTime else { return Date() }
        return request.eventTime.date.addingTimeInterval(request.hasDuration ? -request.duration.timeInterval : 0)
    }

    /// The call as the voice agent sees it, with the tenant's AI agent profile, FAQs and services
    /// and, for a turn of call `callSid`, what the caller asked before, read beside the writers.
    private func agentCall(_ flow: CallFlow, callSid: String?, caller: String) async throws -> VoiceAgentCall {
        let tenantID = flow.resolution.tenantID
        let (profile, answers, askedBefore) = try await database.read(.tenant(tenantID)) { base in
            let tx = TenantTransaction(tenantID: tenantID, base: base)
            let faqs = try await PackItemRecords.all(tx, kind: .faq).compactMap { try? $0.decoded(Faq.self) }
            let answers = ReceptionistAnswers(faqs: faqs, services: try await PriceList.read(tx).services)
            let askedBefore = if let callSid { try await CommunicationRecords.call(sid: callSid, tx)?.callerSaid ?? [] } else { [String]() }
            return (try await PackItemRecords.aiAgent(tx), answers, askedBefore)
        }
        var call = flow.agentCall(caller: caller, profile: profile, answers: answers)
        call.askedBefore = askedBefore
        return call
    }

    /// The tenant a webhook is for, which the call's log line then names: the bridge's key is a
    /// platform credential, so the pipeline cannot tell.
    private func resolve(messagingServiceSID: String, to: String) async throws -> TenantResolver.Resolution {
        let resolution = try await resolver.resolve(messagingServiceSID: messagingServiceSID, to: to)
        CallRecord.current?.tenantID = resolution.tenantID
        return resolution
    }

    /// Logs a call the first time one of its webhooks arrives, as ringing, linked to its line and
    /// its caller's customer; a call already logged is left as it is.
    private func logCall(sid: String, from: String, to: String, callerName: String, _ flow: CallFlow) async throws {
        try await database.withTenant(flow.resolution.tenantID) { tx in
            guard try await CommunicationRecords.call(sid: sid, tx) == nil else { return }
            let customer = try await CustomerRecords.findOrCreate(phone: from, tx)
            let call = PhoneCall.with {
                $0.callSid = sid
                $0.direction = .inbound
                $0.from = from
                $0.to = to
                $0.callerName = callerName
                $0.status = .ringing
                $0.ivrMode = flow.mode
            }
            try await CommunicationRecords.insert(call, id: Tokens.id(bytes: 10), phoneConfigID: flow.resolution.phoneConfig?.id, customerID: customer?.id, tx)
        }
    }

    /// The tenant whose log holds this SID, if any: a message's status callback carries no number
    /// to resolve by.
    private func owner(of table: String, sidColumn: String, sid: String) async throws -> String? {
        let row = try await database.transaction(.platform) { tx in
            try await tx.first("SELECT tenant_id FROM \(raw: table) WHERE \(raw: sidColumn) = \(sid)")
        }
        guard let row else { return nil }
        let tenantID = try row.string("tenant_id")
        CallRecord.current?.tenantID = tenantID
        return tenantID
    }
}
