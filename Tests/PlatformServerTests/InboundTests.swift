import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// Inbound texts and calls as the bridge sends them, on every store.
@Suite("Inbound telephony")
struct InboundTests {
    static let acmeNumber = "+19185550101"
    static let acmeService = "MG" + String(repeating: "a", count: 32)
    static let bravoNumber = "+19185550202"

    /// Two tenants with numbers: acme (elite, IVR, reached by its messaging service too) and
    /// bravo (starter, simple with a forward number).
    static func setUp(_ platform: TestPlatform, acmeMode: IvrMode = .ivr) async throws -> InboundClient {
        try await platform.createTenant("acme", displayName: "Acme Detailing")
        try await platform.createTenant("bravo", displayName: "Bravo Lawn")
        let owner = platform.metadata(platform.ownerToken)
        try await platform.setPlan("acme", .elite)
        let configs = PhoneConfigService.Client(wrapping: platform.client)
        _ = try await configs.createPhoneConfig(.with {
            $0.parent = "tenants/acme"
            $0.phoneConfigID = "main"
            $0.phoneConfig = .with {
                $0.phoneNumber = acmeNumber
                $0.messagingServiceSid = acmeService
                $0.ivrMode = acmeMode
                $0.forwardNumber = "+19185559999"
            }
        }, metadata: owner)
        _ = try await configs.createPhoneConfig(.with {
            $0.parent = "tenants/bravo"
            $0.phoneConfigID = "main"
            $0.phoneConfig = .with { $0.phoneNumber = bravoNumber; $0.forwardNumber = "+19185558888" }
        }, metadata: owner)
        return InboundClient(client: InboundService.Client(wrapping: platform.client), metadata: platform.metadata(platform.bridgeToken))
    }

    /// Leaves acme's line with nobody to forward callers to.
    static func clearAcmeForwardNumber(_ platform: TestPlatform) async throws {
        _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
            $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.forwardNumber = "" }
            $0.updateMask = .init(protoPaths: ["forward_number"])
        }, metadata: platform.metadata(platform.ownerToken))
    }

    /// Sets acme's booking link; "" clears it.
    static func setAcmeBookingURL(_ url: String, _ platform: TestPlatform) async throws -> Tenant {
        try await platform.tenants(platform.ownerToken).updateTenant(.with {
            $0.tenant = .with { $0.name = "tenants/acme"; $0.bookingURL = url }
            $0.updateMask = .init(protoPaths: ["booking_url"])
        })
    }

    struct InboundClient {
        let client: InboundService.Client<HTTP2ClientTransport.Posix>
        let metadata: Metadata

        func resolve(service: String = "", to: String) async throws -> ResolveInboundResponse {
            try await client.resolveInbound(.with { $0.messagingServiceSid = service; $0.to = to; $0.from = "+15550001111" }, metadata: metadata)
        }

        func text(_ sid: String, to: String, from: String = "+15550001111", body: String = "Do you have openings Friday?") async throws -> HandleInboundMessageResponse {
            try await client.handleInboundMessage(.with { $0.messageSid = sid; $0.to = to; $0.from = from; $0.body = body }, metadata: metadata)
        }

        func call(_ sid: String, to: String) async throws -> VoiceReply {
            try await client.handleInboundCall(.with { $0.callSid = sid; $0.to = to; $0.from = "+15550001111" }, metadata: metadata)
        }

        func digits(_ digits: String, sid: String, to: String, attempt: Int32, step: Int32? = nil, from: String = "+15550001111") async throws -> VoiceReply {
            try await client.handleIvrSelection(.with {
                $0.callSid = sid; $0.to = to; $0.from = from; $0.digits = digits; $0.attempt = attempt
                if let step { $0.step = step }
            }, metadata: metadata)
        }
    }

    static func sid(_ prefix: String, _ number: Int) -> String {
        prefix + String(format: "%032x", number)
    }

    /// A hang-up, compared whole: the generated `hangup` accessor answers an empty one for any
    /// instruction.
    static let hangup = VoiceInstruction.with { $0.hangup = .init() }

    @Test("resolution: messaging service, then To number, then root", arguments: TestBackend.available)
    func resolution(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let byService = try await inbound.resolve(service: Self.acmeService, to: "+10000000000")
            #expect(byService.tenant.slug == "acme")
            #expect(byService.resolutionMethod == .messagingServiceSid)
            let byNumber = try await inbound.resolve(to: Self.bravoNumber)
            #expect(byNumber.tenant.slug == "bravo")
            #expect(byNumber.resolutionMethod == .toNumber)
            #expect(byNumber.phoneConfig.phoneNumber == Self.bravoNumber)
            let unknown = try await inbound.resolve(to: "+15559990000")
            #expect(unknown.tenant.slug == "root")
            #expect(unknown.resolutionMethod == .fallbackRoot)
            let missing = try await inbound.resolve(to: "")
            #expect(missing.tenant.slug == "root")

            // A service's sender pool holds more of its tenant's numbers: the line texted is the
            // one that answers. Another tenant's number does not take the text from the service's.
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"; $0.phoneConfigID = "second"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550103" }
            }, metadata: platform.metadata(platform.ownerToken))
            let pooled = try await inbound.resolve(service: Self.acmeService, to: "+19185550103")
            #expect(pooled.tenant.slug == "acme")
            #expect(pooled.resolutionMethod == .messagingServiceSid)
            #expect(pooled.phoneConfig.name == "tenants/acme/phoneConfigs/second")
            let crossed = try await inbound.resolve(service: Self.acmeService, to: Self.bravoNumber)
            #expect(crossed.tenant.slug == "acme")
            #expect(crossed.phoneConfig.name == "tenants/acme/phoneConfigs/main")

            // The mode reported is the one calls are answered in: the plan has the last word.
            #expect(try await inbound.resolve(to: Self.acmeNumber).ivrMode == .ivr)
            try await platform.setPlan("acme", .starter)
            #expect(try await inbound.resolve(to: Self.acmeNumber).ivrMode == .simple)
        }
    }

    @Test("the bridge reads every line's forward number, a page at a time, in number order; a tenant's key may not", arguments: TestBackend.available)
    func fallbackRoutes(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"; $0.phoneConfigID = "second"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550103" }
            }, metadata: platform.metadata(platform.ownerToken))
            let first = try await inbound.client.listFallbackRoutes(.with { $0.pageSize = 2 }, metadata: inbound.metadata)
            #expect(first.routes.map { [$0.phoneNumber, $0.forwardNumber] } == [[Self.acmeNumber, "+19185559999"], ["+19185550103", ""]])
            let second = try await inbound.client.listFallbackRoutes(.with { $0.pageSize = 2; $0.pageToken = first.nextPageToken }, metadata: inbound.metadata)
            #expect(second.routes.map { [$0.phoneNumber, $0.forwardNumber] } == [[Self.bravoNumber, "+19185558888"]], "the root's line has no number, so no route")
            #expect(second.nextPageToken.isEmpty)

            let admin = platform.metadata(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let refused = await failure { try await inbound.client.listFallbackRoutes(.init(), metadata: admin) }
            #expect(refused?.code == .permissionDenied)
            let negative = await failure { try await inbound.client.listFallbackRoutes(.with { $0.pageSize = -1 }, metadata: inbound.metadata) }
            #expect(negative?.code == .invalidArgument && negative?.fields == ["page_size"], "\(String(describing: negative))")
        }
    }

    @Test("a text to a number no line answers is kept by the root, unacknowledged once the root's line has a number", arguments: TestBackend.available)
    func fallbackTextUnacknowledged(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            // Without a number of its own, the root answers every number nobody else does.
            let first = try await inbound.text(Self.sid("SM", 89), to: "+15559990000", from: "+15550009000")
            #expect(first.tenant == "tenants/root")
            #expect(first.replies.count == 1)

            _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/root/phoneConfigs/main"; $0.phoneNumber = "+19185550001" }
                $0.updateMask = .init(protoPaths: ["phone_number"])
            }, metadata: platform.metadata(platform.ownerToken))
            let stray = try await inbound.text(Self.sid("SM", 90), to: "+15559990000", from: "+15550009001")
            #expect(stray.tenant == "tenants/root")
            #expect(stray.message.customer.hasPrefix("tenants/root/customers/"), "kept for the platform to follow up")
            #expect(stray.replies.isEmpty, "its sender texted another business: no thanks in the root's name")
            #expect(stray.message.autoReply.isEmpty)
            let own = try await inbound.text(Self.sid("SM", 91), to: "+19185550001", from: "+15550009002")
            #expect(own.replies.count == 1, "the root's own number answers as ever")
        }
    }

    @Test("a text is stored once however often Twilio retries it, and linked to a customer", arguments: TestBackend.available)
    func textIdempotency(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let sid = Self.sid("SM", 1)
            let first = try await inbound.text(sid, to: Self.acmeNumber)
            #expect(!first.duplicate)
            #expect(first.tenant == "tenants/acme")
            #expect(first.message.customer.hasPrefix("tenants/acme/customers/"))
            #expect(first.replies.count == 1, "a new customer gets an acknowledgement")
            for _ in 0..<4 {
                let retry = try await inbound.text(sid, to: Self.acmeNumber)
                #expect(retry.duplicate)
                #expect(retry.message.name == first.message.name)
            }
            let second = try await inbound.text(Self.sid("SM", 2), to: Self.acmeNumber, body: "Also Saturday?")
            #expect(second.message.customer == first.message.customer)
            #expect(second.replies.isEmpty, "a known customer is not acknowledged again")

            let log = try await CommunicationLogService.Client(wrapping: platform.client).listMessages(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken))
            #expect(log.messages.map(\.messageSid) == [Self.sid("SM", 2), sid])
            let bravoLog = try await CommunicationLogService.Client(wrapping: platform.client).listMessages(
                .with { $0.parent = "tenants/bravo" }, metadata: platform.metadata(platform.ownerToken))
            #expect(bravoLog.messages.isEmpty)
        }
    }

    @Test("a first text gets its number's auto-reply: the standard one, the number's own words, or none when it is off", arguments: TestBackend.available)
    func autoReply(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let configs = PhoneConfigService.Client(wrapping: platform.client)
            let owner = platform.metadata(platform.ownerToken)
            func firstText(_ number: Int) async throws -> [String] {
                let answer = try await inbound.text(Self.sid("SM", number), to: Self.acmeNumber, from: "+1555000\(String(format: "%04d", number))")
                #expect(answer.message.autoReply == (answer.replies.first?.body ?? ""), "the stored text shows the reply its answer carries")
                return answer.replies.map(\.body)
            }
            let standard = "Thanks for texting Acme Detailing! We got your message and will reply shortly."
            #expect(try await firstText(1) == [standard])
            // The message log shows the reply on the text it answered, also to Twilio's retry,
            // which gets no second one.
            let retried = try await inbound.text(Self.sid("SM", 1), to: Self.acmeNumber, from: "+15550000001")
            #expect(retried.duplicate && retried.replies.isEmpty)
            #expect(retried.message.autoReply == standard)

            let custom = try await configs.updatePhoneConfig(.with {
                $0.phoneConfig = .with {
                    $0.name = "tenants/acme/phoneConfigs/main"
                    $0.autoReply.text = "  Hi from {{business_name}}! We're out on a job and will text you back within the hour.  "
                }
                $0.updateMask = .init(protoPaths: ["auto_reply.text"])
            }, metadata: owner)
            #expect(custom.autoReply.text == "Hi from {{business_name}}! We're out on a job and will text you back within the hour.", "trimmed")
            #expect(try await firstText(2) == ["Hi from Acme Detailing! We're out on a job and will text you back within the hour."])

            let off = try await configs.updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.autoReply.disabled = true }
                $0.updateMask = .init(protoPaths: ["auto_reply.disabled"])
            }, metadata: owner)
            #expect(off.autoReply.disabled)
            #expect(off.autoReply.text.hasPrefix("Hi from"), "the text is kept for when it is back on")
            #expect(try await firstText(3).isEmpty)
            let stored = try await platform.database.withTenant("acme") { tx in
                try await tx.select("customer_id", from: "customers", where: "phone = \("+15550000003")")
            }
            #expect(stored.count == 1, "the sender is still a customer")
            let logged = try await CommunicationLogService.Client(wrapping: platform.client)
                .listMessages(.with { $0.parent = "tenants/acme" }, metadata: owner).messages
            #expect(Dictionary(uniqueKeysWithValues: logged.map { ($0.messageSid, $0.autoReply) }) == [
                Self.sid("SM", 1): standard,
                Self.sid("SM", 2): "Hi from Acme Detailing! We're out on a job and will text you back within the hour.",
                Self.sid("SM", 3): "",
            ])

            // A placeholder the platform cannot fill is refused, naming the field.
            let unknown = await failure {
                try await configs.updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.autoReply.text = "Hi {{customer_name}}!" }
                    $0.updateMask = .init(protoPaths: ["auto_reply.text"])
                }, metadata: owner)
            }
            #expect(unknown?.code == .invalidArgument)
            #expect(unknown?.fields == ["phone_config.auto_reply.text"])
            let tooLong = await failure {
                try await configs.updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.autoReply.text = String(repeating: "a", count: 1601) }
                    $0.updateMask = .init(protoPaths: ["auto_reply"])
                }, metadata: owner)
            }
            #expect(tooLong?.fields == ["phone_config.auto_reply.text"])
            #expect(try await configs.getPhoneConfig(.with { $0.name = "tenants/acme/phoneConfigs/main" }, metadata: owner).autoReply.disabled, "nothing changed")
        }
    }

    @Test("message and call logs page newest first, each entry once; a token only resumes its own listing", arguments: TestBackend.available)
    func logsPage(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            for number in 1...5 {
                _ = try await inbound.text(Self.sid("SM", number), to: Self.acmeNumber, body: "text \(number)")
                _ = try await inbound.call(Self.sid("CA", number), to: Self.acmeNumber)
            }
            let logs = CommunicationLogService.Client(wrapping: platform.client)
            let owner = platform.metadata(platform.ownerToken)
            var messages: [String] = []
            var calls: [String] = []
            var messageToken = ""
            var callToken = ""
            repeat {
                let page = try await logs.listMessages(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = messageToken }, metadata: owner)
                #expect(page.messages.count <= 2)
                messages += page.messages.map { $0.messageSid }
                messageToken = page.nextPageToken
            } while !messageToken.isEmpty
            repeat {
                let page = try await logs.listCalls(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = callToken }, metadata: owner)
                calls += page.calls.map { $0.callSid }
                callToken = page.nextPageToken
            } while !callToken.isEmpty
            #expect(messages == (1...5).reversed().map { Self.sid("SM", $0) })
            #expect(calls == (1...5).reversed().map { Self.sid("CA", $0) })

            let first = try await logs.listMessages(.with { $0.parent = "tenants/acme"; $0.pageSize = 2 }, metadata: owner)
            let otherFilter = await failure {
                try await logs.listMessages(.with {
                    $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = first.nextPageToken; $0.direction = .inbound
                }, metadata: owner)
            }
            #expect(otherFilter?.fields == ["page_token"])
            let otherListing = await failure {
                try await logs.listCalls(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = first.nextPageToken }, metadata: owner)
            }
            #expect(otherListing?.fields == ["page_token"])

            // Filters that could only ever match nothing are refused, as the other listings do.
            let elsewhere = await failure {
                try await logs.listMessages(.with { $0.parent = "tenants/acme"; $0.customer = "tenants/bravo/customers/c1" }, metadata: owner)
            }
            #expect(elsewhere?.code == .invalidArgument)
            #expect(elsewhere?.fields == ["customer"])
            let backwards = await failure {
                try await logs.listCalls(.with {
                    $0.parent = "tenants/acme"; $0.startTime = .init(seconds: 2_000_000_000); $0.endTime = .init(seconds: 1_000_000_000)
                }, metadata: owner)
            }
            #expect(backwards?.fields == ["end_time"])
        }
    }

    @Test("each mode answers a call its own way", arguments: TestBackend.available)
    func callModes(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let ivr = try await inbound.call(Self.sid("CA", 1), to: Self.acmeNumber)
            #expect(ivr.ivrMode == .ivr)
            let gather = try #require(ivr.instructions.first?.gather)
            #expect(gather.action.route == .ivrSelection)
            #expect(gather.prompts.map(\.text).joined().contains("press 1"))

            let simple = try await inbound.call(Self.sid("CA", 2), to: Self.bravoNumber)
            #expect(simple.ivrMode == .simple)
            #expect(simple.instructions.contains { $0.dialNumber.number == "+19185558888" })
            #expect(simple.fallbackForwardNumber == "+19185558888")

            let calls = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken))
            #expect(calls.calls.map(\.callSid) == [Self.sid("CA", 1)])
        }
    }

    @Test("simple mode rings each way to reach someone in turn: an answered dial ends the call, the last unanswered one leads to voicemail", arguments: TestBackend.available)
    func dialResults(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            // bravo: a SIP endpoint with its credential, and a forward number.
            _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                $0.phoneConfig = .with {
                    $0.name = "tenants/bravo/phoneConfigs/main"; $0.sipDomain = "bravo.sip.twilio.com"; $0.sipUsername = "owner"; $0.sipPassword = "s3cret & more"
                }
                $0.updateMask = .init(protoPaths: ["sip_domain", "sip_username", "sip_password"])
            }, metadata: platform.metadata(platform.ownerToken))
            let sid = Self.sid("CA", 30)
            func result(_ status: String, attempt: Int32) async throws -> VoiceReply {
                try await inbound.client.handleDialResult(.with {
                    $0.callSid = sid; $0.to = Self.bravoNumber; $0.from = "+15550001111"; $0.dialCallStatus = status; $0.attempt = attempt
                }, metadata: inbound.metadata)
            }
            let start = try await inbound.call(sid, to: Self.bravoNumber)
            #expect(start.instructions.count == 1, "nothing runs after a dial that reports its outcome")
            #expect(start.instructions.first?.dialSip.sipUri == "sip:owner@bravo.sip.twilio.com")
            #expect(start.instructions.first?.dialSip.action == .with { $0.route = .dialResult; $0.attempt = 1 })
            // The stored password, opened only for the dial that rings the endpoint.
            #expect(start.instructions.first?.dialSip.username == "owner")
            #expect(start.instructions.first?.dialSip.password == "s3cret & more")
            // One that cannot be opened (sealed under another key) does not fail the call: the
            // endpoint is rung without it, and the next person if it refuses.
            try await platform.database.withTenant("bravo") { tx in
                _ = try await tx.update("phone_configs", set: [("sip_password_sealed", Data(repeating: 7, count: 40))], where: "phone_config_id = 'main'")
            }
            platform.server.tenantResolver.invalidate()
            let unopened = try await inbound.call(Self.sid("CA", 39), to: Self.bravoNumber)
            #expect(unopened.instructions.first?.dialSip.sipUri == "sip:owner@bravo.sip.twilio.com")
            #expect(unopened.instructions.first?.dialSip.password.isEmpty == true)

            for answered in ["completed", "answered"] {
                #expect(try await result(answered, attempt: 1).instructions == [Self.hangup], "a conversation took place: the call ends")
            }
            let next = try await result("no-answer", attempt: 1)
            #expect(next.instructions.first?.dialNumber.number == "+19185558888")
            #expect(next.instructions.first?.dialNumber.action.attempt == 2)
            let last = try await result("busy", attempt: 2)
            #expect(last.instructions.contains { if case .record? = $0.instruction { true } else { false } }, "after the last, a voicemail")
            #expect(try await result("completed", attempt: 2).instructions == [Self.hangup])
            // The call log says who answered: here the second way, the forward number.
            let logged = try #require(try await Self.loggedCall(sid, platform))
            #expect(logged.connectedTo == "+19185558888")

            // "Speak to someone" on a menu whose tenant has only a SIP endpoint rings it.
            _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.sipDomain = "acme.sip.twilio.com"; $0.sipUsername = "desk" }
                $0.updateMask = .init(protoPaths: ["sip_domain", "sip_username", "forward_number"])
            }, metadata: platform.metadata(platform.ownerToken))
            let person = try await inbound.digits("3", sid: Self.sid("CA", 31), to: Self.acmeNumber, attempt: 1)
            #expect(person.instructions.contains { $0.dialSip.sipUri == "sip:desk@acme.sip.twilio.com" && $0.dialSip.password.isEmpty },
                    "no password stored, none sent")
        }
    }

    @Test("a line that asks texts the business each voicemail and each text, once; never its own texts, nor for a line that does not ask", arguments: TestBackend.available)
    func businessAlerts(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            func alerts() async throws -> [(to: String, from: String, body: String)] {
                try await platform.database.transaction(.platform) { tx in
                    try await tx.query("""
                        SELECT recipient, sender, body FROM outbox_messages WHERE purpose LIKE 'business_alert %' ORDER BY create_time, message_id
                        """).map { (try $0.string("recipient"), try $0.string("sender"), try $0.string("body")) }
                }
            }
            func voicemail(_ sid: String) async throws {
                _ = try await inbound.client.recordCallStatus(.with {
                    $0.callSid = sid; $0.status = .completed; $0.recordingURL = "https://api.twilio.com/recordings/RE01"
                    $0.recordingDuration = .init(seconds: 42)
                }, metadata: inbound.metadata)
            }
            // Not asked for: nothing.
            let first = try await inbound.text(Self.sid("SM", 70), to: Self.acmeNumber)
            _ = try await inbound.call(Self.sid("CA", 70), to: Self.acmeNumber)
            try await voicemail(Self.sid("CA", 70))
            #expect(try await alerts().isEmpty)

            let configs = PhoneConfigService.Client(wrapping: platform.client)
            let line = try await configs.updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.businessAlerts = .with { $0.voicemails = true; $0.texts = true } }
                $0.updateMask = .init(protoPaths: ["business_alerts"])
            }, metadata: platform.metadata(platform.ownerToken))
            #expect(line.businessAlerts.voicemails && line.businessAlerts.texts)
            _ = try await CustomerService.Client(wrapping: platform.client).updateCustomer(.with {
                $0.customer = .with { $0.name = first.message.customer; $0.displayName = "Jane Doe" }
                $0.updateMask = .init(protoPaths: ["display_name"])
            }, metadata: platform.metadata(platform.ownerToken))

            // Twilio sends the text three times: one alert, to the forward number (acme has no
            // contact phone), from the line.
            for _ in 0..<3 { _ = try await inbound.text(Self.sid("SM", 71), to: Self.acmeNumber, body: "C") }
            var sent = try await alerts()
            #expect(sent.count == 1)
            #expect(sent.first?.to == "+19185559999")
            #expect(sent.first?.from == Self.acmeService)
            #expect(sent.first?.body == "Text to Acme Detailing from Jane Doe (+15550001111): \"C\"", "\(sent)")

            // With a contact phone, alerts go there; the business's own texts to the line are not echoed.
            _ = try await platform.tenants(platform.ownerToken).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.contact.phone = "+19185550777" }
                $0.updateMask = .init(protoPaths: ["contact.phone"])
            })
            _ = try await inbound.text(Self.sid("SM", 72), to: Self.acmeNumber, from: "+19185550777", body: "OK, cancelled")
            _ = try await inbound.text(Self.sid("SM", 74), to: Self.acmeNumber, from: "+19185559999", body: "On my way")
            _ = try await inbound.text(Self.sid("SM", 75), to: Self.acmeNumber, from: Self.bravoNumber, body: "Text to Bravo Lawn from ...")
            #expect(try await alerts().count == 1, "the business's own texts, from its contact phone or its forward number, and a platform line's")

            _ = try await inbound.call(Self.sid("CA", 71), to: Self.acmeNumber)
            // The caller talks for longer than the index of lines is kept: the alert reads it
            // again, and must do so outside the call's transaction (on SQLite the reload waited
            // for the writer that transaction held, and every write after it waited for ever).
            platform.server.tenantResolver.invalidate()
            try await voicemail(Self.sid("CA", 71))
            try await voicemail(Self.sid("CA", 71))
            sent = try await alerts()
            #expect(sent.count == 2, "one alert for the voicemail")
            #expect(sent.last?.to == "+19185550777")
            #expect(sent.last?.body == "Voicemail for Acme Detailing from Jane Doe (+15550001111), 0:42: https://api.twilio.com/recordings/RE01", "\(sent)")

            // bravo's line does not ask.
            _ = try await inbound.text(Self.sid("SM", 73), to: Self.bravoNumber)
            #expect(try await alerts().count == 2)
            // A contact phone that is one of the platform's lines gets no alerts: they would come
            // back in as texts, and be alerted again.
            _ = try await platform.tenants(platform.ownerToken).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.contact.phone = Self.bravoNumber }
                $0.updateMask = .init(protoPaths: ["contact.phone"])
            })
            _ = try await inbound.text(Self.sid("SM", 76), to: Self.acmeNumber)
            #expect(try await alerts().count == 2)
        }
    }

    @Test("status callbacks out of order never move a call or text backwards; withheld callers are no one's customer", arguments: TestBackend.available)
    func statusesMoveForward(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let sid = Self.sid("CA", 40)
            _ = try await inbound.call(sid, to: Self.acmeNumber)
            func status(_ status: PhoneCallStatus, duration: Int64? = nil) async throws -> PhoneCall {
                try await inbound.client.recordCallStatus(.with {
                    $0.callSid = sid; $0.status = status
                    if let duration { $0.duration = .init(seconds: duration) }
                }, metadata: inbound.metadata)
            }
            #expect(try await status(.inProgress).status == .inProgress)
            #expect(try await status(.completed, duration: 42).status == .completed)
            let late = try await status(.ringing)
            #expect(late.status == .completed, "a late ringing does not undo the ending")
            #expect(late.duration.seconds == 42)
            #expect(try await status(.noAnswer).status == .completed, "the first ending stands")

            // A call the bridge answered alone while the platform was down is logged from its status.
            let unseen = try await inbound.client.recordCallStatus(.with {
                $0.callSid = Self.sid("CA", 41); $0.status = .completed; $0.duration = .init(seconds: 12)
                $0.from = "+15550004141"; $0.to = Self.acmeNumber
            }, metadata: inbound.metadata)
            #expect(unseen.name.hasPrefix("tenants/acme/calls/"))
            #expect(unseen.status == .completed)
            #expect(unseen.duration.seconds == 12)
            #expect(unseen.from == "+15550004141")
            let nowhere = await failure { try await inbound.client.recordCallStatus(.with { $0.callSid = Self.sid("CA", 42); $0.status = .completed }, metadata: inbound.metadata) }
            #expect(nowhere?.code == .notFound, "without the number called there is no tenant to log it for")

            let text = try await inbound.text(Self.sid("SM", 40), to: Self.acmeNumber)
            func textStatus(_ status: TextMessageStatus) async throws -> TextMessage {
                try await inbound.client.recordMessageStatus(.with { $0.messageSid = Self.sid("SM", 40); $0.status = status }, metadata: inbound.metadata)
            }
            #expect(text.message.status == .received)
            #expect(try await textStatus(.read).status == .read)
            #expect(try await textStatus(.received).status == .read)

            // Callers who withhold their number share a code that reaches no one.
            for (index, withheld) in ["+266696687", "+7378742833"].enumerated() {
                _ = try await inbound.client.handleInboundCall(.with {
                    $0.callSid = Self.sid("CA", 50 + index); $0.to = Self.acmeNumber; $0.from = withheld
                }, metadata: inbound.metadata)
            }
            let customers = try await CustomerService.Client(wrapping: platform.client).listCustomers(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).customers
            #expect(!customers.contains { ["+266696687", "+7378742833"].contains($0.phoneNumber) })
        }
    }

    @Test("two status callbacks of one call that arrive together leave it at the further one (the row is compared locked)", arguments: TestBackend.available)
    func concurrentStatuses(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let calls = (0..<20).map { Self.sid("CA", 600 + $0) }
            for sid in calls { _ = try await inbound.call(sid, to: Self.acmeNumber) }
            // Twilio sends "in-progress" and "completed" close together; they race to the store.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sid in calls {
                    for status in [PhoneCallStatus.inProgress, .completed] {
                        group.addTask {
                            _ = try await inbound.client.recordCallStatus(.with { $0.callSid = sid; $0.status = status }, metadata: inbound.metadata)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let statuses = try await platform.database.withTenant("acme") { tx in
                try await tx.select("status", from: "phone_calls", where: "call_sid IN (\(SQLStatement.list(calls)))").map { try $0.string("status") }
            }
            #expect(statuses.count == calls.count)
            #expect(statuses.allSatisfy { $0 == PhoneCallStatus.completed.storedName }, "\(statuses)")
        }
    }

    @Test("a call the bridge answered alone is logged from when it began, not when its status came, and linked to its caller", arguments: TestBackend.available)
    func callAnsweredAlone(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let caller = "+15550004545"
            let text = try await inbound.text(Self.sid("SM", 45), to: Self.acmeNumber, from: caller)
            // Replayed from the bridge's spool an hour after the bridge received it.
            let received = Date().addingTimeInterval(-3_600)
            let call = try await inbound.client.recordCallStatus(.with {
                $0.callSid = Self.sid("CA", 45); $0.status = .completed; $0.duration = .init(seconds: 90)
                $0.from = caller; $0.to = Self.acmeNumber; $0.eventTime = .init(date: received)
            }, metadata: inbound.metadata)
            #expect(call.name.hasPrefix("tenants/acme/calls/"))
            #expect(abs(call.startTime.date.timeIntervalSince(received.addingTimeInterval(-90))) < 1, "\(call.startTime.date)")
            #expect(abs(call.endTime.date.timeIntervalSince(received)) < 1, "\(call.endTime.date)")
            #expect(!call.customer.isEmpty)
            #expect(call.customer == text.message.customer, "the customer who texted before")
        }
    }

    @Test("what a caller asks the AI receptionist is cut short, so the note to the business fits in one text")
    func passOnNoteFitsOneText() {
        let caller = "+15550003333"
        #expect(InboundHandler.passOnNote(caller: caller, asked: "Wash my car Friday") == "+15550003333 called your AI receptionist: \"Wash my car Friday\"")
        let long = InboundHandler.passOnNote(caller: caller, asked: String(repeating: "Wash my car Friday. ", count: 100))
        #expect(long.count == OutboxRecords.maxTextLength)
        #expect(long.hasPrefix("+15550003333 called your AI receptionist: \"Wash my car Friday."))
        #expect(long.hasSuffix("…\""))
    }

    @Test("a retry of a text whose first attempt stopped before linking its sender links it", arguments: TestBackend.available)
    func retryFinishesTheLink(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let sid = Self.sid("SM", 60)
            // As a first attempt that failed between storing the text and linking its sender leaves it.
            let stored = try await CommunicationRecords.insertIfNew([Self.newText(sid, from: "+15550006060", id: "m60")], tenantID: "acme", platform.database)
            #expect(stored.first??.customer.isEmpty == true)
            let retried = try await inbound.text(sid, to: Self.acmeNumber, from: "+15550006060", body: "hi")
            #expect(retried.duplicate)
            #expect(retried.message.customer.hasPrefix("tenants/acme/customers/"))
            #expect(retried.replies.first?.body.contains("Thanks for texting") == true, "the acknowledgement the first attempt never sent")
        }
    }

    @Test("texts stored together: each sender linked, a MessageSid repeated in the batch or stored for another tenant stored once", arguments: TestBackend.available)
    func textsStoredTogether(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let known = try await inbound.text(Self.sid("SM", 70), to: Self.acmeNumber, from: "+15550007070")
            let bravos = try await inbound.text(Self.sid("SM", 71), to: Self.bravoNumber, from: "+15550007171")
            #expect(bravos.tenant == "tenants/bravo")

            let texts = [
                Self.newText(Self.sid("SM", 72), from: "+15550007070", id: "m72"),
                Self.newText(Self.sid("SM", 73), from: "+15550007373", id: "m73", phoneConfigID: "main"),
                Self.newText(Self.sid("SM", 72), from: "+15550007070", id: "m72-again"),
                Self.newText(Self.sid("SM", 71), from: "+15550007171", id: "m71-bravos"),
            ]
            let stored = try await CommunicationRecords.insertIfNew(texts, tenantID: "acme", platform.database)
            #expect([stored[0], stored[2]].compactMap { $0 }.count == 1, "a MessageSid twice in one batch is stored once")
            #expect(stored[3] == nil, "bravo's MessageSid is not stored again")
            let repeated = try #require(stored[0] ?? stored[2])
            #expect(repeated.customer == known.message.customer, "a known sender is linked in the same statement")
            #expect(stored[1]?.name == "tenants/acme/messages/m73")
            #expect(stored[1]?.customer.isEmpty == true, "a new sender is left for the handler to link")
            #expect(stored[1]?.phoneConfig == "tenants/acme/phoneConfigs/main")
            #expect(repeated.phoneConfig.isEmpty, "texts with and without a number's config share a statement")

            let log = try await CommunicationLogService.Client(wrapping: platform.client).listMessages(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken))
            #expect(log.messages.map(\.messageSid).sorted() == [Self.sid("SM", 70), Self.sid("SM", 72), Self.sid("SM", 73)])
        }
    }

    @Test("a burst of texts, each sent several times at once, stores each once and answers one attempt as the first", arguments: TestBackend.available)
    func textBurst(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let attempts = try await withThrowingTaskGroup(of: HandleInboundMessageResponse.self) { group in
                for number in 0..<24 {
                    for _ in 0..<3 {
                        group.addTask {
                            try await inbound.text(Self.sid("SM", 100 + number), to: Self.acmeNumber, from: "+1555000\(1000 + number % 6)")
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let bySid = Dictionary(grouping: attempts, by: \.message.messageSid)
            #expect(bySid.count == 24)
            for (sid, answers) in bySid {
                #expect(answers.filter { !$0.duplicate }.count == 1, "\(sid): one first answer")
                #expect(Set(answers.map(\.message.name)).count == 1, "\(sid): every attempt sees the one stored message")
                #expect(answers.allSatisfy { $0.message.customer.hasPrefix("tenants/acme/customers/") })
            }
            let stored = try await platform.database.withTenant("acme") { tx in
                try await tx.select(from: "text_messages", where: "direction = 'inbound'").count
            }
            #expect(stored == 24)
        }
    }

    @Test("a batch of texts: each handled as it would be alone, answered in order; one refused leaves the others stored; a bad field refuses the call", arguments: TestBackend.available)
    func textBatch(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            _ = try await inbound.text(Self.sid("SM", 1), to: Self.acmeNumber)
            let text = { (number: Int, to: String) in
                HandleInboundMessageRequest.with { $0.messageSid = Self.sid("SM", number); $0.to = to; $0.from = "+15550002222"; $0.body = "Saturday?" }
            }
            let batch = [text(2, Self.acmeNumber), text(1, Self.bravoNumber), text(3, Self.bravoNumber), text(2, Self.acmeNumber)]
            let answer = try await inbound.client.batchHandleInboundMessages(.with { $0.requests = batch }, metadata: inbound.metadata)
            try #require(answer.outcomes.count == 4)
            let handled = answer.outcomes.map { outcome -> HandleInboundMessageResponse? in
                if case .handled(let response) = outcome.outcome { return response }
                return nil
            }
            #expect(handled[0]?.tenant == "tenants/acme")
            #expect(handled[2]?.tenant == "tenants/bravo")
            #expect(handled[2]?.replies.count == 1, "a new customer of bravo's is acknowledged, as alone")
            // The same MessageSid twice in one batch is stored once: one answer is the first.
            #expect(handled[3]?.message.name == handled[0]?.message.name)
            #expect([handled[0], handled[3]].filter { $0?.duplicate == false }.count == 1)
            // SM…1 is acme's: sent to bravo's number, it is refused as it would be alone.
            guard case .refused(let refusal) = answer.outcomes[1].outcome else {
                Issue.record("the text stored for another number was handled: \(answer.outcomes[1])")
                return
            }
            #expect(refusal.code == Int32(RPCError.Code.alreadyExists.rawValue))
            #expect(refusal.reason == "message_sid_taken")
            #expect(refusal.rpcError.code == .alreadyExists)
            #expect(refusal.rpcError.errorInfoReason == "message_sid_taken")

            let counts = { (tenant: String) in
                try await platform.database.withTenant(tenant) { tx in try await tx.select(from: "text_messages", where: "direction = 'inbound'").count }
            }
            #expect(try await counts("acme") == 2)
            #expect(try await counts("bravo") == 1)

            // A field no text may have refuses the whole call, naming the text, and stores nothing.
            var bad = [text(4, Self.acmeNumber), text(5, Self.acmeNumber)]
            bad[1].from = String(repeating: "9", count: 300)
            let error = await #expect(throws: RPCError.self) {
                try await inbound.client.batchHandleInboundMessages(.with { $0.requests = bad }, metadata: inbound.metadata)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.hasPrefix("requests[1].from:") == true, "\(error.map { "\($0)" } ?? "")")
            await #expect(throws: RPCError.self) {
                try await inbound.client.batchHandleInboundMessages(.init(), metadata: inbound.metadata)
            }
            #expect(try await counts("acme") == 2)
            // Only the bridge sends texts, one or many.
            let asOwner = await #expect(throws: RPCError.self) {
                try await inbound.client.batchHandleInboundMessages(.with { $0.requests = [text(6, Self.acmeNumber)] }, metadata: platform.metadata(platform.ownerToken))
            }
            #expect(asOwner?.code == .permissionDenied)
        }
    }

    static func newText(_ sid: String, from: String, id: String, phoneConfigID: String? = nil) -> CommunicationRecords.NewText {
        CommunicationRecords.NewText(
            message: .with { $0.messageSid = sid; $0.direction = .inbound; $0.from = from; $0.to = acmeNumber; $0.body = "hi"; $0.status = .received },
            id: id, phoneConfigID: phoneConfigID)
    }

    @Test("AI voice greets with the tenant's name and listens", arguments: TestBackend.available)
    func aiVoice(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform, acmeMode: .aiVoice)
            let reply = try await inbound.call(Self.sid("CA", 3), to: Self.acmeNumber)
            #expect(reply.ivrMode == .aiVoice)
            let gather = try #require(reply.instructions.first?.gather)
            #expect(gather.inputs == [.speech])
            #expect(gather.prompts.first?.text.contains("Acme Detailing") == true)
            _ = try await platform.tenants(platform.ownerToken).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.contact.phone = "+19185550777" }
                $0.updateMask = .init(protoPaths: ["contact.phone"])
            })
            func turn(_ speech: String, confidence: Float = 0.9, attempt: Int32 = 1) async throws -> VoiceReply {
                try await inbound.client.handleAiVoiceTurn(.with {
                    $0.callSid = Self.sid("CA", 3); $0.to = Self.acmeNumber; $0.from = "+15550001111"
                    $0.speechResult = speech; $0.confidence = confidence; $0.attempt = attempt
                }, metadata: inbound.metadata)
            }
            // A caller not heard twice, with nothing asked yet, is put through to a person.
            #expect(try await turn("", confidence: 0).instructions.first?.gather.prompts.first?.text == "Sorry, I didn't catch that. How can I help you?")
            let unheard = try await turn("", confidence: 0, attempt: 2)
            #expect(unheard.instructions.first == .say("Let me connect you with someone."), "\(unheard.instructions)")
            #expect(!unheard.instructions.contains(.endCall))
            // Words the recogniser doubts are asked for again, and passed on to no one.
            let doubtful = try await turn("I'd like a fall dentil on fry day", confidence: 0.2)
            #expect(doubtful.instructions.first?.gather.prompts.first?.text == "Sorry, could you repeat that?")
            #expect(doubtful.instructions.first?.gather.action.attempt == 2)

            let answered = try await turn("I'd like a full detail on Friday", attempt: 2)
            #expect(answered.instructions.first?.say.text.contains("Acme Detailing") == true)
            // Twilio retries the webhook: the first answer again, not a hand-off.
            #expect(try await turn("I'd like a full detail on Friday", attempt: 2) == answered)
            // What the caller asked for is in the call log, and texted to the business once.
            let call = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first
            #expect(call?.callerSaid == ["I'd like a full detail on Friday"])
            let texts = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT recipient, body FROM outbox_messages WHERE tenant_id = 'acme' AND purpose = 'ai_voice_request'")
            }
            #expect(texts.count == 1)
            #expect(try texts.first?.string("recipient") == "+19185550777")
            #expect(try texts.first?.string("body").contains("I'd like a full detail on Friday") == true)
            #expect(gather.speechHints.isEmpty, "no pack, no trade words")

            // With an industry pack, the receptionist greets in the pack's words and listens
            // for its trade words, on every turn.
            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: platform.metadata(platform.ownerToken))
            let packed = try #require(try await inbound.call(Self.sid("CA", 8), to: Self.acmeNumber).instructions.first?.gather)
            #expect(packed.prompts.first?.text == "Hi, thanks for calling Acme Detailing! I'm the virtual assistant. Are you looking to book a detail, or can I answer a question?")
            #expect(packed.speechHints.contains("ceramic coating"))
            let again = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 8); $0.to = Self.acmeNumber; $0.from = "+15550001111"; $0.speechResult = ""; $0.attempt = 1
            }, metadata: inbound.metadata)
            #expect(again.instructions.first?.gather.speechHints.contains("paint correction") == true)

            // It answers prices and the pack's FAQs itself, as the business left them, and listens again.
            func packedTurn(_ speech: String) async throws -> VoiceReply {
                try await inbound.client.handleAiVoiceTurn(.with {
                    $0.callSid = Self.sid("CA", 8); $0.to = Self.acmeNumber; $0.from = "+15550001111"
                    $0.speechResult = speech; $0.confidence = 0.9; $0.attempt = 1
                }, metadata: inbound.metadata)
            }
            let price = try await packedTurn("How much is a full detail?")
            #expect(price.instructions.first?.say.text == "A Full Detail is $249 and takes about 4 hours.")
            #expect(price.instructions.last?.gather.prompts.first?.text == "Is there anything else I can help you with?")
            let faq = try await packedTurn("do you guys come to my house")
            #expect(faq.instructions.first?.say.text.hasPrefix("Yes. Acme Detailing is fully mobile") == true, "\(faq)")
            let asked = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first { $0.callSid == Self.sid("CA", 8) }
            #expect(asked?.callerSaid == ["How much is a full detail?", "do you guys come to my house"], "the business sees what its callers ask")
            // Helped, then quiet: asked once more, then the caller is done, not handed to staff.
            func silentTurn(attempt: Int32) async throws -> VoiceReply {
                try await inbound.client.handleAiVoiceTurn(.with {
                    $0.callSid = Self.sid("CA", 8); $0.to = Self.acmeNumber; $0.from = "+15550001111"; $0.attempt = attempt
                }, metadata: inbound.metadata)
            }
            let quiet = try await silentTurn(attempt: 1)
            #expect(quiet.instructions.first?.gather.prompts.first?.text == "Sorry, I didn't catch that. Is there anything else I can help you with?")
            #expect(quiet.instructions.first?.gather.action.attempt == 2)
            let quietAgain = try await silentTurn(attempt: 2)
            #expect(quietAgain.instructions == [.say("Thanks for calling Acme Detailing. Goodbye!"), .endCall], "\(quietAgain.instructions)")
            let done = try await packedTurn("No thanks, that's all")
            #expect(done.instructions.map(\.say.text).first == "Thanks for calling Acme Detailing. Goodbye!")
            #expect(done.instructions.last == VoiceInstruction.endCall)

            // A number whose voice webhook is the AI entry point itself: the call's first
            // request has no turn yet. It is greeted and recorded, so what the caller then says
            // reaches the call log.
            let entry = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 9); $0.to = Self.acmeNumber; $0.from = "+15550002222"; $0.callerName = "JANE DOE"
            }, metadata: inbound.metadata)
            #expect(entry.instructions.first?.gather.prompts.first?.text.contains("Acme Detailing") == true)
            _ = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 9); $0.to = Self.acmeNumber; $0.from = "+15550002222"
                $0.speechResult = "Do you clean boats?"; $0.confidence = 0.9; $0.attempt = 1
            }, metadata: inbound.metadata)
            let entryCall = try #require(try await Self.loggedCall(Self.sid("CA", 9), platform), "the call is recorded")
            #expect(entryCall.callerSaid == ["Do you clean boats?"])
            #expect(entryCall.callerName == "JANE DOE")
            // bravo's number is in simple mode: sent to the AI entry point, it is put through as
            // its mode says, not given a receptionist its plan does not have.
            let misrouted = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 10); $0.to = Self.bravoNumber; $0.from = "+15550002222"
            }, metadata: inbound.metadata)
            #expect(misrouted.ivrMode == .simple)
            #expect(misrouted.instructions.contains { $0.dialNumber.number == "+19185558888" })
            // A turn on bravo's line, which never had a receptionist, is no reason to get one.
            let turnOnSimple = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 10); $0.to = Self.bravoNumber; $0.from = "+15550002222"
                $0.speechResult = "Can you come Tuesday?"; $0.confidence = 0.9; $0.attempt = 1
            }, metadata: inbound.metadata)
            #expect(!turnOnSimple.instructions.contains { $0.say.text.contains("text you back") })
            #expect(turnOnSimple.instructions.contains { $0.dialNumber.number == "+19185558888" }, "\(turnOnSimple.instructions)")

            // A turn of a call the log never saw start (it reached only the bridge): the call is
            // logged then, and what the caller said is taken and passed on as on any call.
            let unseen = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 11); $0.to = Self.acmeNumber; $0.from = "+15550003333"
                $0.speechResult = "Wash my car Friday"; $0.confidence = 0.9; $0.attempt = 1
            }, metadata: inbound.metadata)
            #expect(unseen.instructions.contains { $0.say.text.contains("text you back") }, "\(unseen.instructions)")
            let unseenCall = try #require(try await Self.loggedCall(Self.sid("CA", 11), platform), "the call is logged")
            #expect(unseenCall.callerSaid == ["Wash my car Friday"])
            let passedOnKey = "ai_voice/\(Self.sid("CA", 11))/1"
            let passedOn = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT body FROM outbox_messages WHERE dedupe_key = \(passedOnKey)").map { try $0.string("body") }
            }
            #expect(passedOn == ["+15550003333 called your AI receptionist: \"Wash my car Friday\""])

            // A call logged for another tenant (its number changed hands during the call): nothing
            // can be taken for acme, so nothing is promised, and a person takes the call.
            _ = try await inbound.client.handleInboundCall(.with {
                $0.callSid = Self.sid("CA", 12); $0.to = Self.bravoNumber; $0.from = "+15550004444"
            }, metadata: inbound.metadata)
            let movedNumber = try await inbound.client.handleAiVoiceTurn(.with {
                $0.callSid = Self.sid("CA", 12); $0.to = Self.acmeNumber; $0.from = "+15550004444"
                $0.speechResult = "Is Tuesday free?"; $0.confidence = 0.9; $0.attempt = 1
            }, metadata: inbound.metadata)
            #expect(!movedNumber.instructions.contains { $0.say.text.contains("text you back") }, "\(movedNumber.instructions)")
            #expect(movedNumber.instructions.contains { $0.say.text == "Let me connect you with someone." }, "\(movedNumber.instructions)")
            #expect(try await Self.loggedCall(Self.sid("CA", 12), platform)?.callerSaid.isEmpty == true, "bravo's call keeps nothing of acme's turn")
        }
    }

    @Test("a suspended or cancelled tenant's callers are put through and its texts logged, without the menu, the receptionist or texts on its behalf", arguments: TestBackend.available)
    func suspendedTenantKeepsOnlyTheBasics(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform, acmeMode: .aiVoice)
            #expect(try await inbound.call(Self.sid("CA", 40), to: Self.acmeNumber).ivrMode == .aiVoice)
            for (n, status) in [(41, TenantStatus.suspended), (51, .cancelled)] {
                _ = try await platform.setStatus("acme", status)
                let call = try await inbound.call(Self.sid("CA", n), to: Self.acmeNumber)
                #expect(call.ivrMode == .simple, "\(status)")
                #expect(call.instructions.map(\.dialNumber.number) == ["+19185559999"], "\(status): \(call.instructions)")
                // A call that began with the receptionist is handed to a person at its next turn.
                let turn = try await inbound.client.handleAiVoiceTurn(.with {
                    $0.callSid = Self.sid("CA", 40); $0.to = Self.acmeNumber; $0.from = "+15550001111"
                    $0.speechResult = "Can you come Friday?"; $0.confidence = 0.9; $0.attempt = Int32(n)
                }, metadata: inbound.metadata)
                #expect(turn.instructions.contains { $0.dialNumber.number == "+19185559999" }, "\(status): \(turn.instructions)")
                #expect(!turn.instructions.contains { $0.say.text.contains("text you back") })
                // Digits for a menu the line no longer plays put the caller through too.
                let digits = try await inbound.digits("2", sid: Self.sid("CA", n), to: Self.acmeNumber, attempt: 1)
                #expect(digits.instructions.contains { $0.dialNumber.number == "+19185559999" }, "\(status): \(digits.instructions)")

                let text = try await inbound.text(Self.sid("SM", n), to: Self.acmeNumber, from: "+1555000\(n)00")
                #expect(text.replies.isEmpty, "\(status): no auto-reply")
                #expect(text.message.autoReply.isEmpty)
                #expect(!text.message.customer.isEmpty, "the sender is still linked")
            }
            // A cancelled tenant's logs are read from the store: only export reads them by API.
            let (sent, logged) = try await platform.database.transaction(.platform) { tx in
                (try await tx.query("SELECT purpose FROM outbox_messages WHERE tenant_id = 'acme'").map { try $0.string("purpose") },
                 try await tx.query("SELECT message_sid FROM text_messages WHERE tenant_id = 'acme'").count)
            }
            #expect(sent.isEmpty, "nothing texted on acme's behalf: \(sent)")
            #expect(logged == 2)
        }
    }

    @Test("a caller nobody can be rung for is offered a voicemail, never just hung up on", arguments: TestBackend.available)
    func nobodyToRing(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            try await Self.clearAcmeForwardNumber(platform)
            let isRecord: (VoiceInstruction) -> Bool = { if case .record? = $0.instruction { true } else { false } }
            let sid = Self.sid("CA", 21)
            _ = try await inbound.call(sid, to: Self.acmeNumber)
            let person = try await inbound.digits("3", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(person.instructions.contains(where: isRecord), "\(person.instructions)")
            let lost = try await inbound.digits("", sid: sid, to: Self.acmeNumber, attempt: 2)
            #expect(lost.instructions.contains(where: isRecord), "\(lost.instructions)")
        }
    }

    @Test("the AI receptionist promises a text back only when one can be sent; otherwise a person or a voicemail takes the request", arguments: TestBackend.available)
    func aiPromisesOnlyWhatCanBeDone(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform, acmeMode: .aiVoice)
            func turn(_ sid: String, from: String = "+15550001111") async throws -> VoiceReply {
                _ = try await inbound.client.handleInboundCall(.with { $0.callSid = sid; $0.to = Self.acmeNumber; $0.from = from }, metadata: inbound.metadata)
                return try await inbound.client.handleAiVoiceTurn(.with {
                    $0.callSid = sid; $0.to = Self.acmeNumber; $0.from = from
                    $0.speechResult = "Can you do Saturday?"; $0.confidence = 0.9; $0.attempt = 1
                }, metadata: inbound.metadata)
            }
            let promised: (VoiceReply) -> Bool = { $0.instructions.contains { $0.say.text.contains("text you back") } }
            // No contact phone: the line's forward number is told, and the promise holds.
            let toForward = try await turn(Self.sid("CA", 31))
            #expect(promised(toForward))
            let told = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT recipient FROM outbox_messages WHERE purpose = 'ai_voice_request'").map { try $0.string("recipient") }
            }
            #expect(told == ["+19185559999"])
            // A caller who withheld their number cannot be texted back: put through instead.
            let withheld = try await turn(Self.sid("CA", 32), from: "+266696687")
            #expect(!promised(withheld))
            #expect(withheld.instructions.contains { $0.dialNumber.number == "+19185559999" && $0.dialNumber.action.route == .dialResult })
            // Nobody to text and nobody to ring: a voicemail, and the request still in the call log.
            try await Self.clearAcmeForwardNumber(platform)
            let alone = try await turn(Self.sid("CA", 33))
            #expect(!promised(alone))
            #expect(alone.instructions.contains { if case .record? = $0.instruction { true } else { false } })
            let logged = try #require(try await Self.loggedCall(Self.sid("CA", 33), platform))
            #expect(logged.callerSaid == ["Can you do Saturday?"])
        }
    }

    /// The id of the stored call with `callSid`, under any tenant.
    /// The call with `callSid` as its tenant's call log shows it, whichever tenant has it.
    static func loggedCall(_ callSid: String, _ platform: TestPlatform) async throws -> PhoneCall? {
        let row = try await platform.database.transaction(.platform) { tx in
            try await tx.first("SELECT tenant_id, call_id FROM phone_calls WHERE call_sid = \(callSid)")
        }
        guard let row else { return nil }
        return try await CommunicationLogService.Client(wrapping: platform.client).getCall(
            .with { $0.name = "tenants/\(try row.string("tenant_id"))/calls/\(try row.string("call_id"))" },
            metadata: platform.metadata(platform.ownerToken))
    }

    @Test("menu digits: known options act, unknown repeats once, then puts the caller through", arguments: TestBackend.available)
    func ivrDigits(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let sid = Self.sid("CA", 4)
            let answered = try await inbound.call(sid, to: Self.acmeNumber)
            #expect(answered.instructions.first?.gather.prompts.first?.text == "Thanks for calling Acme Detailing! We're glad you reached us.")
            let booking = try await inbound.digits("2", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(booking.instructions.contains { $0.say.text.contains("texted you how to book") })
            let person = try await inbound.digits("3", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(person.instructions.contains { $0.dialNumber.number == "+19185559999" && $0.dialNumber.action.route == .dialResult })
            let voicemail = try await inbound.digits("7", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(voicemail.instructions.contains { if case .record? = $0.instruction { true } else { false } })
            let wrong = try await inbound.digits("9", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(wrong.instructions.first?.gather.action.attempt == 2)
            #expect(wrong.instructions.first?.gather.prompts.first?.text.hasPrefix("Sorry") == true)
            let again = try await inbound.digits("", sid: sid, to: Self.acmeNumber, attempt: 2)
            // Rung through as "speak to someone" is: if nobody answers, a voicemail follows.
            #expect(again.instructions.contains { $0.dialNumber.number == "+19185559999" && $0.dialNumber.action.route == .dialResult })

            let call = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first
            #expect(call?.ivrSelections == ["2", "3", "7", "9"])

            // The menu is filled in as each call plays it: a new name is heard at once.
            _ = try await platform.tenants(platform.ownerToken).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.displayName = "Acme Auto Spa" }
                $0.updateMask = .init(protoPaths: ["display_name"])
            })
            let renamed = try await inbound.call(Self.sid("CA", 9), to: Self.acmeNumber)
            #expect(renamed.instructions.first?.gather.prompts.first?.text == "Thanks for calling Acme Auto Spa! We're glad you reached us.")
        }
    }

    @Test("each menu's key is recorded once: a key press Twilio sends again finds its step taken", arguments: TestBackend.available)
    func ivrStepsRecordOnce(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let sid = Self.sid("CA", 5)
            func selections() async throws -> [String] {
                try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                    .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first?.ivrSelections ?? []
            }
            func step(_ reply: VoiceReply) -> Int32? {
                reply.instructions.last { $0.gather.action.route == .ivrSelection }.map { $0.gather.action.hasStep ? $0.gather.action.step : -1 }
            }
            let answered = try await inbound.call(sid, to: Self.acmeNumber)
            #expect(step(answered) == 0)

            // "Services and prices", with none listed yet: a quote is offered and the menu again.
            let first = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1, step: 0)
            #expect(step(first) == 1)
            let resent = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1, step: 0)
            #expect(resent == first, "the same request, the same answer")
            #expect(try await selections() == ["1"])

            // The same key at the next menu is a key of its own.
            let second = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1, step: 1)
            #expect(step(second) == 2)
            #expect(try await selections() == ["1", "1"])
            // The first key sent again after the second was taken: still recorded once.
            _ = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1, step: 0)
            #expect(try await selections() == ["1", "1"])
            // Nothing pressed: nothing recorded, the same step offered again.
            let silent = try await inbound.digits("", sid: sid, to: Self.acmeNumber, attempt: 1, step: 2)
            #expect(step(silent) == 2)
            // A menu offered before steps were carried: every key is recorded, as it was.
            _ = try await inbound.digits("9", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(try await selections() == ["1", "1", "9"])
        }
    }

    @Test("booking by text sends the tenant's booking link, or asks the caller to reply while it has none", arguments: TestBackend.available)
    func bookingLink(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let owner = platform.metadata(platform.ownerToken)
            let tenants = platform.tenants(platform.ownerToken)
            let configs = PhoneConfigService.Client(wrapping: platform.client)
            /// Presses 2 on a new call: what the caller hears first, and what they are texted.
            func book(call: Int) async throws -> (said: String, texted: String?) {
                let sid = Self.sid("CA", call)
                _ = try await inbound.call(sid, to: Self.acmeNumber)
                let reply = try await inbound.digits("2", sid: sid, to: Self.acmeNumber, attempt: 1)
                let texted = try await platform.database.withTenant("acme") { tx in
                    try await tx.select("body", from: "outbox_messages", where: "dedupe_key = \("ivr/\(sid)/2")").first?.string("body")
                }
                return (reply.instructions.first?.say.text ?? "", texted)
            }
            func setBookingURL(_ url: String) async throws -> Tenant { try await Self.setAcmeBookingURL(url, platform) }

            let noLink = try await book(call: 20)
            #expect(noLink.said == "We've just texted you how to book. Thanks for calling!")
            #expect(noLink.texted == "Thanks for calling Acme Detailing! Reply with the service you'd like and a day and time that suit you, and we'll get you booked.")

            #expect(try await setBookingURL("https://acme.example/book").bookingURL == "https://acme.example/book")
            let linked = try await book(call: 21)
            #expect(linked.said == "We've just texted you a link to book online. Thanks for calling!")
            #expect(linked.texted == "Book with Acme Detailing online: https://acme.example/book")

            // An industry pack's menu replaces the standard one, and its booking text carries the link.
            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: owner)
            let packed = try await book(call: 24)
            #expect(packed.said.contains("link to book online"))
            #expect(packed.texted?.hasPrefix("Thanks for calling Acme Detailing! Book your detail online: https://acme.example/book Or reply with your vehicle") == true)

            // The option's own text wins, with the link filled in where it names it.
            _ = try await configs.updatePhoneConfig(.with {
                $0.phoneConfig = .with {
                    $0.name = "tenants/acme/phoneConfigs/main"
                    $0.ivrMenu.options = [.with {
                        $0.digit = "2"; $0.action = .bookingLinkSms; $0.prompt = "To book, press 2."
                        $0.smsBody = "Pick a slot with {{business_name}}: {{booking_url}} (Fridays fill fast)"
                    }]
                }
                $0.updateMask = .init(protoPaths: ["ivr_menu"])
            }, metadata: owner)
            #expect(try await book(call: 22).texted == "Pick a slot with Acme Detailing: https://acme.example/book (Fridays fill fast)")

            // Without a link the text that names it gives way to the invitation to reply.
            #expect(try await setBookingURL("").bookingURL.isEmpty)
            let cleared = try await book(call: 23)
            #expect(cleared.said.contains("how to book"))
            #expect(cleared.texted?.hasPrefix("Thanks for calling Acme Detailing! Reply with") == true)

            // A booking link must be https; a refused one changes nothing.
            for bad in ["http://acme.example/book", "acme.example/book", "https://acme.example/a b"] {
                let refused = await failure { try await setBookingURL(bad) }
                #expect(refused?.code == .invalidArgument, "\(bad)")
                #expect(refused?.fields == ["tenant.booking_url"], "\(bad)")
            }
            #expect(try await tenants.getTenant(.with { $0.name = "tenants/acme" }).bookingURL.isEmpty)

            // A menu text may name only what a line can fill.
            let unknown = await failure {
                try await configs.updatePhoneConfig(.with {
                    $0.phoneConfig = .with {
                        $0.name = "tenants/acme/phoneConfigs/main"
                        $0.ivrMenu.greeting = "Hi from {{booking_url}}"
                        $0.ivrMenu.options = [
                            .with { $0.digit = "2"; $0.action = .bookingLinkSms; $0.smsBody = "See you {{start_time}}" },
                            // Said aloud as well as texted: no link.
                            .with { $0.digit = "1"; $0.action = .servicesAndPrices; $0.smsBody = "Prices at {{booking_url}}" },
                        ]
                    }
                    $0.updateMask = .init(protoPaths: ["ivr_menu"])
                }, metadata: owner)
            }
            #expect(unknown?.code == .invalidArgument)
            #expect(unknown?.fields == ["phone_config.ivr_menu.greeting", "phone_config.ivr_menu.options[0].sms_body", "phone_config.ivr_menu.options[1].sms_body"])
        }
    }

    @Test("every pack's menu, every key, with and without a booking link: callers hear and are texted no placeholder", arguments: TestBackend.available)
    func packMenusLeaveNoPlaceholder(backend: TestBackend) async throws {
        let packs = try IndustryPackCatalog.bundled().all
        #expect(packs.count >= 5)
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            let inbound = InboundClient(client: InboundService.Client(wrapping: platform.client), metadata: platform.metadata(platform.bridgeToken))
            var calls = 0
            for (index, pack) in packs.enumerated() {
                let tenantID = "pack-\(index)", number = "+1918555030\(index)", businessName = "\(pack.displayName) Co"
                try await platform.createTenant(tenantID, displayName: businessName)
                try await platform.setPlan(tenantID, .elite)
                _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                    $0.parent = "tenants/\(tenantID)"; $0.phoneConfigID = "main"
                    $0.phoneConfig = .with { $0.phoneNumber = number; $0.ivrMode = .ivr }
                }, metadata: owner)
                _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                    .with { $0.name = "tenants/\(tenantID)"; $0.industryPack = pack.name }, metadata: owner)
                for link in ["", "https://\(tenantID).example/book"] {
                    _ = try await platform.tenants(platform.ownerToken).updateTenant(.with {
                        $0.tenant = .with { $0.name = "tenants/\(tenantID)"; $0.bookingURL = link }
                        $0.updateMask = .init(protoPaths: ["booking_url"])
                    })
                    for option in pack.ivrMenu.options {
                        calls += 1
                        let sid = Self.sid("CA", 1000 + calls)
                        let answered = try await inbound.call(sid, to: number)
                        let chosen = try await inbound.digits(option.digit, sid: sid, to: number, attempt: 1)
                        let heard = (answered.instructions + chosen.instructions).flatMap { [$0.say.text] + $0.gather.prompts.map(\.text) }.filter { !$0.isEmpty }
                        let texted = try await platform.database.withTenant(tenantID) { tx in
                            try await tx.select("body", from: "outbox_messages", where: "dedupe_key = \("ivr/\(sid)/\(option.digit)")")
                                .map { try $0.string("body") }
                        }
                        for words in heard + texted {
                            #expect(!words.contains("{{") && !words.contains("}}"), "\(pack.name), key \(option.digit): \(words)")
                        }
                        #expect(heard.first?.contains(businessName) == true, "the greeting names the business")
                        if option.action == .bookingLinkSms {
                            #expect(texted.count == 1)
                            #expect(texted.first?.contains(businessName) == true)
                            #expect(texted.first?.contains(link.isEmpty ? "https://" : link) == !link.isEmpty, "\(pack.name): \(texted)")
                        }
                    }
                }
            }
        }
    }

    @Test("a first text's auto-reply is the number's own, else the pack's once the tenant has a booking link, else the standard one", arguments: TestBackend.available)
    func autoReplyWithBookingLink(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let owner = platform.metadata(platform.ownerToken)
            func firstText(_ number: Int) async throws -> [String] {
                try await inbound.text(Self.sid("SM", 50 + number), to: Self.acmeNumber, from: "+1555100\(String(format: "%04d", number))").replies.map(\.body)
            }
            let standard = "Thanks for texting Acme Detailing! We got your message and will reply shortly."
            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: owner)
            #expect(try await firstText(1) == [standard], "the pack's text needs a booking link")

            _ = try await Self.setAcmeBookingURL("https://acme.example/book", platform)
            #expect(try await firstText(2) == [
                "Thanks for texting Acme Detailing! We're usually out detailing, so we'll reply as soon as we can. You can also book online: https://acme.example/book",
            ])

            _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/acme/phoneConfigs/main"; $0.autoReply.text = "Book {{business_name}} at {{booking_url}}" }
                $0.updateMask = .init(protoPaths: ["auto_reply.text"])
            }, metadata: owner)
            #expect(try await firstText(3) == ["Book Acme Detailing at https://acme.example/book"])

            _ = try await Self.setAcmeBookingURL("", platform)
            #expect(try await firstText(4) == [standard], "neither the number's text nor the pack's can be sent without the link")
        }
    }

    @Test("a text replayed from the bridge's spool gets its acknowledgement through the outbox, once", arguments: TestBackend.available)
    func replayedTextAcknowledgedThroughTheOutbox(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let replay = HandleInboundMessageRequest.with {
                $0.messageSid = Self.sid("SM", 40); $0.to = Self.acmeNumber; $0.from = "+15550004444"
                $0.body = "Sent while you were down"; $0.replayed = true
            }
            let first = try await inbound.client.handleInboundMessage(replay, metadata: inbound.metadata)
            #expect(first.replies.isEmpty, "no TwiML can carry it: Twilio had its answer long ago")
            #expect(first.message.customer.hasPrefix("tenants/acme/customers/"))
            #expect(first.message.autoReply.hasPrefix("Thanks for texting Acme Detailing!"), "the log still shows what it was answered with")
            _ = try await inbound.client.handleInboundMessage(replay, metadata: inbound.metadata)
            let queued = try await OutboxService.Client(wrapping: platform.client).listOutboxMessages(
                .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).outboxMessages
            #expect(queued.count == 1, "a replay of the replay queues nothing more")
            #expect(queued.first?.channel == .sms)
            #expect(queued.first?.recipient == "+15550004444")
            #expect(queued.first?.sender == Self.acmeService)
            #expect(queued.first?.purpose == "auto_reply")

            // The first attempt ran to the end, but the bridge gave up on its answer and spooled
            // the text: Twilio got no acknowledgement, so the replay queues the one it carried.
            let live = HandleInboundMessageRequest.with {
                $0.messageSid = Self.sid("SM", 41); $0.to = Self.acmeNumber; $0.from = "+15550005555"; $0.body = "Hello?"
            }
            let answered = try await inbound.client.handleInboundMessage(live, metadata: inbound.metadata)
            let acknowledgement = try #require(answered.replies.first?.body)
            var replayedLive = live
            replayedLive.replayed = true
            for _ in 1...2 { _ = try await inbound.client.handleInboundMessage(replayedLive, metadata: inbound.metadata) }
            // A regular's text carried none: its replay queues nothing.
            var regular = live
            regular.messageSid = Self.sid("SM", 42)
            _ = try await inbound.client.handleInboundMessage(regular, metadata: inbound.metadata)
            regular.replayed = true
            _ = try await inbound.client.handleInboundMessage(regular, metadata: inbound.metadata)
            let owed = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT body FROM outbox_messages WHERE tenant_id = 'acme' AND recipient = '+15550005555'").map { try $0.string("body") }
            }
            #expect(owed == [acknowledgement], "queued once, and only for the text that carried it")
        }
    }

    @Test("a replay that overlaps its first attempt still queues the acknowledgement that attempt records", arguments: TestBackend.available)
    func replayOverlappingItsFirstAttempt(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let text = HandleInboundMessageRequest.with {
                $0.messageSid = Self.sid("SM", 43); $0.to = Self.acmeNumber; $0.from = "+15550006666"; $0.body = "Anyone there?"
            }
            // The first attempt stored the text and has made its new sender's customer, in a
            // transaction still open when the bridge's replay arrives (the bridge gave up
            // waiting): on PostgreSQL the replay reads the text unlinked, and then finds the
            // customer made by that attempt, not by itself, once the attempt has linked it and
            // recorded the acknowledgement.
            _ = try await CommunicationRecords.insertIfNew([.init(
                message: .with { $0.messageSid = text.messageSid; $0.direction = .inbound; $0.from = text.from; $0.to = text.to; $0.body = text.body; $0.status = .received },
                id: "overlapped", phoneConfigID: "main")], tenantID: "acme", platform.database)
            // The replay is sent once the attempt has made the customer, not after a guess at how
            // long that takes: sent earlier, it would make the customer itself.
            let (creating, created) = AsyncStream<Void>.makeStream()
            async let firstAttempt: Void = platform.database.withTenant("acme") { tx in
                // Failing before the signal, it ends the wait rather than leaving the test hanging.
                defer { created.finish() }
                let customer = try #require(try await CustomerRecords.findOrCreate(phone: text.from, tx))
                created.yield()
                try await Task.sleep(for: .milliseconds(600))
                try await CommunicationRecords.linkCustomer(customer.id, toMessage: text.messageSid, tx)
                try await CommunicationRecords.recordAutoReply("Thanks for texting Acme Detailing!", toMessage: text.messageSid, tx)
            }
            for await _ in creating { break }
            var replay = text
            replay.replayed = true
            let replayed = try await inbound.client.handleInboundMessage(replay, metadata: inbound.metadata)
            try await firstAttempt
            #expect(replayed.replies.isEmpty)
            let owed = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT body, purpose FROM outbox_messages WHERE tenant_id = 'acme' AND recipient = '+15550006666'")
                    .map { "\(try $0.string("purpose")): \(try $0.string("body"))" }
            }
            #expect(owed == ["auto_reply: Thanks for texting Acme Detailing!"])
        }
    }

    @Test("a text the caller asks for goes through the outbox from the tenant's line, once per call and key", arguments: TestBackend.available)
    func ivrTextsGoThroughTheOutbox(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let outbox = OutboxService.Client(wrapping: platform.client)
            func queued() async throws -> [OutboxMessage] {
                try await outbox.listOutboxMessages(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).outboxMessages
            }
            let sid = Self.sid("CA", 5)
            _ = try await inbound.call(sid, to: Self.acmeNumber)
            let booking = try await inbound.digits("2", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(booking.instructions.last == Self.hangup)
            // Twilio retrying the same webhook queues nothing more.
            _ = try await inbound.digits("2", sid: sid, to: Self.acmeNumber, attempt: 1)
            let texts = try await queued()
            #expect(texts.count == 1)
            #expect(texts.first?.channel == .sms)
            #expect(texts.first?.recipient == "+15550001111")
            #expect(texts.first?.sender == Self.acmeService, "from the tenant's Messaging Service, not the platform's sender")
            #expect(texts.first?.purpose == "ivr")
            let body = try await platform.database.withTenant("acme") { tx in
                try await tx.select("body", from: "outbox_messages").first?.string("body")
            }
            #expect(body?.contains("Acme Detailing") == true)

            // A withheld number cannot take a text, whether Twilio sends a word or ANONYMOUS
            // spelled as digits: the caller hears so, and nothing is queued. With services and
            // prices to read out, those are read and not texted.
            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: platform.metadata(platform.ownerToken))
            let withheld = Self.sid("CA", 6)
            _ = try await inbound.call(withheld, to: Self.acmeNumber)
            for from in ["anonymous", "+266696687"] {
                let refused = try await inbound.digits("2", sid: withheld, to: Self.acmeNumber, attempt: 1, from: from)
                #expect(refused.instructions.first?.say.text.contains("can't text") == true)
                #expect(refused.instructions.contains { $0.gather.action.route == .ivrSelection }, "back to the menu")
                let prices = try await inbound.digits("1", sid: withheld, to: Self.acmeNumber, attempt: 1, from: from)
                #expect(prices.instructions.first?.say.text.hasPrefix("Acme Detailing's services:") == true, "\(prices.instructions)")
                #expect(!prices.instructions.contains { $0.say.text.contains("texted") }, "nothing said about a text")
            }
            #expect(try await queued().count == 1)
            let answered = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(answered.instructions.contains { $0.say.text.contains("texted this to you") })
            #expect(try await queued().count == 2)
        }
    }

    @Test("services and prices reads out the tenant's own services with their prices, and texts them", arguments: TestBackend.available)
    func servicesAndPrices(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let owner = platform.metadata(platform.ownerToken)
            let sid = Self.sid("CA", 7)
            _ = try await inbound.call(sid, to: Self.acmeNumber)

            // No services yet: the caller hears so and is back at the menu; nothing is texted.
            let none = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1)
            #expect(none.instructions.first?.say.text.contains("quote") == true)
            #expect(none.instructions.contains { $0.gather.action.route == .ivrSelection })
            let outbox = OutboxService.Client(wrapping: platform.client)
            #expect(try await outbox.listOutboxMessages(.with { $0.parent = "tenants/acme" }, metadata: owner).outboxMessages.isEmpty)

            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: owner)
            let prices = try await inbound.digits("1", sid: sid, to: Self.acmeNumber, attempt: 1)
            let said = prices.instructions.first?.say.text ?? ""
            #expect(said.hasPrefix("Acme Detailing's services: Full Detail, $249. Interior Detail, $169."), "\(said)")
            #expect(prices.instructions.dropFirst().first?.say.text == "We've texted this to you as well.")
            #expect(prices.instructions.last?.gather.action.route == .ivrSelection, "back to the menu")
            let texted = try await outbox.listOutboxMessages(.with { $0.parent = "tenants/acme" }, metadata: owner).outboxMessages
            #expect(texted.count == 1)
            let body = try await platform.database.withTenant("acme") { tx in
                try await tx.select("body", from: "outbox_messages").first?.string("body")
            }
            #expect(body == said, "the text says what the caller heard")
        }
    }

    @Test("prices are written as people write them, in the currency's own minor unit")
    func priceFormatting() throws {
        #expect(PriceList.price(24900, currencyCode: "USD") == "$249")
        #expect(PriceList.price(8950, currencyCode: "USD") == "$89.50")
        #expect(PriceList.price(150000, currencyCode: "") == "$1,500")
        #expect(PriceList.price(4500, currencyCode: "EUR") == "€45")
        #expect(PriceList.price(5000, currencyCode: "JPY") == "¥5,000", "the yen has no minor unit")
        #expect(PriceList.price(12345, currencyCode: "BHD") == "BHD 12.345", "the dinar has three")
        #expect(PriceList.price(150_050, currencyCode: "RSD") == "RSD 1,500.50", "ISO's minor unit, not ICU's display digits")
        let list = PriceList(services: [
            .with { $0.name = "Bath"; $0.priceCents = 4500; $0.currencyCode = "USD" },
            .with { $0.name = "Nail trim" },
            .with { $0.priceCents = 100 },
        ])
        #expect(list.text(businessName: "Paws") == "Paws's services: Bath, $45. Nail trim.")
        #expect(list.text(businessName: nil) == "Our services: Bath, $45. Nail trim.")
        #expect(PriceList(services: []).text(businessName: "Paws") == nil)
        // As many as fit in one text.
        let many = PriceList(services: (1...200).map { number in .with { $0.name = "Service \(number)"; $0.priceCents = 100 } })
        let text = try #require(many.text(businessName: "Paws"))
        #expect(text.count <= OutboxRecords.maxTextLength)
        #expect(text.hasSuffix("$1."))
        #expect(text.contains("Service 1,") && !text.contains("Service 200,"))
    }

    @Test("status callbacks update the logs", arguments: TestBackend.available)
    func statusCallbacks(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform)
            let call = Self.sid("CA", 5)
            _ = try await inbound.call(call, to: Self.bravoNumber)
            let done = try await inbound.client.recordCallStatus(.with {
                $0.callSid = call; $0.status = .completed; $0.duration = .init(seconds: 42)
            }, metadata: inbound.metadata)
            #expect(done.status == .completed)
            #expect(done.duration.seconds == 42)
            #expect(done.hasEndTime)

            let text = Self.sid("SM", 6)
            _ = try await inbound.text(text, to: Self.bravoNumber)
            let read = try await inbound.client.recordMessageStatus(.with { $0.messageSid = text; $0.status = .read }, metadata: inbound.metadata)
            #expect(read.status == .read)
            let unknown = await failure {
                try await inbound.client.recordMessageStatus(.with { $0.messageSid = Self.sid("SM", 999); $0.status = .read }, metadata: inbound.metadata)
            }
            #expect(unknown?.code == .notFound)
        }
    }

    @Test("what Twilio could never send is refused naming the field, and changes nothing", arguments: TestBackend.available)
    func outOfRangeBridgeInputs(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let inbound = try await Self.setUp(platform, acmeMode: .aiVoice)
            let logs = CommunicationLogService.Client(wrapping: platform.client)
            let owner = platform.metadata(platform.ownerToken)
            let call = Self.sid("CA", 7)
            _ = try await inbound.call(call, to: Self.acmeNumber)

            let negativeDuration = await failure {
                try await inbound.client.recordCallStatus(.with {
                    $0.callSid = call; $0.status = .completed; $0.duration = .init(seconds: -42)
                }, metadata: inbound.metadata)
            }
            #expect(negativeDuration?.code == .invalidArgument)
            #expect(negativeDuration?.fields == ["duration"])
            let logged = try #require(try await logs.listCalls(.with { $0.parent = "tenants/acme" }, metadata: owner).calls.first)
            #expect(logged.status != .completed && !logged.hasDuration, "a refused status callback moved the call")

            for confidence in [Float(1.5), -0.1, .nan] {
                let refused = await failure {
                    try await inbound.client.handleAiVoiceTurn(.with {
                        $0.callSid = call; $0.to = Self.acmeNumber; $0.speechResult = "A wash on Friday"; $0.confidence = confidence; $0.attempt = 1
                    }, metadata: inbound.metadata)
                }
                #expect(refused?.fields == ["confidence"], "\(confidence)")
            }
            let negativeAttempt = await failure { try await inbound.digits("1", sid: call, to: Self.acmeNumber, attempt: -1) }
            #expect(negativeAttempt?.fields == ["attempt"])

            let text = Self.sid("MM", 8)
            for (urls, field) in [
                ((0...10).map { "https://api.twilio.com/media/ME\($0)" }, "media_urls"),
                (["http://api.twilio.com/media/ME0"], "media_urls[0]"),
            ] {
                let refused = await failure {
                    try await inbound.client.handleInboundMessage(.with {
                        $0.messageSid = text; $0.to = Self.acmeNumber; $0.from = "+15550001111"; $0.mediaUrls = urls
                    }, metadata: inbound.metadata)
                }
                #expect(refused?.fields == [field])
            }
            #expect(try await logs.listMessages(.with { $0.parent = "tenants/acme" }, metadata: owner).messages.isEmpty)
            let tenMedia = try await inbound.client.handleInboundMessage(.with {
                $0.messageSid = text; $0.to = Self.acmeNumber; $0.from = "+15550001111"
                $0.mediaUrls = (0..<10).map { "https://api.twilio.com/media/ME\($0)" }
            }, metadata: inbound.metadata)
            #expect(tenMedia.message.mediaUrls.count == 10)
        }
    }

    @Test("a starter plan's IVR number answers in simple mode")
    func planDowngrade() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let inbound = try await Self.setUp(platform)
            try await platform.setPlan("acme", .starter)
            let reply = try await inbound.call(Self.sid("CA", 7), to: Self.acmeNumber)
            #expect(reply.ivrMode == .simple)
        }
    }
}
