import ServiceProAPI

/// The AI receptionist behind `ai_voice` numbers. The bridge only ever sees the instructions it
/// returns, so a streaming speech/LLM provider can replace the placeholder without touching it.
public protocol VoiceAgent: Sendable {
    /// The first words of a call, ending with a speech gather.
    func greet(_ call: VoiceAgentCall) async throws -> [VoiceInstruction]
    /// The answer to what the caller said; empty speech means the caller said nothing.
    /// `confidence` is the recogniser's, 0 to 1, or 0 when the carrier gave none. Twilio retries
    /// a webhook it got no answer to, and a retry must hear the first answer: an agent answers the
    /// same call, words and attempt the same way (a model behind it keeps its turns by CallSid).
    func respond(to speech: String, confidence: Float, attempt: Int, _ call: VoiceAgentCall) async throws -> VoiceAgentTurn
}

/// One turn's answer: what the caller hears, what they asked, and the request it understood, if
/// any.
public struct VoiceAgentTurn: Sendable {
    public var instructions: [VoiceInstruction]
    /// What the caller asked the business for. The platform keeps it in the call log and texts
    /// it to the business's contact, so "I've passed that on" is true.
    public var passOn: String?
    /// A question the agent answered itself, kept in the call log so the business sees what its
    /// callers ask.
    public var answered: String?

    public init(instructions: [VoiceInstruction], passOn: String? = nil, answered: String? = nil) {
        self.instructions = instructions
        self.passOn = passOn
        self.answered = answered
    }
}

/// What the agent knows about the call it is in.
public struct VoiceAgentCall: Sendable {
    public var tenantName: String
    public var callerNumber: String
    /// How to put the caller through to a person when one is needed: the line's people rung in
    /// turn, then a voicemail, or a voicemail alone when there is nobody to ring.
    public var handOff: [VoiceInstruction]
    /// Whether what the caller asks can be texted to the business, and the caller texted back:
    /// only then may the agent promise a text.
    public var canPassOn: Bool
    /// The tenant's AI agent, as its industry pack and its own edits left it, with the business
    /// name filled in: its first words, the trade words the recogniser should expect, and the
    /// instructions a language model would follow. Empty when the tenant has none.
    public var profile: AiAgentConfig
    /// What the business tells its customers, its FAQs and its services with their prices, for
    /// the agent to answer from.
    public var answers: ReceptionistAnswers
    /// What the caller asked on this call's earlier turns that the agent took, oldest first: a
    /// caller it has helped who then goes quiet is done, not stuck.
    public var askedBefore: [String] = []
}

/// A friendly, fixed receptionist: greets with the business's name and listens; answers what the
/// business's FAQs and prices answer (``ReceptionistAnswers``) and listens again; says goodbye to
/// a caller who is done; takes anything else as a message and promises a text back when one can
/// be sent, or hands over to a person.
public struct PlaceholderVoiceAgent: VoiceAgent {
    public init() {}

    public func greet(_ call: VoiceAgentCall) async throws -> [VoiceInstruction] {
        let greeting = call.profile.greeting.isEmpty
            ? "Hi, thanks for calling \(call.tenantName)! I'm the virtual assistant. How can I help you today?" : call.profile.greeting
        return [listen(prompt: greeting, attempt: 1, call)]
    }

    /// Below this the recogniser doubts its own words: better to ask again than pass on a guess.
    static let leastConfidence: Float = 0.4

    public func respond(to speech: String, confidence: Float, attempt: Int, _ call: VoiceAgentCall) async throws -> VoiceAgentTurn {
        let said = speech.trimmingCharacters(in: .whitespacesAndNewlines)
        let doubtful = confidence > 0 && confidence < Self.leastConfidence
        let helped = !call.askedBefore.isEmpty
        if said.isEmpty || doubtful {
            if attempt < 2 {
                let prompt = switch (said.isEmpty, helped) {
                case (false, _): "Sorry, could you repeat that?"
                case (true, false): "Sorry, I didn't catch that. How can I help you?"
                case (true, true): "Sorry, I didn't catch that. Is there anything else I can help you with?"
                }
                return VoiceAgentTurn(instructions: [listen(prompt: prompt, attempt: attempt + 1, call)])
            }
            // Silence again after an answer is a caller with nothing more to ask; words that
            // twice could not be made out are for a person.
            return VoiceAgentTurn(instructions: said.isEmpty && helped ? goodbye(call) : call.handOff)
        }
        if ReceptionistAnswers.isFarewell(said) {
            return VoiceAgentTurn(instructions: goodbye(call))
        }
        if ReceptionistAnswers.isYes(said) {
            return VoiceAgentTurn(instructions: [listen(prompt: "Sure, what else can I help you with?", attempt: 1, call)])
        }
        if let answer = call.answers.answer(to: said) {
            return VoiceAgentTurn(
                instructions: [.say(answer), listen(prompt: "Is there anything else I can help you with?", attempt: 1, call)], answered: said)
        }
        guard call.canPassOn else {
            // Nobody can be texted, or the caller cannot: what they asked is kept in the call log,
            // and a person or a voicemail takes it from here.
            return VoiceAgentTurn(instructions: [.say("Thanks.")] + call.handOff, passOn: said)
        }
        return VoiceAgentTurn(
            instructions: [
                .say("Thanks! I've passed that on to the team at \(call.tenantName). Someone will text you back shortly."),
                .endCall,
            ],
            passOn: said)
    }

    private func goodbye(_ call: VoiceAgentCall) -> [VoiceInstruction] {
        [.say("Thanks for calling \(call.tenantName). Goodbye!"), .endCall]
    }

    private func listen(prompt: String, attempt: Int, _ call: VoiceAgentCall) -> VoiceInstruction {
        .gather(.with {
            $0.inputs = [.speech]
            $0.action = .with { $0.route = .aiVoiceTurn; $0.attempt = Int32(attempt) }
            $0.prompts = [.with { $0.text = prompt }]
            $0.speechHints = call.profile.vocabulary
            $0.actionOnEmptyResult = true
        })
    }
}
