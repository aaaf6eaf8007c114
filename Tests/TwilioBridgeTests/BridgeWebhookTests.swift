import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(FoundationXML)
import FoundationXML
#endif
import GRPCCore
import Logging
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI
import Testing
import TwilioBridge

/// Signed webhooks over real HTTP to the bridge, against a real platform.
@Suite("Twilio bridge webhooks")
struct BridgeWebhookTests {
    static let acmeNumber = "+19185550101"

    static func sms(_ number: Int, body: String = "Any openings Friday?", to: String = acmeNumber) -> [(String, String)] {
        [("MessageSid", "SM" + String(format: "%032x", number)), ("From", "+15550001111"), ("To", to), ("Body", body), ("NumMedia", "0")]
    }

    static func call(_ number: Int, to: String = acmeNumber) -> [(String, String)] {
        [("CallSid", "CA" + String(format: "%032x", number)), ("From", "+15550001111"), ("To", to), ("CallStatus", "ringing")]
    }

    static func configure(_ platform: TestPlatform, mode: IvrMode) async throws {
        try await platform.createTenant("acme", displayName: "Acme Detailing")
        try await platform.setPlan("acme", .elite)
        _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
            $0.parent = "tenants/acme"
            $0.phoneConfigID = "main"
            $0.phoneConfig = .with { $0.phoneNumber = acmeNumber; $0.ivrMode = mode; $0.forwardNumber = "+19185559999" }
        }, metadata: platform.metadata(platform.ownerToken))
    }

    static func messages(_ platform: TestPlatform) async throws -> [TextMessage] {
        try await CommunicationLogService.Client(wrapping: platform.client).listMessages(
            .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).messages
    }

    static func spoolPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).sqlite").path
    }

    @Test("unsigned, wrongly signed and tampered webhooks get 403 and store nothing")
    func signatures() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                #expect(try await bridge.post("/sms", Self.sms(1), signed: false).status == 403)
                #expect(try await bridge.post("/sms", Self.sms(1), token: "wrong-token").status == 403)
                #expect(try await bridge.post("/twilio/voice/incoming", Self.call(1), signed: false).status == 403)
                #expect(try await Self.messages(platform).isEmpty)

                let bad = try await bridge.post("/sms", [("Body", "x")] + Self.sms(2))
                #expect(bad.status == 200, "a signed form is accepted even with odd extras: \(bad.body)")

                // A SharedKey webhook names its algorithm; one the bridge does not know is refused.
                let sharedKey = try await bridge.post("/sms", Self.sms(3), algorithm: .hmacSHA256, settings: "key=KS1,algorithm=HMAC_SHA256")
                #expect(sharedKey.status == 200, "\(sharedKey.body)")
                #expect(try await bridge.post("/sms", Self.sms(4), algorithm: .hmacSHA256).status == 403, "SHA-256 without the header that names it")
                #expect(try await bridge.post("/sms", Self.sms(5), settings: "key=KS1,algorithm=HMAC_SHA512").status == 403)
                #expect(try await Self.messages(platform).count == 2)
            }
        }
    }

    @Test("a retry storm stores a text once, and the reply is TwiML")
    func smsRetryStorm() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                var bodies: [String] = []
                for _ in 0..<5 {
                    let response = try await bridge.post("/sms", Self.sms(7))
                    #expect(response.status == 200)
                    bodies.append(response.body)
                }
                #expect(bodies[0].contains("<Message>Thanks for texting Acme Detailing!"))
                let document = try XMLDocument(xmlString: bodies[0])
                #expect(document.rootElement()?.name == "Response")
                #expect(try await Self.messages(platform).count == 1)
            }
        }
    }

    @Test("texts that arrive while a call is out go together in the next: each stored once and answered as if alone; one the platform refuses fails alone")
    func textsShareCalls() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            let transport = CountingTransport(try ClientConnection.transport(server: platform.address))
            let client = PlatformClient(transport: transport, bridgeToken: platform.bridgeToken)
            let inboundCalls = { transport.calls.filter { $0.hasSuffix("InboundMessage") || $0.hasSuffix("InboundMessages") } }
            try await TestBridge.with(platform: client, spoolPath: Self.spoolPath()) { bridge in
                // A burst behind a call that is out: the first text's call is held until the
                // others wait behind it, and they share calls.
                var answers = try await Self.burst(1...20, to: bridge, behind: transport, calls: inboundCalls)
                #expect(answers.values.allSatisfy { $0.status == 200 }, "\(answers)")
                var calls = inboundCalls()
                #expect(calls.contains("BatchHandleInboundMessages"), "\(calls)")
                #expect(calls.count < 20, "\(calls)")
                #expect(try await Self.messages(platform).count == 20)

                // A text the platform refuses, in a batch: the batch's texts go again one by
                // one, so only that text's webhook hears it, naming the text's own field.
                transport.hold()
                let before = calls.count
                answers = try await Self.burst(21...30, to: bridge, behind: transport, calls: inboundCalls) { number, form in
                    number == 25 ? form.map { $0.0 == "From" ? ("From", String(repeating: "9", count: 300)) : $0 } : form
                }
                #expect(answers[25]?.status == 400, "\(answers)")
                #expect(answers[25]?.body.hasPrefix("from:") == true, "\(answers[25]?.body ?? "")")
                #expect(answers.filter { $0.key != 25 }.values.allSatisfy { $0.status == 200 }, "\(answers)")
                calls = Array(inboundCalls().dropFirst(before))
                #expect(calls.contains("BatchHandleInboundMessages"), "\(calls)")

                let stored = try await Self.messages(platform)
                #expect(stored.count == 29)
                #expect(Set(stored.map(\.messageSid)).count == 29)
                #expect(!stored.contains { $0.messageSid == Self.sms(25)[0].1 })
                #expect(await bridge.spool.count() == 0)
            }
        }
    }

    /// Posts text `numbers.first`, waits for its call to start (held by `transport`), posts the
    /// rest at once, lets them gather behind it, then releases the calls. Each text's answer.
    static func burst(
        _ numbers: ClosedRange<Int>, to bridge: TestBridge, behind transport: CountingTransport<some ClientTransport>, calls: () -> [String],
        form: @escaping @Sendable (Int, [(String, String)]) -> [(String, String)] = { $1 }
    ) async throws -> [Int: (status: Int, body: String)] {
        let callsBefore = calls().count
        // Released however this ends, so no held call outlives the test.
        defer { transport.release() }
        let first = Task { try await bridge.post("/sms", form(numbers.lowerBound, Self.sms(numbers.lowerBound))) }
        try await poll("the first text's call starts") { calls().count > callsBefore }
        let rest = Task {
            try await withThrowingTaskGroup(of: (Int, (status: Int, body: String)).self) { group in
                for number in numbers.dropFirst() {
                    group.addTask { (number, try await bridge.post("/sms", form(number, Self.sms(number)))) }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        transport.release()
        var answers = try await rest.value
        answers[numbers.lowerBound] = try await first.value
        return answers
    }

    @Test("a picture message keeps its media; one with more than Twilio sends is a 400 and stores nothing")
    func pictureMessages() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                let media = { (count: Int) in (0..<count).map { ("MediaUrl\($0)", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME\($0)") } }
                // An empty MediaUrl is no picture: left out rather than stored as one.
                let picture = try await bridge.post("/sms", Self.sms(8).map { $0.0 == "MessageSid" ? ("MessageSid", "MM" + String(format: "%032x", 8)) : $0 }
                    + media(2) + [("MediaUrl2", "")])
                #expect(picture.status == 200)
                #expect(try await Self.messages(platform).first?.mediaUrls == media(2).map(\.1))

                let tooMany = try await bridge.post("/sms", Self.sms(9) + media(11))
                #expect(tooMany.status == 400, "\(tooMany.body)")
                #expect(tooMany.body.contains("media_urls"), "\(tooMany.body)")
                #expect(try await Self.messages(platform).count == 1)
                #expect(await bridge.spool.count() == 0, "a verdict on the text itself is not kept for later")
            }
        }
    }

    @Test("each IVR mode answers with its TwiML; digits and speech continue the call", arguments: [IvrMode.simple, .ivr, .aiVoice])
    func voiceModes(mode: IvrMode) async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: mode)
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                let answer = try await bridge.post("/twilio/voice/incoming", Self.call(11))
                #expect(answer.status == 200)
                _ = try XMLDocument(xmlString: answer.body)
                switch mode {
                case .simple:
                    #expect(answer.body.contains("<Number>+19185559999</Number>"))
                    // The dial reports how it ended; an answered call then ends, rather than
                    // running on into the voicemail.
                    #expect(answer.body.contains(#"<Dial action="https://bridge.example.com/twilio/voice/dial-result?attempt=1&amp;dialed=%2B19185559999" method="POST""#), "\(answer.body)")
                    #expect(!answer.body.contains("<Record"))
                    let answered = try await bridge.post("/twilio/voice/dial-result?attempt=1", Self.call(11) + [("DialCallStatus", "completed")])
                    #expect(answered.body.contains("<Hangup"), "\(answered.body)")
                    let missed = try await bridge.post("/twilio/voice/dial-result?attempt=1", Self.call(11) + [("DialCallStatus", "no-answer")])
                    #expect(missed.body.contains("<Record"), "\(missed.body)")
                case .ivr:
                    #expect(answer.body.contains("<Gather"))
                    #expect(answer.body.contains(#"action="https://bridge.example.com/twilio/voice/gather?attempt=1&amp;step=0""#), "\(answer.body)")
                    let pressed = try await bridge.post("/twilio/voice/gather?attempt=1&step=0", Self.call(11) + [("Digits", "3")])
                    #expect(pressed.body.contains("<Number>+19185559999</Number>"))
                    // Twilio sending the key press again: the platform records it once.
                    let resent = try await bridge.post("/twilio/voice/gather?attempt=1&step=0", Self.call(11) + [("Digits", "3")])
                    #expect(resent.body == pressed.body)
                    let logged = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                        .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first
                    #expect(logged?.ivrSelections == ["3"])
                    let wrong = try await bridge.post("/twilio/voice/gather?attempt=1", Self.call(11) + [("Digits", "8")])
                    #expect(wrong.body.contains("attempt=2"))
                    // The attempt count is in a URL anyone can edit: out of range, it is clamped.
                    let edited = try await bridge.post("/twilio/voice/gather?attempt=99999999999", Self.call(11) + [("Digits", "8")])
                    #expect(edited.status == 200)
                    #expect(!edited.body.contains("<Gather"), "past the last attempt the menu is not offered again: \(edited.body)")
                default:
                    #expect(answer.body.contains("Acme Detailing"))
                    #expect(answer.body.contains("speech"))
                    let turn = try await bridge.post("/twilio/voice/ai?attempt=1", Self.call(11) + [("SpeechResult", "A full detail please"), ("Confidence", "0.92")])
                    #expect(turn.body.contains("passed that on"))
                    // A number whose voice webhook is /twilio/voice/ai itself: its calls are greeted there.
                    let direct = try await bridge.post("/twilio/voice/ai", Self.call(12))
                    #expect(direct.body.contains("Acme Detailing"), "\(direct.body)")
                    #expect(direct.body.contains(#"action="https://bridge.example.com/twilio/voice/ai?attempt=1""#), "\(direct.body)")
                }
                let status = try await bridge.post("/twilio/status", Self.call(11).filter { $0.0 != "CallStatus" } + [("CallStatus", "completed"), ("CallDuration", "33")])
                #expect(status.status == 200)
                let calls = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                    .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls
                let call = calls.first { $0.callSid == Self.call(11)[0].1 }
                #expect(call?.status == .completed)
                #expect(call?.duration.seconds == 33)
            }
        }
    }

    @Test("a message status callback, as Twilio sends it (MessageStatus and SmsStatus), is recorded, partially_delivered too")
    func messageStatus() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                _ = try await bridge.post("/sms", Self.sms(22))
                let partSid = try #require(Self.sms(22).first { $0.0 == "MessageSid" }?.1)
                let part = try await bridge.post("/twilio/status", [("MessageSid", partSid), ("MessageStatus", "partially_delivered")])
                #expect(part.status == 200)
                #expect(try await Self.messages(platform).first { $0.messageSid == partSid }?.status == .partiallyDelivered)
                _ = try await bridge.post("/sms", Self.sms(21))
                let sid = try #require(Self.sms(21).first { $0.0 == "MessageSid" }?.1)
                let callback = try await bridge.post("/twilio/status", [
                    ("AccountSid", "AC" + String(repeating: "0", count: 32)), ("MessageSid", sid), ("SmsSid", sid),
                    ("MessageStatus", "read"), ("SmsStatus", "read"), ("From", "+15550001111"), ("To", Self.acmeNumber),
                    ("ApiVersion", "2010-04-01"),
                ])
                #expect(callback.status == 200)
                #expect(try await Self.messages(platform).first { $0.messageSid == sid }?.status == .read)
            }
        }
    }

    @Test("a delivery report that overtakes the logging of its text waits in the spool, and moves the text on once it is logged")
    func earlyDeliveryReport() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                let sid = "SM" + String(repeating: "e", count: 32)
                let report = [
                    ("MessageSid", sid), ("SmsSid", sid), ("MessageStatus", "delivered"), ("SmsStatus", "delivered"),
                    ("From", Self.acmeNumber), ("To", "+15550001111"),
                ]
                #expect(try await bridge.post("/twilio/status", report).status == 200)
                #expect(try await bridge.post("/twilio/status", report).status == 200, "sent again, as a retry or a replay would")
                #expect(try await bridge.spool.statusCount() == 1, "the platform does not know the text yet; the same report is kept once")

                // The outbox logs the text once Twilio's answer, with its sid, is back.
                try await platform.database.withTenant("acme") { tx in
                    try await CommunicationRecords.logOutbound(to: "+15550001111", from: Self.acmeNumber, body: "See you Friday", sid: sid, tx)
                }
                try await poll("the report to be replayed") { try await bridge.spool.statusCount() == 0 }
                let logged = try await Self.messages(platform).first { $0.messageSid == sid }
                #expect(logged?.status == .delivered)

                // A report for a text the platform never logged is given up on, once its time is past.
                let stale = RecordMessageStatusRequest.with { $0.messageSid = "SM" + String(repeating: "f", count: 32); $0.status = .delivered }
                let recent = RecordMessageStatusRequest.with { $0.messageSid = "SM" + String(repeating: "d", count: 32); $0.status = .delivered }
                try await bridge.spool.appendStatus(.message(stale), now: Date().addingTimeInterval(-SpooledStatus.messageGrace - 1))
                try await bridge.spool.appendStatus(.message(recent))
                try await poll("the stale report to be dropped") { try await bridge.spool.statusCount() == 1 }
                try await Task.sleep(for: .milliseconds(500))
                let waiting = try await bridge.spool.oldestStatuses()
                #expect(waiting.map(\.status) == [.message(recent)], "a recent one keeps waiting")
            }
        }
    }

    @Test("while the platform refuses the bridge's token, texts wait in the spool and callers get the fallback")
    func refusedToken() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            try await TestBridge.with(platform: platform.address, bridgeToken: "sp_revoked_or_mistyped", spoolPath: Self.spoolPath()) { bridge in
                let text = try await bridge.post("/sms", Self.sms(31))
                #expect(text.status == 200, "Twilio hears nothing is wrong: \(text.body)")
                let call = try await bridge.post("/twilio/voice/incoming", Self.call(31))
                #expect(call.body.contains("<Number>+19185557777</Number>"), "\(call.body)")
                // The drainer retries every 200 ms here; the refusal is no verdict on the text.
                try await Task.sleep(for: .seconds(1))
                #expect(await bridge.spool.count() == 1)
                #expect(try await Self.messages(platform).isEmpty)
            }
        }
    }

    @Test("a bridge inside the platform's process answers the same, through the same key check", arguments: TestBackend.available)
    func inProcessBridge(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await Self.configure(platform, mode: .ivr)
            let client = PlatformClient(transport: platform.server.rpcServer.inProcessClient, bridgeToken: platform.bridgeToken)
            try await TestBridge.with(platform: client, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                var replies: [String] = []
                for _ in 0..<3 {
                    let text = try await bridge.post("/sms", Self.sms(21))
                    #expect(text.status == 200)
                    replies.append(text.body)
                }
                #expect(replies[0].contains("<Message>Thanks for texting Acme Detailing!"))
                #expect(replies.dropFirst().allSatisfy { $0.hasSuffix("<Response/>") }, "Twilio's retries are not acknowledged twice")
                let answer = try await bridge.post("/twilio/voice/incoming", Self.call(21))
                #expect(answer.body.contains("<Gather"))
                let pressed = try await bridge.post("/twilio/voice/gather?attempt=1", Self.call(21) + [("Digits", "3")])
                #expect(pressed.body.contains("<Number>+19185559999</Number>"))
                #expect(await bridge.spool.count() == 0)

                // The in-process transport skips the socket, not authentication: a wrong key is refused.
                let error = await #expect(throws: RPCError.self) {
                    try await InboundService.Client(wrapping: client.grpc).handleInboundMessage(
                        .with { $0.messageSid = "SM" + String(format: "%032x", 22); $0.from = "+15550001111"; $0.to = Self.acmeNumber },
                        metadata: platform.metadata("spk_wrong"))
                }
                #expect(error?.code == .unauthenticated)
            }
            #expect(try await Self.messages(platform).map(\.messageSid) == ["SM" + String(format: "%032x", 21)])
        }
    }

    @Test("once the platform in its process has stopped, texts wait in the spool as for a platform that is down")
    func inProcessBridgeAfterShutdown() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await Self.configure(platform, mode: .simple)
            let client = PlatformClient(transport: platform.server.rpcServer.inProcessClient, bridgeToken: platform.bridgeToken)
            try await TestBridge.with(platform: client, spoolPath: Self.spoolPath()) { bridge in
                try await bridge.waitForPlatform()
                platform.server.rpcServer.beginGracefulShutdown()
                let text = try await bridge.post("/sms", Self.sms(31))
                #expect(text.status == 200, "\(text.body)")
                #expect(await bridge.spool.count() == 1)
                // The drainer retries every 200 ms; the platform stays away, so the text stays.
                try await Task.sleep(for: .milliseconds(700))
                #expect(await bridge.spool.count() == 1)
            }
        }
    }

    @Test("bad bodies are a clear 400")
    func badBodies() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: Self.spoolPath()) { bridge in
                var request = URLRequest(url: URL(string: bridge.base + "/sms")!)
                request.httpMethod = "POST"
                request.httpBody = Data([0x42, 0x6f, 0x64, 0x79, 0x3d, 0xff, 0xfe])
                let (notUTF8Body, notUTF8) = try await URLSession.shared.data(for: request)
                #expect((notUTF8 as? HTTPURLResponse)?.statusCode == 400)
                #expect(String(decoding: notUTF8Body, as: UTF8.self) == "the request body is not UTF-8\n")
                // Just over the limit, as Twilio would never send it: a form body of one long text.
                request.httpBody = Data(("Body=" + String(repeating: "a", count: 70_000)).utf8)
                let (tooLargeBody, tooLarge) = try await URLSession.shared.data(for: request)
                #expect((tooLarge as? HTTPURLResponse)?.statusCode == 400)
                #expect(String(decoding: tooLargeBody, as: UTF8.self) == "the request body is larger than 65536 bytes\n")
            }
        }
    }
}
