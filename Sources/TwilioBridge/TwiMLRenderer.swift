import ServiceProAPI

/// Turns the platform's abstract answers into TwiML, the XML Twilio executes.
///
/// The platform answers webhooks with `VoiceInstruction`s and `SmsReply`s, never TwiML, so that
/// another carrier needs only another renderer; this is the one place that knows Twilio's verbs.
/// Everything the platform wrote is escaped, so a caller's words or a tenant's greeting cannot
/// change the document's structure.
///
/// ```swift
/// let renderer = TwiMLRenderer(callbacks: TwilioCallbackURLs(base: configuration.publicURL))
/// let twiml = renderer.voiceResponse(reply.instructions)
/// // <?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello!</Say><Hangup/></Response>
/// ```
public struct TwiMLRenderer: Sendable {
    /// The content type Twilio expects TwiML in.
    public static let contentType = "text/xml; charset=utf-8"

    public let callbacks: TwilioCallbackURLs
    /// The voice of a `Say` that names none, e.g. "Polly.Joanna"; Twilio's default when nil.
    public let defaultVoice: String?
    /// The language of a `Say` or speech `Gather` that names none, e.g. "en-US"; Twilio's default when nil.
    public let defaultLanguage: String?

    public init(callbacks: TwilioCallbackURLs, defaultVoice: String? = nil, defaultLanguage: String? = nil) {
        self.callbacks = callbacks
        self.defaultVoice = defaultVoice.flatMap(Self.nonEmpty)
        self.defaultLanguage = defaultLanguage.flatMap(Self.nonEmpty)
    }

    /// The answer to a voice webhook: the instructions in order. An instruction Twilio could not
    /// act on (no variant set, a Say with nothing to say, a Redirect to a route the bridge does not
    /// serve) is left out rather than failing the whole call.
    public func voiceResponse(_ instructions: [VoiceInstruction]) -> String {
        document(instructions.compactMap { element(for: $0) })
    }

    /// The answer to an inbound text: one `<Message>` per reply; none means no reply.
    ///
    /// No status callback is requested: the platform never learns the SIDs of these replies, so
    /// their statuses could not be matched to anything it logged.
    public func messagingResponse(_ replies: [SmsReply]) -> String {
        document(replies.map { reply in
            var message = TwiMLElement("Message")
            message.attribute("to", Self.nonEmpty(reply.to))
            if reply.mediaUrls.isEmpty {
                message.text = reply.body
            } else {
                // With media, the body must move into a <Body> noun beside the <Media> nouns.
                message.children.append(TwiMLElement("Body", text: reply.body))
                message.children += reply.mediaUrls.map { TwiMLElement("Media", text: $0) }
            }
            return message
        })
    }

    private func document(_ verbs: [TwiMLElement]) -> String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"#
        var response = TwiMLElement("Response")
        response.children = verbs
        response.write(to: &xml)
        return xml
    }

    private func element(for instruction: VoiceInstruction) -> TwiMLElement? {
        switch instruction.instruction {
        case .say(let say): return element(for: say)
        case .gather(let gather): return element(for: gather)
        case .dialSip(let dial):
            let timeout = dial.hasTimeout ? Self.wholeSeconds(dial.timeout.seconds, dial.timeout.nanos) : nil
            let action = dial.hasAction ? callbacks.url(for: dial.action) : nil
            var sip = TwiMLElement("Sip", text: dial.sipUri)
            sip.attribute("username", Self.nonEmpty(dial.username))
            sip.attribute("password", Self.nonEmpty(dial.password))
            return self.dial(sip, callerID: dial.callerID, timeout: timeout, action: action)
        case .dialNumber(let dial):
            let timeout = dial.hasTimeout ? Self.wholeSeconds(dial.timeout.seconds, dial.timeout.nanos) : nil
            let action = dial.hasAction ? callbacks.url(for: dial.action, dialed: dial.number) : nil
            return self.dial(TwiMLElement("Number", text: dial.number), callerID: dial.callerID, timeout: timeout, action: action)
        case .record(let record): return element(for: record)
        case .redirect(let redirect):
            guard let url = callbacks.url(for: redirect.action) else { return nil }
            var element = TwiMLElement("Redirect", text: url)
            element.attribute("method", "POST")
            return element
        case .hangup: return TwiMLElement("Hangup")
        case .pause(let pause):
            var element = TwiMLElement("Pause")
            element.attribute("length", pause.hasLength ? Self.wholeSeconds(pause.length.seconds, pause.length.nanos) : nil)
            return element
        case nil: return nil
        }
    }

    private func element(for say: VoiceInstruction.Say) -> TwiMLElement? {
        guard !say.text.isEmpty else { return nil }
        var element = TwiMLElement("Say", text: say.text)
        element.attribute("voice", Self.nonEmpty(say.voice) ?? defaultVoice)
        element.attribute("language", Self.nonEmpty(say.language) ?? defaultLanguage)
        return element
    }

    private func element(for gather: VoiceInstruction.Gather) -> TwiMLElement {
        let speech = gather.inputs.contains(.speech)
        var inputs = gather.inputs.contains(.digits) || !speech ? ["dtmf"] : []
        if speech { inputs.append("speech") }

        var element = TwiMLElement("Gather")
        element.attribute("input", inputs.joined(separator: " "))
        element.attribute("action", gather.hasAction ? callbacks.url(for: gather.action) : nil)
        element.attribute("method", "POST")
        element.attribute("timeout", gather.hasTimeout ? Self.wholeSeconds(gather.timeout.seconds, gather.timeout.nanos) : nil)
        element.attribute("numDigits", gather.numDigits > 0 ? String(gather.numDigits) : nil)
        // Twilio's default finish key is "#", which would end a one-key gather without the key:
        // a menu could then never offer "#". With one key, nothing needs to end the entry.
        element.attribute("finishOnKey", Self.nonEmpty(gather.finishOnKey) ?? (gather.numDigits == 1 ? "" : nil))
        if speech {
            element.attribute("language", Self.nonEmpty(gather.speechLanguage) ?? defaultLanguage)
            element.attribute("hints", gather.speechHints.isEmpty ? nil : gather.speechHints.joined(separator: ", "))
            // Twilio's own default ends speech at `timeout`; the contract says automatic.
            let speechTimeout = gather.hasSpeechTimeout ? Self.wholeSeconds(gather.speechTimeout.seconds, gather.speechTimeout.nanos) : nil
            element.attribute("speechTimeout", speechTimeout ?? "auto")
        }
        element.attribute("actionOnEmptyResult", gather.actionOnEmptyResult ? "true" : nil)
        element.children = gather.prompts.compactMap { self.element(for: $0) }
        return element
    }

    /// With an `action`, Twilio posts how the dial ended (`DialCallStatus`) there and runs the
    /// TwiML it gets back instead of the rest of this document. Without one, it runs on into the
    /// next instruction, whether or not anyone answered: both as the contract says.
    private func dial(_ target: TwiMLElement, callerID: String = "", timeout: String? = nil, action: String?) -> TwiMLElement {
        var element = TwiMLElement("Dial")
        if let url = action {
            element.attribute("action", url)
            element.attribute("method", "POST")
        }
        element.attribute("timeout", timeout)
        element.attribute("callerId", Self.nonEmpty(callerID))
        element.children = [target]
        return element
    }

    /// The `action` is the status route: without one Twilio would request this call's current URL
    /// again when the recording stops and start the flow over; the status route records what the
    /// request carries and answers an empty `<Response/>`, which ends the call as the contract
    /// says. The recording callback (with the RecordingSid) goes to the same route.
    private func element(for record: VoiceInstruction.Record) -> TwiMLElement {
        var element = TwiMLElement("Record")
        element.attribute("action", callbacks.status)
        element.attribute("method", "POST")
        element.attribute("maxLength", record.hasMaxLength ? Self.wholeSeconds(record.maxLength.seconds, record.maxLength.nanos) : nil)
        element.attribute("timeout", record.hasTimeout ? Self.wholeSeconds(record.timeout.seconds, record.timeout.nanos) : nil)
        element.attribute("finishOnKey", Self.nonEmpty(record.finishOnKey))
        // Twilio beeps by default; the contract's default (false) is silence, so it is always said.
        element.attribute("playBeep", record.playBeep ? "true" : "false")
        element.attribute("transcribe", record.transcribe ? "true" : nil)
        element.attribute("recordingStatusCallback", callbacks.status)
        element.attribute("recordingStatusCallbackMethod", "POST")
        return element
    }

    /// What a caller hears when the platform cannot answer: an apology, then `forwardNumber`
    /// rung, or with no one to ring, a voicemail, whose recording callback waits in the spool
    /// until the platform takes it. The dial's result comes back marked as the bridge's own
    /// (`outageDialResult`), for the bridge to answer: the platform, should it be back by then,
    /// did not plan that dial.
    public func outageResponse(forwardNumber: String?) -> String {
        let say = { (text: String) in VoiceInstruction.with { $0.say = .with { $0.text = text } } }
        var verbs = [say("Thanks for calling. We're having trouble with our phone system right now.")].compactMap(element(for:))
        if let forwardNumber {
            verbs += [say("Please hold while we connect you.")].compactMap(element(for:))
            verbs.append(dial(TwiMLElement("Number", text: forwardNumber), action: callbacks.outageDialResult(dialed: forwardNumber)))
        } else {
            verbs += [say("Please leave a message after the tone, and we'll get back to you.")].compactMap(element(for:))
            verbs.append(element(for: VoiceInstruction.Record.with {
                $0.maxLength = .init(seconds: 120)
                $0.timeout = .init(seconds: 5)
                $0.finishOnKey = "#"
                $0.playBeep = true
            }))
        }
        return document(verbs)
    }

    /// Twilio takes whole seconds; a fraction rounds up so a short wait never becomes none.
    /// nil (the attribute is left out, Twilio's default applies) for zero or negative durations.
    private static func wholeSeconds(_ seconds: Int64, _ nanos: Int32) -> String? {
        let whole = seconds + (nanos > 0 ? 1 : 0)
        return whole > 0 ? String(whole) : nil
    }

    private static func nonEmpty(_ value: String) -> String? {
        value.isEmpty ? nil : value
    }
}

/// One element of a TwiML document, written compactly (as Twilio's own libraries do) with every
/// attribute and text escaped.
private struct TwiMLElement {
    let name: String
    var attributes: [(name: String, value: String)] = []
    var text: String?
    var children: [TwiMLElement] = []

    init(_ name: String, text: String? = nil) {
        self.name = name
        self.text = text
    }

    /// Adds the attribute when it has a value, so optional settings read as one line each.
    mutating func attribute(_ name: String, _ value: String?) {
        if let value { attributes.append((name, value)) }
    }

    func write(to xml: inout String) {
        xml += "<" + name
        for attribute in attributes {
            xml += " \(attribute.name)=\"\(Self.escaped(attribute.value, inAttribute: true))\""
        }
        if text == nil && children.isEmpty {
            xml += "/>"
            return
        }
        xml += ">"
        if let text { xml += Self.escaped(text, inAttribute: false) }
        for child in children { child.write(to: &xml) }
        xml += "</" + name + ">"
    }

    /// Escapes the five XML specials everywhere, keeps tabs and line breaks in attributes as
    /// character references (a parser would turn them into spaces), and drops the characters XML 1.0
    /// cannot carry at all, which would otherwise make Twilio reject the whole document.
    private static func escaped(_ value: String, inAttribute: Bool) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            case "\r": escaped += "&#13;"
            case "\t" where inAttribute: escaped += "&#9;"
            case "\n" where inAttribute: escaped += "&#10;"
            case "\t", "\n": escaped.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}": continue
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
