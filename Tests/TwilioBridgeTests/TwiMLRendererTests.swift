import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ServiceProAPI
import SwiftProtobuf
import Testing
import TwilioBridge

/// Every instruction renders to the TwiML verb Twilio documents, the output is well-formed XML,
/// and nothing the platform writes can change the document's structure.
@Suite("TwiML renderer")
struct TwiMLRendererTests {
    let renderer = TwiMLRenderer(callbacks: TwilioCallbackURLs(base: "https://bridge.example.com/"))

    // MARK: Voice

    @Test("Say, with its voice and language or the bridge's defaults")
    func say() throws {
        let response = try parse(renderer.voiceResponse([.say("Hello!", voice: "Polly.Joanna", language: "en-US")]))
        let say = try #require(response.only("Say"))
        #expect(say.stringValue == "Hello!")
        #expect(attributes(of: say) == ["voice": "Polly.Joanna", "language": "en-US"])

        #expect(try attributes(of: #require(parse(renderer.voiceResponse([.say("Hi")])).only("Say"))) == [:])
        let withDefaults = TwiMLRenderer(callbacks: TwilioCallbackURLs(), defaultVoice: "Polly.Amy", defaultLanguage: "en-GB")
        #expect(try attributes(of: #require(parse(withDefaults.voiceResponse([.say("Hi")])).only("Say"))) == ["voice": "Polly.Amy", "language": "en-GB"])
        #expect(try attributes(of: #require(parse(withDefaults.voiceResponse([.say("Hola", language: "es-ES")])).only("Say"))) == ["voice": "Polly.Amy", "language": "es-ES"])
    }

    @Test("a digits Gather: action with the attempt, numDigits, timeout, finishOnKey and its prompts nested")
    func gatherDigits() throws {
        var gather = VoiceInstruction.Gather()
        gather.action = .with { $0.route = .ivrSelection; $0.attempt = 2 }
        gather.numDigits = 1
        gather.timeout = .init(seconds: 5)
        gather.finishOnKey = "#"
        gather.prompts = [.with { $0.text = "Press 1 for prices." }, .with { $0.text = "Press 2 for a booking link." }]
        let response = try parse(renderer.voiceResponse([.with { $0.gather = gather }]))
        let element = try #require(response.only("Gather"))
        #expect(attributes(of: element) == [
            "input": "dtmf", "action": "https://bridge.example.com/twilio/voice/gather?attempt=2", "method": "POST",
            "timeout": "5", "numDigits": "1", "finishOnKey": "#",
        ])
        #expect(element.elements(forName: "Say").map { $0.stringValue ?? "" } == ["Press 1 for prices.", "Press 2 for a booking link."])

        // One key and no finish key: "#" is a key like any other, not Twilio's default end.
        gather.finishOnKey = ""
        let oneKey = try #require(parse(renderer.voiceResponse([.with { $0.gather = gather }])).only("Gather"))
        #expect(attributes(of: oneKey)["finishOnKey"] == "")
    }

    @Test("a speech Gather: input, language, hints, speechTimeout (auto when unset), actionOnEmptyResult")
    func gatherSpeech() throws {
        var gather = VoiceInstruction.Gather()
        gather.inputs = [.speech]
        gather.action = .with { $0.route = .aiVoiceTurn; $0.attempt = 1 }
        gather.speechLanguage = "en-US"
        gather.speechHints = ["ceramic coating", "detail"]
        gather.actionOnEmptyResult = true
        gather.prompts = [.with { $0.text = "How can I help?"; $0.voice = "Polly.Joanna" }]
        let element = try #require(parse(renderer.voiceResponse([.with { $0.gather = gather }])).only("Gather"))
        #expect(attributes(of: element) == [
            "input": "speech", "action": "https://bridge.example.com/twilio/voice/ai?attempt=1", "method": "POST",
            "language": "en-US", "hints": "ceramic coating, detail", "speechTimeout": "auto", "actionOnEmptyResult": "true",
        ])
        #expect(try attributes(of: #require(element.only("Say"))) == ["voice": "Polly.Joanna"])

        gather.inputs = [.digits, .speech]
        gather.speechTimeout = .init(seconds: 2, nanos: 500_000_000)
        let both = try #require(parse(renderer.voiceResponse([.with { $0.gather = gather }])).only("Gather"))
        #expect(attributes(of: both)["input"] == "dtmf speech")
        #expect(attributes(of: both)["speechTimeout"] == "3", "a fraction of a second rounds up")
    }

    @Test("Dial a SIP endpoint or a number, with timeout and callerId when given")
    func dial() throws {
        var sip = VoiceInstruction.DialSip()
        sip.sipUri = "sip:owner@cleanmachine.sip.twilio.com"
        sip.timeout = .init(seconds: 20)
        var number = VoiceInstruction.DialNumber()
        number.number = "+15551230001"
        number.callerID = "+15559870002"
        let response = try parse(renderer.voiceResponse([.with { $0.dialSip = sip }, .with { $0.dialNumber = number }]))
        let dials = response.elements(forName: "Dial")
        try #require(dials.count == 2)
        #expect(attributes(of: dials[0]) == ["timeout": "20"])
        #expect(dials[0].only("Sip")?.stringValue == "sip:owner@cleanmachine.sip.twilio.com")
        #expect(attributes(of: dials[1]) == ["callerId": "+15559870002"])
        #expect(dials[1].only("Number")?.stringValue == "+15551230001")

        // With an action, Twilio posts the outcome there instead of running on, with the number
        // rung, so that in an outage the bridge does not ring it again.
        number.action = .with { $0.route = .dialResult; $0.attempt = 2 }
        let reported = try #require(parse(renderer.voiceResponse([.with { $0.dialNumber = number }])).only("Dial"))
        #expect(attributes(of: reported) == [
            "action": "https://bridge.example.com/twilio/voice/dial-result?attempt=2&dialed=%2B15551230001", "method": "POST", "callerId": "+15559870002",
        ])
        sip.action = .with { $0.route = .dialResult; $0.attempt = 1 }
        let sipReported = try #require(parse(renderer.voiceResponse([.with { $0.dialSip = sip }])).only("Dial"))
        #expect(attributes(of: sipReported)["action"] == "https://bridge.example.com/twilio/voice/dial-result?attempt=1")
        #expect(attributes(of: try #require(sipReported.only("Sip"))).isEmpty, "no credential, no attributes")

        // An endpoint that asks for a credential gets it, escaped as any attribute.
        sip.username = "owner"
        sip.password = "s3cret & \"more\""
        let authenticated = try #require(parse(renderer.voiceResponse([.with { $0.dialSip = sip }])).only("Dial")?.only("Sip"))
        #expect(attributes(of: authenticated) == ["username": "owner", "password": "s3cret & \"more\""])
        #expect(authenticated.stringValue == "sip:owner@cleanmachine.sip.twilio.com")
    }

    @Test("outage: an apology, then the forward number, or with none a voicemail")
    func outage() throws {
        let forwarding = try parse(renderer.outageResponse(forwardNumber: "+19185559999"))
        #expect(children(of: forwarding) == ["Say", "Say", "Dial"])
        let dial = try #require(forwarding.only("Dial"))
        #expect(dial.only("Number")?.stringValue == "+19185559999")
        // Its result comes back to the bridge, marked as its own dial.
        #expect(attributes(of: dial) == ["action": "https://bridge.example.com/twilio/voice/dial-result?outage=1&dialed=%2B19185559999", "method": "POST"])

        let voicemail = try parse(renderer.outageResponse(forwardNumber: nil))
        #expect(children(of: voicemail) == ["Say", "Say", "Record"])
        #expect(voicemail.elements(forName: "Say").last?.stringValue?.contains("leave a message") == true)
        let record = try #require(voicemail.only("Record"))
        #expect(attributes(of: record)["action"] == "https://bridge.example.com/twilio/status")
        #expect(attributes(of: record)["recordingStatusCallback"] == "https://bridge.example.com/twilio/status")
        #expect(attributes(of: record)["playBeep"] == "true")
    }

    @Test("Record: a voicemail that ends at the status route, its recording reported there")
    func record() throws {
        var record = VoiceInstruction.Record()
        record.maxLength = .init(seconds: 120)
        record.timeout = .init(seconds: 5)
        record.finishOnKey = "#"
        record.playBeep = true
        record.transcribe = true
        let element = try #require(parse(renderer.voiceResponse([.with { $0.record = record }])).only("Record"))
        #expect(attributes(of: element) == [
            "action": "https://bridge.example.com/twilio/status", "method": "POST", "maxLength": "120", "timeout": "5",
            "finishOnKey": "#", "playBeep": "true", "transcribe": "true",
            "recordingStatusCallback": "https://bridge.example.com/twilio/status", "recordingStatusCallbackMethod": "POST",
        ])
        let silent = try #require(parse(renderer.voiceResponse([.with { $0.record = .init() }])).only("Record"))
        #expect(attributes(of: silent)["playBeep"] == "false", "the contract's default is no beep; Twilio's is a beep")
        #expect(attributes(of: silent)["maxLength"] == nil)
    }

    @Test("Redirect, Hangup and Pause")
    func redirectHangupPause() throws {
        let redirect = VoiceInstruction.Redirect.with { $0.action = .with { $0.route = .incoming; $0.attempt = 3 } }
        let pause = VoiceInstruction.Pause.with { $0.length = .init(seconds: 2) }
        let response = try parse(renderer.voiceResponse([
            .with { $0.pause = pause }, .with { $0.redirect = redirect }, .with { $0.hangup = .init() },
        ]))
        #expect(children(of: response) == ["Pause", "Redirect", "Hangup"])
        #expect(try attributes(of: #require(response.only("Pause"))) == ["length": "2"])
        let element = try #require(response.only("Redirect"))
        #expect(element.stringValue == "https://bridge.example.com/twilio/voice/incoming?attempt=3")
        #expect(attributes(of: element) == ["method": "POST"])
    }

    @Test("the document: the XML declaration, compact verbs in order")
    func exactDocument() {
        let relative = TwiMLRenderer(callbacks: TwilioCallbackURLs())
        let gather = VoiceInstruction.Gather.with { $0.action = .with { $0.route = .ivrSelection }; $0.numDigits = 1 }
        #expect(relative.voiceResponse([.say("Hi"), .with { $0.gather = gather }, .with { $0.hangup = .init() }]) == """
            <?xml version="1.0" encoding="UTF-8"?><Response><Say>Hi</Say>\
            <Gather input="dtmf" action="/twilio/voice/gather" method="POST" numDigits="1" finishOnKey=""/><Hangup/></Response>
            """)
        #expect(relative.voiceResponse([]) == #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
    }

    @Test("instructions Twilio could not act on are left out")
    func skipped() throws {
        let unknownRoute = VoiceInstruction.Redirect.with { $0.action = .with { $0.route = .unspecified } }
        let response = try parse(renderer.voiceResponse([
            VoiceInstruction(), .say(""), .with { $0.redirect = unknownRoute }, .say("Goodbye."),
        ]))
        #expect(children(of: response) == ["Say"])
    }

    // MARK: Messaging

    @Test("SMS replies: one <Message> each, media as <Body> and <Media>, none as an empty response")
    func messaging() throws {
        let response = try parse(renderer.messagingResponse([
            .with { $0.body = "Thanks! We'll text you back." },
            .with { $0.body = "Here is our price list."; $0.to = "+15551230001"; $0.mediaUrls = ["https://example.com/a.png", "https://example.com/b.png"] },
        ]))
        let messages = response.elements(forName: "Message")
        try #require(messages.count == 2)
        #expect(messages[0].stringValue == "Thanks! We'll text you back.")
        #expect(attributes(of: messages[0]) == [:])
        #expect(attributes(of: messages[1]) == ["to": "+15551230001"])
        #expect(messages[1].only("Body")?.stringValue == "Here is our price list.")
        #expect(messages[1].elements(forName: "Media").map { $0.stringValue ?? "" } == ["https://example.com/a.png", "https://example.com/b.png"])

        #expect(renderer.messagingResponse([]) == #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
        #expect(try parse(renderer.messagingResponse([])).childCount == 0)
    }

    // MARK: Escaping

    @Test("text and attributes are escaped: <&>\"' cannot break out")
    func escaping() throws {
        let hostile = #"Tom & Jerry's <b>"deal"</b> </Say><Hangup/>"#
        let xml = renderer.voiceResponse([.say(hostile, voice: #"a"b<c>&'d"#)])
        #expect(xml.contains("Tom &amp; Jerry&apos;s &lt;b&gt;&quot;deal&quot;&lt;/b&gt; &lt;/Say&gt;&lt;Hangup/&gt;"))
        #expect(xml.contains(#"voice="a&quot;b&lt;c&gt;&amp;&apos;d""#))
        let response = try parse(xml)
        #expect(children(of: response) == ["Say"])
        let say = try #require(response.only("Say"))
        #expect(say.stringValue == hostile)
        #expect(attributes(of: say)["voice"] == #"a"b<c>&'d"#)

        let sms = try parse(renderer.messagingResponse([.with { $0.body = "<&>\"'" }]))
        #expect(sms.only("Message")?.stringValue == "<&>\"'")
    }

    @Test("line breaks survive in attributes; characters XML cannot carry are dropped")
    func awkwardCharacters() throws {
        var gather = VoiceInstruction.Gather()
        gather.inputs = [.speech]
        gather.action = .with { $0.route = .aiVoiceTurn }
        gather.speechHints = ["two\nlines", "tab\there"]
        let xml = renderer.voiceResponse([.say("bell\u{7} and\nnew line, café 👋"), .with { $0.gather = gather }])
        let response = try parse(xml)
        #expect(response.only("Say")?.stringValue == "bell and\nnew line, café 👋")
        #expect(try attributes(of: #require(response.only("Gather")))["hints"] == "two\nlines, tab\there")
    }

    // MARK: Callback URLs

    @Test("callbacks map to the bridge's routes, the attempt as a query parameter")
    func callbackURLs() {
        let absolute = TwilioCallbackURLs(base: "https://example.com/bridge//")
        #expect(absolute.url(for: .with { $0.route = .incoming; $0.attempt = 1 }) == "https://example.com/bridge/twilio/voice/incoming?attempt=1")
        #expect(absolute.url(for: .with { $0.route = .ivrSelection; $0.attempt = 2 }) == "https://example.com/bridge/twilio/voice/gather?attempt=2")
        #expect(absolute.url(for: .with { $0.route = .aiVoiceTurn }) == "https://example.com/bridge/twilio/voice/ai")
        #expect(absolute.url(for: .with { $0.route = .unspecified; $0.attempt = 1 }) == nil)
        #expect(absolute.url(for: .with { $0.route = .UNRECOGNIZED(9) }) == nil)
        #expect(absolute.status == "https://example.com/bridge/twilio/status")
        #expect(TwilioCallbackURLs().url(for: .with { $0.route = .ivrSelection; $0.attempt = 1 }) == "/twilio/voice/gather?attempt=1")
        #expect(TwilioCallbackURLs().url(for: .with { $0.route = .ivrSelection; $0.attempt = 1; $0.step = 0 }) == "/twilio/voice/gather?attempt=1&step=0")
        #expect(TwilioCallbackURLs(base: nil).status == "/twilio/status")
        #expect(absolute.url(for: .with { $0.route = .dialResult; $0.attempt = 3 }, dialed: "+19185559999")
            == "https://example.com/bridge/twilio/voice/dial-result?attempt=3&dialed=%2B19185559999")
        #expect(absolute.outageDialResult(dialed: "+19185559999") == "https://example.com/bridge/twilio/voice/dial-result?outage=1&dialed=%2B19185559999")
    }

    // MARK: Helpers

    private func parse(_ xml: String) throws -> XMLElement {
        #expect(xml.hasPrefix(#"<?xml version="1.0" encoding="UTF-8"?>"#))
        let document = try XMLDocument(xmlString: xml, options: [])
        let root = try #require(document.rootElement())
        #expect(root.name == "Response")
        return root
    }

    private func attributes(of element: XMLElement) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (element.attributes ?? []).map { ($0.name ?? "", $0.stringValue ?? "") })
    }

    private func children(of element: XMLElement) -> [String] {
        (element.children ?? []).compactMap(\.name)
    }
}

extension XMLElement {
    /// The one child element with this name; nil when there is none or more than one.
    fileprivate func only(_ name: String) -> XMLElement? {
        let found = elements(forName: name)
        return found.count == 1 ? found[0] : nil
    }
}

extension VoiceInstruction {
    fileprivate static func say(_ text: String, voice: String = "", language: String = "") -> VoiceInstruction {
        .with { $0.say = .with { $0.text = text; $0.voice = voice; $0.language = language } }
    }

    @Test("a bridge's public URL is its base: a webhook's own URL, a query or a fragment is refused, as each would fail every signature check")
    func callableBases() {
        for base in ["https://bridge.example.com", "https://bridge.example.com/", "https://example.com/twilio-bridge", "http://127.0.0.1:8080"] {
            #expect(TwilioCallbackURLs.isCallable(base), "\(base)")
        }
        for base in ["https://bridge.example.com/sms", "https://bridge.example.com/twilio/voice/incoming/", "https://bridge.example.com/twilio/status",
                     "https://bridge.example.com/?x=1", "https://bridge.example.com/#top", "bridge.example.com", "ftp://bridge.example.com"] {
            #expect(!TwilioCallbackURLs.isCallable(base), "\(base)")
        }
    }
}
