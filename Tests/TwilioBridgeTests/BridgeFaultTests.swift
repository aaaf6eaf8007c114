import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SQLiteNIO
import Testing
import TwilioBridge

/// Never a 5xx to Twilio: with the platform stopped, callers get the fallback within the
/// deadline and texts are spooled; once it is back, the spool drains, each text stored once.
@Suite("Twilio bridge faults")
struct BridgeFaultTests {
    /// A platform that can be stopped and started again on the same port and store.
    final class RestartablePlatform: @unchecked Sendable {
        let home: URL
        let port: Int
        private var task: Task<Void, any Error>?
        private var server: PlatformServer?

        init() {
            home = FileManager.default.temporaryDirectory.appendingPathComponent("restartable-\(UUID().uuidString)")
            port = TestPorts.unused()
        }

        var address: String { "127.0.0.1:\(port)" }

        func token(_ file: String) throws -> String {
            try String(contentsOfFile: home.appendingPathComponent(file).path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func start() async throws {
            var logger = Logger(label: "test.restartable")
            logger.logLevel = .critical
            let server = try await PlatformServer.start(
                .init(home: home.path, host: "127.0.0.1", port: port, spctlConfigPath: nil), logger: logger)
            self.server = server
            task = Task { try await server.run() }
            _ = try await server.rpcServer.listeningPort
        }

        func stop() async {
            server?.rpcServer.beginGracefulShutdown()
            _ = await task?.result
            server = nil
        }

        func call<Result: Sendable>(_ body: (GRPCClient<HTTP2ClientTransport.Posix>, Metadata) async throws -> Result) async throws -> Result {
            try await ClientConnection.with(server: address) { client in try await body(client, ClientConnection.bearer(try token("owner.token"))) }
        }
    }

    /// A platform server of its own, running, with tenant acme on BridgeWebhookTests.acmeNumber,
    /// forwarded to +19185559999.
    static func platformWithAcme() async throws -> RestartablePlatform {
        let platform = RestartablePlatform()
        try await platform.start()
        try await platform.call { client, owner in
            _ = try await TenantService.Client(wrapping: client).createTenant(.with {
                $0.tenantID = "acme"; $0.tenant = .with { $0.displayName = "Acme Detailing" }
            }, metadata: owner)
            _ = try await PhoneConfigService.Client(wrapping: client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"; $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = BridgeWebhookTests.acmeNumber; $0.forwardNumber = "+19185559999" }
            }, metadata: owner)
        }
        return platform
    }

    @Test("platform down: fallback TwiML in time and texts spooled; back up: spool drained exactly once")
    func platformOutage() async throws {
        let platform = try await Self.platformWithAcme()
        defer { try? FileManager.default.removeItem(at: platform.home) }
        let spool = BridgeWebhookTests.spoolPath()
        try await TestBridge.with(platform: platform.address, bridgeToken: try platform.token("bridge.token"), spoolPath: spool) { bridge in
            try await bridge.waitForPlatform()
            // Up: a call teaches the bridge the forward number; a text goes straight through.
            _ = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(1))
            _ = try await bridge.post("/sms", BridgeWebhookTests.sms(1, body: "first"))

            await platform.stop()
            let started = ContinuousClock.now
            let call = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(2))
            #expect(call.status == 200)
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(call.body.contains("trouble"))
            #expect(call.body.contains("<Number>+19185559999</Number>"), "the last-known forward number: \(call.body)")
            // A dial that was answered ended the conversation: the call ends, not rung through again.
            let talked = try await bridge.post("/twilio/voice/dial-result?attempt=1", BridgeWebhookTests.call(2) + [("DialCallStatus", "completed")])
            #expect(talked.status == 200)
            #expect(talked.body.contains("<Hangup/>") && !talked.body.contains("<Dial"), "\(talked.body)")
            // A desk phone nobody picked up: the forward number is rung, and its result comes back
            // to the bridge as its own dial.
            let missed = try await bridge.post("/twilio/voice/dial-result?attempt=1", BridgeWebhookTests.call(2) + [("DialCallStatus", "no-answer")])
            #expect(missed.body.contains("<Number>+19185559999</Number>"), "an unanswered dial still gets the fallback: \(missed.body)")
            #expect(missed.body.contains("dial-result?outage=1&amp;dialed=%2B19185559999"), "\(missed.body)")
            // The forward number itself unanswered, whoever dialled it: not rung again, a voicemail instead.
            for path in ["/twilio/voice/dial-result?attempt=2&dialed=%2B19185559999", "/twilio/voice/dial-result?outage=1&dialed=%2B19185559999"] {
                let unanswered = try await bridge.post(path, BridgeWebhookTests.call(2) + [("DialCallStatus", "no-answer")])
                #expect(!unanswered.body.contains("<Dial") && unanswered.body.contains("<Record"), "\(path): \(unanswered.body)")
            }
            let answered = try await bridge.post("/twilio/voice/dial-result?outage=1&dialed=%2B19185559999", BridgeWebhookTests.call(2) + [("DialCallStatus", "completed")])
            #expect(answered.body.contains("<Hangup/>") && !answered.body.contains("<Record"), "\(answered.body)")
            for number in 2...4 {
                let text = try await bridge.post("/sms", BridgeWebhookTests.sms(number, body: "while down \(number)"))
                #expect(text.status == 200)
            }
            _ = try await bridge.post("/sms", BridgeWebhookTests.sms(3, body: "while down 3"))  // Twilio's retry
            // A first text from a new number, whose acknowledgement can no longer go back in TwiML.
            let newcomer = BridgeWebhookTests.sms(5, body: "hello from a new number").map { $0.0 == "From" ? ("From", "+15550005555") : $0 }
            _ = try await bridge.post("/sms", newcomer)
            #expect(await bridge.spool.count() == 4)
            // The fallback call ends with a voicemail: its status, which Twilio never sends again, waits too.
            let ended = BridgeWebhookTests.call(2).filter { $0.0 != "CallStatus" } + [
                ("CallStatus", "completed"), ("CallDuration", "61"),
                ("RecordingUrl", "https://api.twilio.com/recordings/RE1"), ("RecordingSid", "RE" + String(repeating: "1", count: 32)), ("RecordingDuration", "20"),
            ]
            #expect(try await bridge.post("/twilio/status", ended).status == 200)
            // So does a text's delivery report.
            let firstSid = BridgeWebhookTests.sms(1)[0].1
            #expect(try await bridge.post("/twilio/status", [("MessageSid", firstSid), ("MessageStatus", "read")]).status == 200)
            #expect(try await bridge.spool.statusCount() == 2)

            try await platform.start()
            try await poll("the spool drains", within: .seconds(10)) { try await bridge.spool.count() + bridge.spool.statusCount() == 0 }
            let stored = try await platform.call { client, owner in
                try await CommunicationLogService.Client(wrapping: client).listMessages(.with { $0.parent = "tenants/acme" }, metadata: owner).messages
            }
            // Each once, listed newest first by when the bridge received it, which the spool
            // keeps; the order of the replay itself is SpoolLineTests' to show. (The newcomer's
            // acknowledgement joins the log as an outbound text once the outbox has sent it.)
            #expect(stored.filter { $0.direction == .inbound }.map(\.body) == ["hello from a new number", "while down 4", "while down 3", "while down 2", "first"])
            #expect(stored.first { $0.messageSid == firstSid }?.status == .read, "the delivery report spooled during the outage")
            let queued = try await platform.call { client, owner in
                try await OutboxService.Client(wrapping: client).listOutboxMessages(.with { $0.parent = "tenants/acme" }, metadata: owner).outboxMessages
            }
            #expect(queued.map(\.recipient) == ["+15550005555"], "the replay's acknowledgement goes through the outbox")
            // The result of the bridge's own dial stays the bridge's to answer, the platform back or not.
            let late = try await bridge.post("/twilio/voice/dial-result?outage=1&dialed=%2B19185559999", BridgeWebhookTests.call(2) + [("DialCallStatus", "busy")])
            #expect(late.body.contains("trouble") && late.body.contains("<Record"), "\(late.body)")

            // The call answered by the fallback reaches the call log with its final status and voicemail.
            let calls = try await platform.call { client, owner in
                try await CommunicationLogService.Client(wrapping: client).listCalls(.with { $0.parent = "tenants/acme" }, metadata: owner).calls
            }
            let fallback = calls.first { $0.callSid == BridgeWebhookTests.call(2).first { $0.0 == "CallSid" }?.1 }
            #expect(fallback?.status == .completed)
            #expect(fallback?.duration.seconds == 61)
            #expect(fallback?.recordingURL == "https://api.twilio.com/recordings/RE1")
        }
        await platform.stop()
    }

    /// How a bridge reaches a platform that never answers: over a socket, as twilio-bridge does,
    /// or over the in-process transport, as a bridge inside platform-server does.
    enum HangingTransport: String, CaseIterable, Sendable {
        case http2, inProcess = "in-process"
    }

    @Test("platform hanging: at the deadline, callers get the fallback, texts are spooled and Stripe hears 503", arguments: HangingTransport.allCases)
    func platformHangs(transport: HangingTransport) async throws {
        let deadline = Duration.milliseconds(600)
        let spool = BridgeWebhookTests.spoolPath()
        switch transport {
        case .http2:
            try await SilentServer.with { platform in
                try await TestBridge.with(platform: platform.address, bridgeToken: "any", spoolPath: spool, platformDeadline: deadline) { bridge in
                    try await Self.expectFallbacks(from: bridge, deadline: deadline)
                }
            }
        case .inProcess:
            try await HangingPlatform.with { client in
                try await TestBridge.with(platform: client, spoolPath: spool, platformDeadline: deadline) { bridge in
                    try await Self.expectFallbacks(from: bridge, deadline: deadline)
                }
            }
        }
    }

    /// The bounds leave seconds of slack for a loaded test run; without the deadline, each answer
    /// would wait for the client's own 60 s timeout.
    private static func expectFallbacks(from bridge: TestBridge, deadline: Duration) async throws {
        var started = ContinuousClock.now
        let call = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(1))
        var waited = ContinuousClock.now - started
        #expect(call.status == 200)
        #expect(call.body.contains("trouble"))
        #expect(call.body.contains("<Number>+19185557777</Number>"), "no forward number learned, so the platform-wide one: \(call.body)")
        #expect(waited >= deadline && waited < deadline + .seconds(5), "answered after \(waited)")

        started = ContinuousClock.now
        let text = try await bridge.post("/sms", BridgeWebhookTests.sms(1))
        waited = ContinuousClock.now - started
        #expect(text.status == 200)
        #expect(waited >= deadline && waited < deadline + .seconds(5), "answered after \(waited)")
        #expect(await bridge.spool.count() == 1)

        let payload = Data(#"{"id": "evt_hang", "object": "event", "type": "customer.subscription.created"}"#.utf8)
        let stripe = try await StripeWebhookRouteTests.post(bridge, payload, signature: "t=1,v1=00")
        #expect(stripe.status == 503, "Stripe retries a 503: \(stripe.body)")

        started = ContinuousClock.now
        let (health, _) = try await URLSession.shared.data(from: URL(string: bridge.base + "/healthz")!)
        #expect(String(decoding: health, as: UTF8.self).contains(#""platform":"unreachable""#))
        #expect(ContinuousClock.now - started < .seconds(7), "the health check gives up after 2 s")
    }

    @Test("texts waiting behind a call that hangs are each answered at their own deadline, in a batch with older texts too")
    func queuedTextsKeepTheirDeadlines() async throws {
        let deadline = Duration.seconds(4)
        try await HangingPlatform.with { client in
            try await TestBridge.with(platform: client, spoolPath: BridgeWebhookTests.spoolPath(), platformDeadline: deadline) { bridge in
                // Text 1's call hangs until its deadline, 4 s on; texts 2 and 3, posted 1 s and
                // 3 s on, wait for it, then go together in one call that hangs too.
                let posted = ContinuousClock.now
                let timed = { @Sendable (number: Int, after: Duration) in
                    try await Task.sleep(until: posted + after)
                    let started = ContinuousClock.now
                    let answer = try await bridge.post("/sms", BridgeWebhookTests.sms(number))
                    return (answer.status, ContinuousClock.now - started)
                }
                async let first = timed(1, .zero)
                async let second = timed(2, .seconds(1))
                async let third = timed(3, .seconds(3))
                let answers = try await [first, second, third]
                for (number, (status, waited)) in zip(1..., answers) {
                    #expect(status == 200)
                    // Text 2 is answered 1 s after its batch's call started, text 3 with its
                    // full 4 s although its batch holds text 2; neither waits for text 1's call
                    // and then a deadline of its own.
                    #expect(waited >= deadline - .milliseconds(100) && waited < deadline + .milliseconds(1_500), "text \(number) answered after \(waited)")
                }
                #expect(await bridge.spool.count() == 3)
            }
        }
    }

    @Test("a second bridge on the same spool file fails to start, saying why; the first keeps it")
    func spoolHasOneOwner() async throws {
        let path = BridgeWebhookTests.spoolPath()
        let logger = Logger(label: "test.spool")
        let owner = try await MessageSpool.open(path: path, logger: logger)
        await #expect(throws: MessageSpool.InUse.self) { _ = try await MessageSpool.open(path: path, logger: logger) }
        try await owner.append(.with { $0.messageSid = "SM" + String(repeating: "3", count: 32); $0.body = "still mine" })
        #expect(await owner.count() == 1)
        try await owner.close()
        let next = try await MessageSpool.open(path: path, logger: logger)
        #expect(await next.count() == 1, "free again once the first closed")
        try await next.close()
    }

    @Test("a spooled text that cannot be read back is moved aside, and the texts behind it still go")
    func unreadableSpooledText() async throws {
        let path = BridgeWebhookTests.spoolPath()
        let logger = Logger(label: "test.spool")
        let first = try await MessageSpool.open(path: path, logger: logger)
        try await first.append(.with { $0.messageSid = "SM" + String(repeating: "4", count: 32); $0.body = "readable" })
        try await first.close()
        // By hand, ahead of it: bytes that are no request (a varint cut short).
        let raw = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await raw.query("INSERT INTO spooled_messages (sequence, message_sid, request) VALUES (0, 'SMbroken', x'FFFF')", [])
        try await raw.close()

        let spool = try await MessageSpool.open(path: path, logger: logger)
        #expect(await spool.count() == 2)
        let oldest = try #require(try await spool.oldest())
        #expect(oldest.request.body == "readable")
        #expect(await spool.count() == 1)
        try await spool.close()
        let check = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let aside = try await check.query("SELECT message_sid FROM unreadable_messages", [])
        try await check.close()
        #expect(aside.compactMap { $0.column("message_sid")?.string } == ["SMbroken"], "kept for an operator, not deleted")
    }

    @Test("the fallback follows the forward number the platform gives, never rings the number just rung, and gives a line without one no other business's number")
    func fallbackForgets() {
        let fallback = VoiceFallback(platformWideNumber: "+19185557777")
        #expect(fallback.remember(forwardNumber: "+19185559999", for: "+19185550101"), "news, to be kept")
        #expect(fallback.remember(forwardNumber: "+19185559999", for: "+19185550101"), "not kept yet: written again")
        fallback.saved(forwardNumber: "+19185559999", for: "+19185550101")
        #expect(!fallback.remember(forwardNumber: "+19185559999", for: "+19185550101"), "kept already")
        fallback.remember(forwardNumber: "+19185558888", for: "+19185550101")
        fallback.saved(forwardNumber: "+19185559999", for: "+19185550101")  // an older write landing last
        #expect(fallback.remember(forwardNumber: "+19185558888", for: "+19185550101"), "the file holds an older number: written again")
        fallback.saved(forwardNumber: "+19185558888", for: "+19185550101")
        fallback.remember(forwardNumber: "+19185559999", for: "+19185550101")
        #expect(fallback.forwardNumber(for: "+19185550101") == "+19185559999")
        #expect(fallback.forwardNumber(for: "+19185550101", after: "+15551230001") == "+19185559999")
        #expect(fallback.forwardNumber(for: "+19185550101", after: "+19185559999") == nil)
        #expect(fallback.forwardNumber(for: "+19185550101", after: nil) == "+19185559999")
        #expect(fallback.forwardNumber(for: "+19185550199") == "+19185557777", "a number the bridge has not heard of")
        #expect(fallback.remember(forwardNumber: "", for: "+19185550101"), "news: the line has none now")
        #expect(fallback.forwardNumber(for: "+19185550101") == nil, "a voicemail, not the platform-wide number")
        #expect(VoiceFallback(platformWideNumber: "+19185557777", lastKnown: ["+19185550101": ""]).forwardNumber(for: "+19185550101") == nil, "after a restart too")
    }

    @Test("the platform's list of lines replaces what the bridge knew, except what a reply gave after the list was read")
    func fallbackAdoptsTheLines() {
        let fallback = VoiceFallback(platformWideNumber: "+19185557777", lastKnown: ["+19185550101": "+19185559999", "+19185550150": "+19185551111"])
        let readStart = ContinuousClock.now
        fallback.remember(forwardNumber: "+19185556666", for: "+19185550101")  // a reply while the list was read
        let known = fallback.adopt(["+19185550101": "+19185559999", "+19185550102": ""], readSince: readStart)
        #expect(known == ["+19185550101": "+19185556666", "+19185550102": ""], "the reply is newer; the line no longer listed is gone")
        #expect(fallback.forwardNumber(for: "+19185550101") == "+19185556666")
        #expect(fallback.forwardNumber(for: "+19185550102") == nil, "listed with none: a voicemail")
        #expect(fallback.forwardNumber(for: "+19185550150") == "+19185557777", "no longer a line: the platform-wide number")
        #expect(fallback.remember(forwardNumber: "+19185556666", for: "+19185550101"), "not saved yet: written by the next reply")
        fallback.saved(known)
        #expect(!fallback.remember(forwardNumber: "+19185556666", for: "+19185550101"), "saved with the list")
        _ = fallback.adopt(["+19185550101": "+19185559999"], readSince: .now)
        #expect(fallback.forwardNumber(for: "+19185550101") == "+19185559999", "a list read after the reply is the newer")
    }

    @Test("a bridge restarted while the platform is away still puts callers through to the forward number")
    func forwardNumbersSurviveRestart() async throws {
        let platform = try await Self.platformWithAcme()
        defer { try? FileManager.default.removeItem(at: platform.home) }
        let spool = BridgeWebhookTests.spoolPath()
        let token = try platform.token("bridge.token")
        try await TestBridge.with(platform: platform.address, bridgeToken: token, spoolPath: spool) { bridge in
            try await bridge.waitForPlatform()
            _ = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(1))
            try await bridge.spool.close()
        }
        await platform.stop()
        try await TestBridge.with(platform: platform.address, bridgeToken: token, spoolPath: spool) { bridge in
            let call = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(2))
            #expect(call.body.contains("<Number>+19185559999</Number>"), "not the platform-wide +19185557777: \(call.body)")
        }
    }

    @Test("in an outage, callers are put through as the platform's lines are now: a line changed, moved to another business or never called")
    func fallbackFollowsTheLines() async throws {
        let platform = try await Self.platformWithAcme()
        defer { try? FileManager.default.removeItem(at: platform.home) }
        let spool = BridgeWebhookTests.spoolPath()
        let token = try platform.token("bridge.token")
        let acme = BridgeWebhookTests.acmeNumber, newLine = "+19185550102"
        func kept(_ number: String, _ forward: String) -> @Sendable (TestBridge) async throws -> Bool {
            { bridge in try await bridge.spool.forwardNumbers()[number] == forward }
        }
        try await TestBridge.with(platform: platform.address, bridgeToken: token, spoolPath: spool, fallbackRouteInterval: .milliseconds(200)) { bridge in
            // No call yet: the bridge reads the line from the platform.
            try await bridge.waitForPlatform()
            try await poll("acme's forward number is read", within: .seconds(15)) { try await kept(acme, "+19185559999")(bridge) }
            try await platform.call { client, owner in
                _ = try await PhoneConfigService.Client(wrapping: client).updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.forwardNumber = "+19185556666" }
                    $0.updateMask = .init(protoPaths: ["forward_number"])
                }, metadata: owner)
            }
            try await poll("acme's new forward number is read", within: .seconds(15)) { try await kept(acme, "+19185556666")(bridge) }
            // The number goes to another business, and a new line that forwards nowhere comes.
            try await platform.call { client, owner in
                let configs = PhoneConfigService.Client(wrapping: client)
                _ = try await configs.deletePhoneConfig(.with { $0.name = "tenants/acme/phoneConfigs/main" }, metadata: owner)
                _ = try await TenantService.Client(wrapping: client).createTenant(.with {
                    $0.tenantID = "bravo"; $0.tenant = .with { $0.displayName = "Bravo Lawn" }
                }, metadata: owner)
                _ = try await configs.createPhoneConfig(.with {
                    $0.parent = "tenants/bravo"; $0.phoneConfigID = "main"
                    $0.phoneConfig = .with { $0.phoneNumber = acme; $0.forwardNumber = "+19185558888" }
                }, metadata: owner)
                _ = try await configs.createPhoneConfig(.with {
                    $0.parent = "tenants/bravo"; $0.phoneConfigID = "second"; $0.phoneConfig = .with { $0.phoneNumber = newLine }
                }, metadata: owner)
            }
            try await poll("the moved number and the new line are read", within: .seconds(15)) {
                let numbers = try await bridge.spool.forwardNumbers()
                return numbers[acme] == "+19185558888" && numbers[newLine] == ""
            }
            await platform.stop()
            let moved = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(1))
            #expect(moved.body.contains("<Number>+19185558888</Number>"), "bravo's, not acme's: \(moved.body)")
            let none = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(2, to: newLine))
            #expect(!none.body.contains("<Dial") && none.body.contains("<Record"), "a voicemail, not the platform-wide number: \(none.body)")
            let stranger = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(3, to: "+19185550199"))
            #expect(stranger.body.contains("<Number>+19185557777</Number>"), "no line has it: the platform-wide number: \(stranger.body)")
            try await bridge.spool.close()
        }
        // What was read outlives a restart during the outage.
        try await TestBridge.with(platform: platform.address, bridgeToken: token, spoolPath: spool, fallbackRouteInterval: .milliseconds(200)) { bridge in
            let call = try await bridge.post("/twilio/voice/incoming", BridgeWebhookTests.call(4))
            #expect(call.body.contains("<Number>+19185558888</Number>"), "\(call.body)")
        }
    }

    @Test("the spool survives a bridge restart")
    func spoolIsDurable() async throws {
        let path = BridgeWebhookTests.spoolPath()
        let logger = Logger(label: "test.spool")
        let first = try await MessageSpool.open(path: path, logger: logger)
        try await first.append(.with { $0.messageSid = "SM" + String(repeating: "1", count: 32); $0.body = "one" })
        try await first.append(.with { $0.messageSid = "SM" + String(repeating: "2", count: 32); $0.body = "two" })
        try await first.append(.with { $0.messageSid = "SM" + String(repeating: "2", count: 32); $0.body = "two, retried by Twilio" })
        #expect(await first.count() == 2, "a retry of a spooled text is not counted twice")
        try await first.close()
        let reopened = try await MessageSpool.open(path: path, logger: logger)
        #expect(await reopened.count() == 2)
        let oldest = try #require(try await reopened.oldest())
        #expect(oldest.request.body == "one")
        try await reopened.remove(sequence: oldest.sequence)
        try await reopened.remove(sequence: oldest.sequence)
        #expect(await reopened.count() == 1, "removing what is gone changes nothing")
        try await reopened.close()
    }
}
