import RPCRuntime
import ServiceProAPI

/// One tenant's voice behaviour for one call: its mode (downgraded when the plan lacks it), its
/// menu, and where a person can be reached.
struct CallFlow {
    let resolution: TenantResolver.Resolution
    /// The tenant as the call began; nil if it has gone since its number was resolved.
    let tenant: Tenant?
    let tenantName: String
    let mode: IvrMode
    let menu: IvrMenu
    let config: PhoneConfig
    /// What the line's SIP endpoint is rung with: nil when it has no endpoint or stores no
    /// password, a failure when the password cannot be opened (the secrets key changed), and the
    /// endpoint is then rung without it rather than the call failing.
    let sipCredential: Result<StoredPhoneConfig.SIPCredential?, any Error>

    init(resolution: TenantResolver.Resolution, database: any Database, sealer: SecretSealer) async throws {
        let tenant = try await database.withTenant(resolution.tenantID, TenantRecords.find)
        self.resolution = resolution
        self.tenant = tenant
        self.tenantName = tenant?.displayName ?? "us"
        self.config = resolution.phoneConfig?.config ?? PhoneConfig()
        let config = self.config
        self.sipCredential = Result { config.hasSIPEndpoint ? try resolution.phoneConfig?.sipCredential(using: sealer) : nil }
        // A plan that lost IVR or AI voice, or a tenant suspended or cancelled, answers in simple
        // mode rather than not at all: its callers are still put through.
        let tier = tenant?.planTier.catalogTier ?? .starter
        let inGoodStanding = tenant?.status.isInGoodStanding ?? false
        switch resolution.ivrMode {
        case .aiVoice where inGoodStanding && PlanCatalog.hasFeature(tier, .aiVoice): mode = .aiVoice
        case .ivr where inGoodStanding && PlanCatalog.hasFeature(tier, .ivr): mode = .ivr
        default: mode = .simple
        }
        self.menu = config.hasIvrMenu && !config.ivrMenu.options.isEmpty ? config.ivrMenu : .standard
    }

    /// Menus and texts are kept as written and filled in as the call goes, so a business that
    /// changes its name or booking link is heard and texted with the new one at once.
    private var placeholderValues: [String: String] {
        tenant.map(PackPlaceholders.values(for:)) ?? [PackPlaceholders.businessName: tenantName]
    }

    private func filled(_ text: String) -> String {
        PackPlaceholders.fill(text, placeholderValues)
    }

    func reply(_ instructions: [VoiceInstruction]) -> VoiceReply {
        .with {
            $0.instructions = instructions
            $0.tenant = ResourceName.tenant(resolution.tenantID)
            $0.resolutionMethod = resolution.method
            $0.ivrMode = mode
            $0.fallbackForwardNumber = config.forwardNumber
        }
    }

    /// Where a person can be reached, in the order they are rung: the SIP endpoint, then the
    /// forward number.
    private var people: [VoiceInstruction] {
        var people: [VoiceInstruction] = []
        if config.hasSIPEndpoint {
            people.append(.dial(sip: "sip:\(config.sipUsername)@\(config.sipDomain)", credential: try? sipCredential.get(), resultAttempt: people.count + 1))
        }
        if !config.forwardNumber.isEmpty {
            people.append(.dial(number: config.forwardNumber, resultAttempt: people.count + 1))
        }
        return people
    }

    /// Simple mode: ring the first way to reach a person. Each dial
    /// reports how it ended (HandleDialResult), which rings the next one or takes a voicemail;
    /// a dial that was answered ends the call, rather than running on into the voicemail.
    func connect() -> [VoiceInstruction] {
        let people = people
        guard let first = people.first else { return [.say("Thanks for calling \(tenantName).")] + VoiceScript.leaveVoicemail() }
        return [first]
    }

    /// A caller the menu or the AI receptionist could not help, or who asked for a person: rung
    /// through to whoever the line rings, in turn, then a voicemail (`afterDial`), or straight to
    /// a voicemail when there is nobody to ring. Never a hang-up with nothing taken.
    func handOff() -> [VoiceInstruction] {
        guard let first = people.first else { return [.say("Nobody can come to the phone right now.")] + VoiceScript.leaveVoicemail() }
        return [.say("Let me connect you with someone."), first]
    }

    /// Where a text to the business goes: its contact phone, else the line's forward number; nil
    /// when neither can take a text.
    var businessTextNumber: String? { config.businessTextNumber(of: tenant) }

    /// Whether a dial that ended with `status` (Twilio's DialCallStatus) reached someone.
    static func wasAnswered(_ status: String) -> Bool { ["completed", "answered"].contains(status) }

    /// The number or SIP address dial `attempt` rang; nil for an attempt this number has none for.
    func dialed(attempt: Int) -> String? {
        let people = people
        guard people.indices.contains(attempt - 1) else { return nil }
        switch people[attempt - 1].instruction {
        case .dialNumber(let dial)?: return dial.number
        case .dialSip(let dial)?: return dial.sipUri
        default: return nil
        }
    }

    /// After dial `attempt` ended: hang up when it was answered, else ring the next way to
    /// reach someone, or take a voicemail after the last.
    func afterDial(attempt: Int, status: String) -> [VoiceInstruction] {
        if Self.wasAnswered(status) { return [.endCall] }
        let people = people
        guard attempt >= 1, attempt < people.count else { return VoiceScript.leaveVoicemail() }
        return [people[attempt]]
    }

    /// The DTMF menu; a repeat starts with an apology. `step` is how many keys the call has taken
    /// (nil for a call not logged here): it comes back with the key pressed, so a request Twilio
    /// sends again records its key once.
    func menu(attempt: Int, apology: Bool, step: Int?) -> [VoiceInstruction] {
        var prompts: [VoiceInstruction.Say] = []
        if apology { prompts.append(.with { $0.text = "Sorry, I didn't get that." }) }
        if !menu.greeting.isEmpty { prompts.append(.with { $0.text = filled(menu.greeting) }) }
        prompts += menu.options.filter { !$0.prompt.isEmpty }.map { option in .with { $0.text = filled(option.prompt) } }
        return [.gather(.with {
            $0.inputs = [.digits]
            $0.numDigits = 1
            $0.action = .with {
                $0.route = .ivrSelection
                $0.attempt = Int32(attempt)
                if let step { $0.step = Int32(clamping: step) }
            }
            $0.prompts = prompts
            $0.actionOnEmptyResult = true
        })]
    }

    /// What a key press leads to: what the caller hears next, and a text for the caller, which
    /// the platform sends through its outbox (TwiML's verb for texting during a call is deprecated).
    struct Selection {
        var instructions: [VoiceInstruction]
        var text: String?
    }

    /// Whether pressing `digits` reads out the tenant's services: "services and prices" with no
    /// text of its own that can be sent.
    func readsPriceList(_ digits: String) -> Bool {
        guard let option = option(digits) else { return false }
        return option.action == .servicesAndPrices && ownText(option) == nil
    }

    /// The option's own text, filled in; nil when it has none, or one that cannot be filled or no
    /// longer fits in a text.
    private func ownText(_ option: IvrMenuOption) -> String? {
        PackPlaceholders.firstFilled([option.smsBody], placeholderValues, maxLength: OutboxRecords.maxTextLength)
    }

    private func option(_ digits: String) -> IvrMenuOption? {
        menu.options.first { $0.digit == digits }
    }

    /// What a key press does. Unknown or missing input repeats the menu once, then hands off.
    /// `canText` says whether the caller's number can take a text (a withheld one cannot);
    /// `priceList` is what "services and prices" says when its option has no text of its own it
    /// can send (``readsPriceList(_:)``); `step` is the step of the menu offered next.
    func select(digits: String, attempt: Int, canText: Bool, priceList: String? = nil, step: Int?) -> Selection {
        guard let option = option(digits) else {
            return Selection(instructions: attempt < 2 ? menu(attempt: attempt + 1, apology: true, step: step) : handOff())
        }
        switch option.action {
        case .servicesAndPrices:
            guard let text = ownText(option) ?? priceList else {
                return Selection(instructions: [.say("We don't have our prices to hand; we'll gladly give you a quote.")] + menu(attempt: 1, apology: false, step: step))
            }
            let said: [VoiceInstruction] = canText ? [.say(text), .say("We've texted this to you as well.")] : [.say(text)]
            return Selection(instructions: said + menu(attempt: 1, apology: false, step: step), text: canText ? text : nil)
        case .bookingLinkSms:
            guard canText else {
                return Selection(instructions: [.say("We can't text the number you're calling from.")] + menu(attempt: 1, apology: false, step: step))
            }
            let text = bookingText(option)
            let hasLink = tenant.map { !$0.bookingURL.isEmpty && text.contains($0.bookingURL) } ?? false
            let said = hasLink ? "We've just texted you a link to book online." : "We've just texted you how to book."
            return Selection(instructions: [.say("\(said) Thanks for calling!"), .endCall], text: text)
        case .speakToSomeone:
            return Selection(instructions: handOff())
        case .voicemail:
            return Selection(instructions: VoiceScript.leaveVoicemail())
        case .unspecified, .UNRECOGNIZED:
            return Selection(instructions: menu(attempt: attempt + 1, apology: true, step: step))
        }
    }

    static let bookingLinkText = "Book with {{business_name}} online: {{booking_url}}"
    /// For a tenant with no booking link: the packs' booking texts name the link, so this
    /// stands in for them too.
    static let bookingByReplyText = "Thanks for calling {{business_name}}! Reply with the service you'd like and a day and time that suit you, and we'll get you booked."

    /// What "booking link by text" sends: the option's own text, else the tenant's booking link,
    /// else an invitation to reply with a day and time. A text that names the booking link gives
    /// way to the next while the tenant has none set.
    private func bookingText(_ option: IvrMenuOption) -> String {
        PackPlaceholders.firstFilled([option.smsBody, Self.bookingLinkText], placeholderValues, maxLength: OutboxRecords.maxTextLength)
            ?? String(filled(Self.bookingByReplyText).prefix(OutboxRecords.maxTextLength))
    }

    /// The call as the voice agent sees it, with the tenant's AI agent `profile` and what it can
    /// answer from (pack items, as the tenant's edits left them).
    func agentCall(caller: String, profile: AiAgentConfig?, answers: ReceptionistAnswers = ReceptionistAnswers()) -> VoiceAgentCall {
        var profile = profile ?? AiAgentConfig()
        profile.greeting = filled(profile.greeting)
        profile.instructions = filled(profile.instructions)
        var answers = answers
        for index in answers.faqs.indices { answers.faqs[index].answer = filled(answers.faqs[index].answer) }
        return VoiceAgentCall(
            tenantName: tenantName, callerNumber: caller, handOff: handOff(),
            canPassOn: businessTextNumber != nil && CallerNumber.canTakeTexts(caller), profile: profile, answers: answers)
    }
}
