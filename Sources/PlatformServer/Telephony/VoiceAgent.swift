import ServiceProAPI

/// The AI receptionist behind `ai_voice` numbers. The bridge only ever sees the instructions it
/// returns, so a streaming speech/LLM provider can replace the placeholder without touching it.
public protocol VoiceAgent: Sendable {
    /// The first words of a call, ending with a speech gather.
    func greet(_ call: VoiceAgentCall) async throws -> [VoiceInstruction]
    /// The answer to what the caller said; empty speech means the caller said nothing.
    func respond(to speech: String, attempt: Int, _ call: VoiceAgentCall) async throws -> [VoiceInstruction]
}

/// What the agent knows about the call it is in.
public struct VoiceAgentCall: Sendable {
    public var tenantName: String
    public var callerNumber: String
    /// Where to send the caller when a person is needed; may be empty.
    public var forwardNumber: String
    /// Words the recogniser should expect (a pack's vocabulary).
    public var vocabulary: [String]
}

/// A friendly, fixed receptionist: greets with the business's name, listens once, takes a
/// message and promises a text back, or hands over to a person.
public struct PlaceholderVoiceAgent: VoiceAgent {
    public init() {}

    public func greet(_ call: VoiceAgentCall) async throws -> [VoiceInstruction] {
        [listen(prompt: "Hi, thanks for calling \(call.tenantName)! I'm the virtual assistant. How can I help you today?", attempt: 1, call)]
    }

    public func respond(to speech: String, attempt: Int, _ call: VoiceAgentCall) async throws -> [VoiceInstruction] {
        let said = speech.trimmingCharacters(in: .whitespacesAndNewlines)
        if said.isEmpty {
            if attempt < 2 {
                return [listen(prompt: "Sorry, I didn't catch that. How can I help you?", attempt: attempt + 1, call)]
            }
            return VoiceScript.goodbyeOrForward(call.forwardNumber)
        }
        return [
            .say("Thanks! I've passed that on to the team at \(call.tenantName). Someone will text you back shortly."),
            .endCall,
        ]
    }

    private func listen(prompt: String, attempt: Int, _ call: VoiceAgentCall) -> VoiceInstruction {
        .gather(.with {
            $0.inputs = [.speech]
            $0.action = .with { $0.route = .aiVoiceTurn; $0.attempt = Int32(attempt) }
            $0.prompts = [.with { $0.text = prompt }]
            $0.speechHints = call.vocabulary
            $0.actionOnEmptyResult = true
        })
    }
}
