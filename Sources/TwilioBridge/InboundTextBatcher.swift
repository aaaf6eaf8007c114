import GRPCCore
import RPCRuntime
import ServiceProAPI

/// Carries inbound texts to the platform. A text that arrives while no call for its line is out
/// goes at once, by HandleInboundMessage; texts of the line that arrive while one is out wait for
/// it and go together in the next call, BatchHandleInboundMessages. Under a burst, dozens of
/// texts share one call: the HTTP/2 stream, the authentication, the call log and the platform's
/// insert (docs/benchmarks.md measures what that saves). Lines are batched apart, as the spool
/// keeps them apart: a line whose call is slow holds up no other line's texts. Each webhook still
/// waits for its own text's outcome, which is what a call of its own would have answered or
/// thrown.
///
/// Each text has its own deadline, counted from when its webhook handed it over, and its webhook
/// is answered by then whatever its batch is doing. A batch's call may run until its youngest
/// text's deadline; a text whose time ran out while it waited is not sent.
struct InboundTextBatcher<Transport: ClientTransport>: Sendable {
    private struct Waiting: Sendable {
        let text: HandleInboundMessageRequest
        let expiry: ContinuousClock.Instant
    }

    private let batcher: NaturalBatcher<String, Waiting, Result<HandleInboundMessageResponse, RPCError>>
    private let deadline: CallDeadline

    /// The most texts one call carries (the request's `max_items`).
    static var maximumBatch: Int { 100 }

    /// - Parameter deadline: how long a webhook waits for its text's outcome.
    init(platform: PlatformClient<Transport>, deadline: Duration) {
        self.deadline = CallDeadline(timeout: deadline)
        // A batch the platform refuses for one text's field is sent again a text at a time, so
        // only that text's webhook hears the refusal. 2,000 texts waiting for one line are well
        // past what the platform answers within a deadline (docs/benchmarks.md): more are
        // spooled at once.
        self.batcher = NaturalBatcher(maximumBatch: Self.maximumBatch, maximumWaiting: 2_000, mayBeOneItemsFault: { error in
            (error as? RPCError)?.isVerdictOnRequest == true
        }) { _, waiting in
            try await Self.send(waiting, platform: platform, deadline: deadline)
        }
    }

    /// The platform's answer for `text`, or the error its own HandleInboundMessage call would
    /// have thrown; DEADLINE_EXCEEDED once its deadline has passed.
    func deliver(_ text: HandleInboundMessageRequest) async throws -> HandleInboundMessageResponse {
        let waiting = Waiting(text: text, expiry: .now + deadline.timeout)
        return try await deadline.race { [batcher] in
            try await batcher.submit(waiting, for: MessageSpool.line(of: text)).get()
        }
    }

    private static func send(
        _ waiting: [Waiting], platform: PlatformClient<Transport>, deadline: Duration
    ) async throws -> [Result<HandleInboundMessageResponse, RPCError>] {
        let now = ContinuousClock.now
        var outcomes = [Result<HandleInboundMessageResponse, RPCError>](
            repeating: .failure(RPCError(code: .deadlineExceeded, message: "no answer within \(deadline)")), count: waiting.count)
        // Those whose webhooks have been answered already are not sent.
        let live = waiting.indices.filter { waiting[$0].expiry > now }
        guard let latest = live.lazy.map({ waiting[$0].expiry }).max() else { return outcomes }
        let call = CallDeadline(timeout: latest - now)
        let inbound = InboundService.Client(wrapping: platform.grpc)
        if live.count == 1, let index = live.first {
            // Alone, a text goes as it always has: the call log and any refusal name its own
            // fields (`from`, not `requests[0].from`).
            let text = waiting[index].text
            do {
                outcomes[index] = .success(try await call.run { try await inbound.handleInboundMessage(text, metadata: platform.metadata) })
            } catch let error as RPCError {
                outcomes[index] = .failure(error)
            }
            return outcomes
        }
        let request = BatchHandleInboundMessagesRequest.with { $0.requests = live.map { waiting[$0].text } }
        let answer = try await call.run { try await inbound.batchHandleInboundMessages(request, metadata: platform.metadata) }
        guard answer.outcomes.count == live.count else {
            throw RPCError(code: .internalError, message: "the platform answered \(answer.outcomes.count) outcomes for \(live.count) texts")
        }
        for (index, outcome) in zip(live, answer.outcomes) {
            switch outcome.outcome {
            case .handled(let response): outcomes[index] = .success(response)
            case .refused(let refusal): outcomes[index] = .failure(refusal.rpcError)
            case nil: outcomes[index] = .failure(RPCError(code: .internalError, message: "the platform answered a text with no outcome"))
            }
        }
        return outcomes
    }
}
