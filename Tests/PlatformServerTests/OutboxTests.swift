import Foundation
import GRPCCore
import Logging
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Synchronization
import Testing

@testable import PlatformServer

/// The outbox on every store: messages queued in the transaction of the change that wants them,
/// delivered through Twilio Messages and SendGrid v3 mail (local fakes that check the wire
/// format) with retries and backoff, never twice, and read back over gRPC.
@Suite("Outbox")
struct OutboxTests {
    static let smsFrom = "+19185550100"

    static func settings(base: String, smsFrom: String = OutboxTests.smsFrom, authToken: String = FakeMessagingProviders.twilioAuthToken,
                         maxAttempts: Int = 6, batchSize: Int = 20) -> OutboxSettings {
        OutboxSettings(
            twilio: TwilioMessagingSettings(
                accountSID: FakeMessagingProviders.twilioAccountSID, authToken: authToken, from: smsFrom, apiURL: base),
            sendGrid: SendGridSettings(
                apiKey: FakeMessagingProviders.sendGridAPIKey, fromEmail: "hello@servicepro.test", fromName: "ServicePro", apiURL: base),
            maxAttempts: maxAttempts,
            batchSize: batchSize)
    }

    static func worker(_ platform: TestPlatform, _ settings: OutboxSettings, name: String = "outbox-test", logger: Logger? = nil) -> OutboxWorker {
        var quiet = Logger(label: "test.outbox")
        quiet.logLevel = .critical
        return OutboxWorker(database: platform.database, settings: settings, logger: logger ?? quiet, worker: name)
    }

    @discardableResult
    static func enqueue(_ platform: TestPlatform, _ draft: OutboxDraft, tenant: String = "acme", now: Date = Date()) async throws -> OutboxMessage {
        try await platform.database.withTenant(tenant) { tx in try await OutboxRecords.enqueue(draft, tx, now: now) }
    }

    /// The row behind `message`, body included.
    static func stored(_ platform: TestPlatform, _ message: OutboxMessage) async throws -> OutboxRecord {
        let tenant = try #require(ResourceName.tenantID(of: message.name))
        let id = try #require(ResourceName.id(of: message.name, after: "outboxMessages"))
        let record = try await platform.database.withTenant(tenant) { try await OutboxRecords.find(messageID: id, $0) }
        return try #require(record)
    }

    static func count(_ platform: TestPlatform, where condition: String = "1 = 1") async throws -> Int64 {
        try await platform.database.transaction(.platform) { tx in
            try await tx.first(SQLStatement(sql: "SELECT COUNT(*) AS n FROM outbox_messages WHERE \(condition)"))!.int("n")
        }
    }

    /// The retry times a pass run at `now`, which took `took`, may record `wait` after a failure:
    /// the pass's clock runs on from `now` while it works, so on a loaded machine the failure may
    /// be seconds after `now`. (A second either side allows for how precisely the store keeps times.)
    static func retryTimes(_ wait: TimeInterval, after now: Date, passTook took: TimeInterval) -> ClosedRange<Date> {
        now.addingTimeInterval(wait - 1)...now.addingTimeInterval(wait + took + 1)
    }

    /// Runs passes until one finds nothing due; returns how many messages the worker handled.
    static func drain(_ worker: OutboxWorker) async throws -> Int {
        var handled = 0
        while true {
            let pass = try await worker.runOnce()
            if pass == 0 { return handled }
            handled += pass
        }
    }

    @Test("a text and an email go out once, through Twilio and SendGrid in their wire formats", arguments: TestBackend.available)
    func delivered(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                try await platform.createTenant("acme")
                let text = try await Self.enqueue(platform, .sms(to: "+19185550123", body: "Welcome to ServicePro! Your line is ready.", purpose: "onboarding"))
                let email = try await Self.enqueue(platform, .email(
                    to: "owner@acme.test", subject: "Welcome to ServicePro", body: "Sign in: https://app.servicepro.test/l/abc123", purpose: "onboarding"))
                #expect(text.name.hasPrefix("tenants/acme/outboxMessages/"))
                #expect(text.state == .pending)
                #expect(text.channel == .sms)
                #expect(text.purpose == "onboarding")
                #expect(text.attempts == 0)
                #expect(text.hasNextAttemptTime)
                #expect(email.subject == "Welcome to ServicePro")

                let worker = Self.worker(platform, Self.settings(base: base))
                #expect(try await worker.runOnce() == 2)
                #expect(try await worker.runOnce(now: Date().addingTimeInterval(86_400)) == 0, "nothing goes out twice")

                let texts = fake.texts
                #expect(texts.count == 1)
                #expect(texts.first?.accountSID == FakeMessagingProviders.twilioAccountSID)
                #expect(texts.first?.form == ["To": "+19185550123", "From": Self.smsFrom, "Body": "Welcome to ServicePro! Your line is ready."])
                let mails = fake.mails
                #expect(mails.count == 1)
                let mail = try #require(mails.first)
                #expect(mail.to == ["owner@acme.test"])
                #expect(mail.fromEmail == "hello@servicepro.test")
                #expect(mail.fromName == "ServicePro")
                #expect(mail.subject == "Welcome to ServicePro")
                #expect(mail.contentType == "text/plain")
                #expect(mail.text == "Sign in: https://app.servicepro.test/l/abc123")
                #expect(mail.customArgs == ["outbox_message": email.name], "the message's name travels with the email")

                let sentText = try await Self.stored(platform, text)
                #expect(sentText.state == .delivered)
                #expect(sentText.attempts == 1)
                #expect(sentText.providerMessageID == texts.first?.sid)
                #expect(sentText.providerMessageID.hasPrefix("SM"))
                #expect(sentText.deliverTime != nil)
                #expect(sentText.lastError.isEmpty)
                #expect(sentText.body.isEmpty, "a delivered message's body is not kept")
                #expect(!sentText.message.hasNextAttemptTime)
                let sentEmail = try await Self.stored(platform, email)
                #expect(sentEmail.state == .delivered)
                #expect(sentEmail.providerMessageID == mail.messageID)
                #expect(!sentEmail.providerMessageID.isEmpty)

                // A Messaging Service sid goes as MessagingServiceSid instead of From.
                let service = "MG0123456789abcdef0123456789abcdef"
                let viaService = try await Self.enqueue(platform, .sms(to: "+19185550124", body: "Via the service", purpose: "onboarding"))
                #expect(try await Self.worker(platform, Self.settings(base: base, smsFrom: service)).runOnce() == 1)
                #expect(fake.texts.last?.form == ["To": "+19185550124", "MessagingServiceSid": service, "Body": "Via the service"])
                #expect(try await Self.stored(platform, viaService).state == .delivered)

                // A text that names its sender (a tenant's line) goes from it, number or service.
                _ = try await Self.enqueue(platform, .sms(to: "+19185550125", from: "+19185550101", body: "From the line", purpose: "ivr"))
                _ = try await Self.enqueue(platform, .sms(to: "+19185550126", from: service, body: "From the line's service", purpose: "ivr"))
                #expect(try await Self.worker(platform, Self.settings(base: base)).runOnce() == 2)
                let fromLine = fake.texts.suffix(2).map(\.form)
                #expect(fromLine.contains(["To": "+19185550125", "From": "+19185550101", "Body": "From the line"]))
                #expect(fromLine.contains(["To": "+19185550126", "MessagingServiceSid": service, "Body": "From the line's service"]))

                // Those are the tenant's own texts: its message log shows them, under Twilio's sid,
                // and their delivery reports move them on. The platform's onboarding text is not there.
                let log = CommunicationLogService.Client(wrapping: platform.client)
                let logged = try await log.listMessages(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).messages
                #expect(Set(logged.map(\.body)) == ["From the line", "From the line's service"])
                #expect(logged.allSatisfy { $0.direction == .outbound && $0.status == .queued })
                let fromNumber = try #require(logged.first { $0.to == "+19185550125" })
                #expect(fromNumber.from == "+19185550101")
                #expect(fromNumber.messageSid == fake.texts.first { $0.form["To"] == "+19185550125" }?.sid)
                _ = try await InboundService.Client(wrapping: platform.client).recordMessageStatus(.with {
                    $0.messageSid = fromNumber.messageSid; $0.status = .delivered
                }, metadata: platform.metadata(platform.bridgeToken))
                let delivered = try await log.listMessages(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).messages
                #expect(delivered.first { $0.messageSid == fromNumber.messageSid }?.status == .delivered)

                // With the bridge's URL, each text from a line asks for its delivery reports there;
                // the platform's own, in no message log, asks for none.
                var reporting = Self.settings(base: base)
                reporting.twilio?.webhookBaseURL = "https://bridge.acme.test"
                _ = try await Self.enqueue(platform, .sms(to: "+19185550127", from: "+19185550101", body: "Reported", purpose: "ivr"))
                #expect(try await Self.worker(platform, reporting).runOnce() == 1)
                #expect(fake.texts.last?.form["StatusCallback"] == "https://bridge.acme.test/twilio/status")
                _ = try await Self.enqueue(platform, .sms(to: "+19185550128", body: "Not reported", purpose: "onboarding"))
                #expect(try await Self.worker(platform, reporting).runOnce() == 1)
                #expect(fake.texts.last?.form == ["To": "+19185550128", "From": Self.smsFrom, "Body": "Not reported"], "no StatusCallback")
            }
        }
    }

    @Test("a claim takes no more than its limit, and the next worker takes the rest", arguments: TestBackend.available)
    func claimsKeepToTheirLimit(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            for n in 0..<5 { try await Self.enqueue(platform, .sms(to: "+1918555000\(n)", body: "text \(n)", purpose: "onboarding")) }
            let now = Date().addingTimeInterval(1)
            var taken: [String] = []
            for (worker, expected) in [("w1", 2), ("w2", 2), ("w3", 1), ("w4", 0)] {
                let claimed = try await platform.database.transaction(.platform) { tx in
                    try await OutboxRecords.claim(worker: worker, now: now, lease: 120, limit: 2, tx)
                }
                #expect(claimed.count == expected, "\(worker)")
                taken += claimed.map(\.name)
            }
            #expect(Set(taken).count == 5, "each message claimed once")
        }
    }

    @Test("the wait after a failure doubles up to its cap; a provider's Retry-After beyond the cap is kept, to a day")
    func backoffHonoursRetryAfter() {
        let settings = OutboxSettings(maxBackoff: 3_600)
        #expect(settings.backoff(afterAttempt: 1) == 30)
        #expect(settings.backoff(afterAttempt: 20) == 3_600)
        #expect(settings.backoff(afterAttempt: 1, retryAfter: 600) == 600)
        // A message held for an operator waits as long as it has waited, whatever its attempts.
        #expect(settings.operatorBackoff(age: 0) == 30)
        #expect(settings.operatorBackoff(age: 600) == 600)
        #expect(settings.operatorBackoff(age: 86_000) == 3_600)
        #expect(settings.backoff(afterAttempt: 1, retryAfter: 7_200) == 7_200, "not cut to the cap: the provider said when")
        #expect(settings.backoff(afterAttempt: 1, retryAfter: 30 * 86_400) == 86_400)
    }

    @Test("a failure that may pass is retried with exponential backoff until the message goes through", arguments: TestBackend.available)
    func transientFailures(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                try await platform.createTenant("acme")
                let worker = Self.worker(platform, Self.settings(base: base))
                fake.failNext(.twilio, status: 503, times: 2)
                let text = try await Self.enqueue(platform, .sms(to: "+19185550123", body: "Your detail is booked.", purpose: "booking"))
                let t0 = Date()

                #expect(try await worker.runOnce(now: t0) == 1)
                let firstPass = Date().timeIntervalSince(t0)
                let afterFirst = try await Self.stored(platform, text)
                #expect(afterFirst.state == .pending)
                #expect(afterFirst.attempts == 1)
                #expect(afterFirst.lastError.contains("503"), "\(afterFirst.lastError)")
                #expect(afterFirst.lastError.contains("20500"))
                let first = try #require(afterFirst.nextAttemptTime)
                #expect(Self.retryTimes(30, after: t0, passTook: firstPass).contains(first), "30 s after the first failure: \(first.timeIntervalSince(t0))")

                #expect(try await worker.runOnce(now: t0.addingTimeInterval(20)) == 0, "not due yet")
                let t1 = first.addingTimeInterval(1)
                let secondStarted = Date()
                #expect(try await worker.runOnce(now: t1) == 1)
                let secondPass = Date().timeIntervalSince(secondStarted)
                let afterSecond = try await Self.stored(platform, text)
                #expect(afterSecond.state == .pending)
                #expect(afterSecond.attempts == 2)
                let second = try #require(afterSecond.nextAttemptTime)
                #expect(Self.retryTimes(60, after: t1, passTook: secondPass).contains(second), "the wait doubles: \(second.timeIntervalSince(t1))")

                #expect(try await worker.runOnce(now: second.addingTimeInterval(1)) == 1)
                let delivered = try await Self.stored(platform, text)
                #expect(delivered.state == .delivered)
                #expect(delivered.attempts == 3)
                #expect(delivered.providerMessageID == fake.acceptedTexts.first?.sid)
                #expect(delivered.lastError.contains("503"), "the last failure stays on record")
                #expect(fake.texts.count == 3)
                #expect(fake.acceptedTexts.count == 1)

                // A rate limit's Retry-After is honoured when it asks for longer than the backoff.
                fake.failNext(.sendGrid, status: 429, retryAfter: 600)
                let email = try await Self.enqueue(platform, .email(to: "owner@acme.test", subject: "Hello", body: "Hello there", purpose: "onboarding"))
                let t2 = Date()
                #expect(try await worker.runOnce(now: t2) == 1)
                let limitedPass = Date().timeIntervalSince(t2)
                let limited = try await Self.stored(platform, email)
                #expect(limited.state == .pending)
                #expect(limited.lastError.contains("429"))
                #expect(Self.retryTimes(600, after: t2, passTook: limitedPass).contains(limited.nextAttemptTime ?? t2), "\(String(describing: limited.nextAttemptTime))")
                // From the retry time it recorded: on a loaded machine the pass itself takes time.
                #expect(try await worker.runOnce(now: (limited.nextAttemptTime ?? t2).addingTimeInterval(1)) == 1)
                #expect(try await Self.stored(platform, email).state == .delivered)
                #expect(fake.acceptedMails.count == 1)
            }
        }
    }

    @Test("a refused message fails at once and is never retried; refused credentials and a provider that stays down are retried until the attempts run out", arguments: TestBackend.available)
    func permanentFailures(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                try await platform.createTenant("acme")
                let worker = Self.worker(platform, Self.settings(base: base))
                fake.failNext(.twilio, status: 400)
                let refused = try await Self.enqueue(platform, .sms(to: "+19185550123", body: "Hi", purpose: "onboarding"))
                let t0 = Date()
                #expect(try await worker.runOnce(now: t0) == 1)
                let failed = try await Self.stored(platform, refused)
                #expect(failed.state == .failed)
                #expect(failed.attempts == 1)
                #expect(failed.lastError.contains("21211"), "\(failed.lastError)")
                #expect(failed.nextAttemptTime == nil)
                #expect(failed.body.isEmpty)
                #expect(try await worker.runOnce(now: t0.addingTimeInterval(86_400)) == 0)
                #expect(fake.texts.count == 1)

                // Twilio refusing the platform's credentials (a token rotated at Twilio and not
                // yet here) is no verdict on the message: it waits, and goes once the token is mended.
                let wrongToken = Self.worker(platform, Self.settings(base: base, authToken: "not-the-token"))
                let unauthorized = try await Self.enqueue(platform, .sms(to: "+19185550125", body: "Hi again", purpose: "onboarding"))
                #expect(try await wrongToken.runOnce() == 1)
                let denied = try await Self.stored(platform, unauthorized)
                #expect(denied.state == .pending)
                #expect(denied.lastError.contains("401"))
                #expect(denied.lastError.contains("Authenticate"))
                #expect(denied.lastError.contains("check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"), "\(denied.lastError)")
                // Waiting spends none of its attempts, however many the worker is allowed.
                let strict = Self.worker(platform, Self.settings(base: base, authToken: "not-the-token", maxAttempts: 1))
                var retry = try #require(denied.nextAttemptTime).addingTimeInterval(1)
                for _ in 1...2 {
                    #expect(try await strict.runOnce(now: retry) == 1)
                    let waiting = try await Self.stored(platform, unauthorized)
                    #expect(waiting.state == .pending && waiting.attempts == 0, "\(waiting.lastError)")
                    retry = try #require(waiting.nextAttemptTime).addingTimeInterval(1)
                }
                #expect(try await worker.runOnce(now: retry) == 1)
                #expect(try await Self.stored(platform, unauthorized).state == .delivered)
                // Credentials never mended: a day after its making, the message fails, saying so.
                let abandoned = try await Self.enqueue(platform, .sms(to: "+19185550126", body: "Hi at last", purpose: "onboarding"))
                #expect(try await wrongToken.runOnce(now: Date().addingTimeInterval(86_401)) == 1)
                let given = try await Self.stored(platform, abandoned)
                #expect(given.state == .failed)
                #expect(given.lastError.contains("gave up after waiting 24 h") && given.lastError.contains("check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"))
                #expect(!given.lastError.contains("tried again"), "\(given.lastError)")

                // SendGrid down for longer than the attempts last.
                fake.failNext(.sendGrid, status: 500, times: 5)
                let email = try await Self.enqueue(platform, .email(to: "owner@acme.test", subject: "Hello", body: "Hello there", purpose: "onboarding"))
                let limited = Self.worker(platform, Self.settings(base: base, maxAttempts: 3))
                var due = Date()
                for attempt in 1...3 {
                    let at = due
                    #expect(try await limited.runOnce(now: at) == 1)
                    let row = try await Self.stored(platform, email)
                    #expect(row.attempts == attempt)
                    if attempt < 3 {
                        #expect(row.state == .pending)
                        due = try #require(row.nextAttemptTime).addingTimeInterval(1)
                    } else {
                        #expect(row.state == .failed)
                        #expect(row.lastError.contains("gave up after 3 attempts"), "\(row.lastError)")
                        #expect(row.lastError.contains("500"))
                    }
                }
                let muchLater = due.addingTimeInterval(86_400)
                #expect(try await limited.runOnce(now: muchLater) == 0)
                #expect(fake.mails.count == 3)
                #expect(fake.acceptedMails.isEmpty)
            }
        }
    }

    @Test("workers side by side never send a message twice; a dead worker's message is retaken once, after its lease", arguments: TestBackend.available)
    func noDoubleSends(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                try await platform.createTenant("acme")
                fake.respondSlowly(.milliseconds(20))
                let total = 24
                for index in 0..<total {
                    if index.isMultiple(of: 2) {
                        try await Self.enqueue(platform, .sms(to: "+1918555" + String(format: "%04d", index), body: "text \(index)", purpose: "load"))
                    } else {
                        try await Self.enqueue(platform, .email(to: "owner\(index)@acme.test", subject: "Hello \(index)", body: "email \(index)", purpose: "load"))
                    }
                }
                let first = Self.worker(platform, Self.settings(base: base, batchSize: 5), name: "first")
                let second = Self.worker(platform, Self.settings(base: base, batchSize: 5), name: "second")
                async let handledByFirst = Self.drain(first)
                async let handledBySecond = Self.drain(second)
                let handled = try await handledByFirst + handledBySecond
                #expect(handled == total)
                let texts = fake.texts.compactMap { $0.form["Body"] }
                let mails = fake.mails.map(\.text)
                #expect(texts.count == total / 2)
                #expect(Set(texts).count == total / 2, "each text once")
                #expect(mails.count == total / 2)
                #expect(Set(mails).count == total / 2, "each email once")
                #expect(try await Self.count(platform, where: "state = 'delivered' AND attempts = 1") == Int64(total))

                // A worker claims a message and dies before sending it.
                let orphan = try await Self.enqueue(platform, .sms(to: "+19185559999", body: "orphan", purpose: "onboarding"))
                let t0 = Date()
                let claimed = try await platform.database.transaction(.platform) { tx in
                    try await OutboxRecords.claim(worker: "dead", now: t0, lease: 120, limit: 10, tx)
                }
                #expect(claimed.map(\.name) == [orphan.name])
                #expect(try await Self.stored(platform, orphan).state == .sending)
                #expect(try await first.runOnce(now: t0.addingTimeInterval(60)) == 0, "a live lease is left alone")
                #expect(try await first.runOnce(now: t0.addingTimeInterval(121)) == 1)
                let retaken = try await Self.stored(platform, orphan)
                #expect(retaken.state == .delivered)
                #expect(retaken.attempts == 2)

                // Back from the dead, the first worker cannot record anything over it.
                let late = try await platform.database.transaction(.platform) { tx in
                    try await OutboxRecords.finish(claimed[0], worker: "dead", outcome: .failed(error: "too late"), now: Date(), tx)
                }
                #expect(!late)
                #expect(try await Self.stored(platform, orphan).state == .delivered)
                #expect(fake.texts.filter { $0.form["Body"] == "orphan" }.count == 1)
            }
        }
    }

    @Test("a worker stopped mid-send finishes the messages it holds and records them, so none goes out twice", arguments: TestBackend.available)
    func stoppedMidSend(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                try await platform.createTenant("acme")
                fake.respondSlowly(.milliseconds(400))
                let messages = [
                    try await Self.enqueue(platform, .sms(to: "+19185550001", body: "stop 1", purpose: "onboarding")),
                    try await Self.enqueue(platform, .email(to: "owner@acme.test", subject: "Welcome", body: "stop 2", purpose: "onboarding")),
                ]
                let worker = Self.worker(platform, Self.settings(base: base))
                let running = Task { try await worker.run() }
                let deadline = ContinuousClock.now + .seconds(10)
                while fake.arrived < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                running.cancel()  // as the server does when it stops, while both requests wait for their answers
                try await running.value
                for message in messages {
                    let stored = try await Self.stored(platform, message)
                    #expect(stored.state == .delivered, "\(message.name)")
                }
                #expect(fake.acceptedTexts.count == 1)
                #expect(fake.acceptedMails.count == 1)
            }
        }
    }

    @Test("a message exists exactly when its transaction commits; a dedupe key queues it once", arguments: TestBackend.available)
    func transactional(backend: TestBackend) async throws {
        struct Abandoned: Error {}
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            await #expect(throws: Abandoned.self) {
                try await platform.database.withTenant("acme") { tx in
                    try await OutboxRecords.enqueue(.email(to: "owner@acme.test", subject: "Welcome", body: "Hello", purpose: "onboarding"), tx)
                    throw Abandoned()
                }
            }
            #expect(try await Self.count(platform) == 0, "a rolled-back change sends nothing")

            let draft = OutboxDraft.email(to: "owner@acme.test", subject: "Welcome", body: "Hello", purpose: "onboarding", dedupeKey: "onboarding/req-1")
            let first = try await Self.enqueue(platform, draft)
            let retried = try await Self.enqueue(platform, draft)
            #expect(retried.name == first.name)
            #expect(try await Self.count(platform) == 1)
            let elsewhere = try await Self.enqueue(platform, draft, tenant: "bravo")
            #expect(elsewhere.name.hasPrefix("tenants/bravo/"), "the key is per tenant")
            #expect(try await Self.count(platform) == 2)

            // Drafts that could never be delivered are refused, naming the field.
            let bad: [(OutboxDraft, String)] = [
                (OutboxDraft.sms(to: "918-555-0100", body: "Hi", purpose: "x"), "recipient"),
                (OutboxDraft.email(to: "Acme Owner", subject: "Hi", body: "Hi", purpose: "x"), "recipient"),
                (OutboxDraft.email(to: "owner@acme.test", subject: " ", body: "Hi", purpose: "x"), "subject"),
                (OutboxDraft.sms(to: "+19185550100", body: "  ", purpose: "x"), "body"),
                (OutboxDraft.sms(to: "+19185550100", body: String(repeating: "a", count: 1_601), purpose: "x"), "body"),
                (OutboxDraft(channel: .unspecified, recipient: "+19185550100", purpose: "x", subject: "", body: "Hi"), "channel"),
            ]
            for (draft, field) in bad {
                do {
                    try await Self.enqueue(platform, draft)
                    Issue.record("\(draft) was queued")
                } catch let error as ServiceError {
                    #expect(error.code == .invalidArgument)
                    #expect(error.violations.map(\.field) == [field])
                }
            }
            #expect(try await Self.count(platform) == 2)
        }
    }

    @Test("with no credentials, messages are logged with what would have been sent and reported delivered", arguments: TestBackend.available)
    func loggingWithoutCredentials(backend: TestBackend) async throws {
        let none = try OutboxSettings.fromEnvironment([:])
        #expect(none.twilio?.accountSID == nil)
        #expect(none.sendGrid?.apiKey == nil)
        #expect(try OutboxSettings.fromEnvironment(["TWILIO_AUTH_TOKEN": "token"]).twilio == nil, "the bridge's signing token alone configures nothing")
        // Partly configured, a provider would log what was meant to be sent: the start stops, naming what is missing.
        let noSender = #expect(throws: OutboxConfigurationError.self) {
            try OutboxSettings.fromEnvironment(["TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "token"])
        }
        #expect(noSender?.description.contains("SERVICEPRO_SMS_FROM") == true)
        let noAddress = #expect(throws: OutboxConfigurationError.self) {
            try OutboxSettings.fromEnvironment(["SENDGRID_API_KEY": "SG.key"])
        }
        #expect(noAddress?.description.contains("SERVICEPRO_MAIL_FROM") == true)
        let full = try OutboxSettings.fromEnvironment([
            "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "token", "SERVICEPRO_SMS_FROM": "MG1",
            "SENDGRID_API_KEY": "SG.key", "SERVICEPRO_MAIL_FROM": "ServicePro <hello@servicepro.test>",
            "SERVICEPRO_SENDGRID_API_URL": "http://127.0.0.1:9",
        ])
        #expect(full.twilio?.from == "MG1")
        #expect(full.twilio.map { TwilioMessagingSettings.isMessagingService($0.from) } == true)
        #expect(full.twilio?.apiURL == TwilioMessagingSettings.defaultAPIURL)
        #expect(full.sendGrid?.fromEmail == "hello@servicepro.test")
        #expect(full.sendGrid?.fromName == "ServicePro")
        #expect(full.sendGrid?.apiURL == "http://127.0.0.1:9")

        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let capture = LogCapture()
            let worker = Self.worker(platform, none, logger: capture.logger)
            #expect(worker.senders.email.provider == "log")
            #expect(worker.senders.sms.provider == "log")
            let text = try await Self.enqueue(platform, .sms(to: "+19185550123", body: "Your login: https://app.servicepro.test/l/xyz", purpose: "onboarding"))
            let email = try await Self.enqueue(platform, .email(to: "owner@acme.test", subject: "Welcome", body: "Hello from ServicePro", purpose: "onboarding"))
            #expect(try await worker.runOnce() == 2)
            let logged = capture.lines.filter { $0.message.contains("instead of sending") }
            #expect(logged.count == 2)
            for message in [text, email] {
                let row = try await Self.stored(platform, message)
                #expect(row.state == .delivered)
                #expect(row.providerMessageID.hasPrefix("log-"))
                let line = try #require(logged.first { $0.metadata["outbox_message"] == message.name })
                #expect(line.metadata["to"] == message.recipient)
                #expect(line.metadata["provider_message_id"] == row.providerMessageID)
            }
            let loggedText = logged.first { $0.metadata["outbox_message"] == text.name }
            #expect(loggedText?.metadata["body"] == "Your login: https://app.servicepro.test/l/xyz")
            #expect(loggedText?.metadata["channel"] == "sms")
            let loggedEmail = logged.first { $0.metadata["outbox_message"] == email.name }
            #expect(loggedEmail?.metadata["subject"] == "Welcome")
            #expect(loggedEmail?.metadata["body"] == "Hello from ServicePro")
        }
    }

    @Test("with one provider configured, the other channel's messages fail, saying what to set, and are never logged", arguments: TestBackend.available)
    func unconfiguredChannelBesideAnother(backend: TestBackend) async throws {
        let emailOnly = try OutboxSettings.fromEnvironment([
            "SENDGRID_API_KEY": "SG.key", "SERVICEPRO_MAIL_FROM": "hello@servicepro.test", "SERVICEPRO_SENDGRID_API_URL": "http://127.0.0.1:9",
        ])
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let capture = LogCapture()
            let worker = Self.worker(platform, emailOnly, logger: capture.logger)
            #expect(worker.senders.email.provider == "sendgrid")
            let text = try await Self.enqueue(platform, .sms(to: "+19185550123", body: "Your login: https://app.servicepro.test/l/xyz?token=spl_secret", purpose: "onboarding"))
            _ = try await worker.runOnce()
            let row = try await Self.stored(platform, text)
            #expect(row.state == .failed)
            #expect(row.lastError.contains("SERVICEPRO_SMS_FROM"), "\(row.lastError)")
            #expect(row.body.isEmpty, "the link is not kept")
            #expect(!capture.lines.contains { "\($0.message) \($0.metadata)".contains("spl_secret") }, "nor logged")
        }
    }

    @Test("staff list and get outbox messages over gRPC, newest first and filtered; another tenant's is not found", arguments: TestBackend.available)
    func overGRPC(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                try await platform.createTenant("acme")
                try await platform.createTenant("bravo")
                let t0 = Date().addingTimeInterval(-100)
                let welcome = try await Self.enqueue(platform, .email(to: "owner@acme.test", subject: "Welcome", body: "Hello", purpose: "onboarding"), now: t0)
                let link = try await Self.enqueue(platform, .sms(to: "+19185550123", body: "Your link", purpose: "login_link"), now: t0.addingTimeInterval(1))
                let reminder = try await Self.enqueue(platform, .email(to: "owner@acme.test", subject: "Reminder", body: "Hello again", purpose: "reminder"), now: t0.addingTimeInterval(2))
                let bravo = try await Self.enqueue(platform, .sms(to: "+19185550199", body: "Bravo's", purpose: "onboarding"), tenant: "bravo", now: t0.addingTimeInterval(3))
                let worker = Self.worker(platform, Self.settings(base: base))
                fake.failNext(.sendGrid, status: 400)
                #expect(try await worker.runOnce(now: t0.addingTimeInterval(0.5)) == 1, "the welcome email, refused")
                #expect(try await worker.runOnce(now: t0.addingTimeInterval(1.5)) == 1, "the text, delivered")

                let outbox = OutboxService.Client(wrapping: platform.client)
                let owner = platform.metadata(platform.ownerToken)
                func list(_ request: ListOutboxMessagesRequest) async throws -> ListOutboxMessagesResponse {
                    try await outbox.listOutboxMessages(request, metadata: owner)
                }
                let all = try await list(.with { $0.parent = "tenants/acme" })
                #expect(all.outboxMessages.map(\.name) == [reminder.name, link.name, welcome.name])
                #expect(all.nextPageToken.isEmpty)
                let listed = Dictionary(uniqueKeysWithValues: all.outboxMessages.map { ($0.name, $0) })
                #expect(listed[welcome.name]?.state == .failed)
                #expect(listed[welcome.name]?.lastError.contains("Does not contain a valid address") == true)
                #expect(listed[welcome.name]?.hasNextAttemptTime == false)
                #expect(listed[link.name]?.state == .delivered)
                #expect(listed[link.name]?.providerMessageID == fake.acceptedTexts.first?.sid)
                #expect(listed[link.name]?.hasDeliverTime == true)
                #expect(listed[link.name]?.purpose == "login_link")
                #expect(listed[reminder.name]?.state == .pending)
                #expect(listed[reminder.name]?.hasNextAttemptTime == true)
                #expect(listed[reminder.name]?.subject == "Reminder")

                #expect(try await list(.with { $0.parent = "tenants/acme"; $0.state = .failed }).outboxMessages.map(\.name) == [welcome.name])
                #expect(try await list(.with { $0.parent = "tenants/acme"; $0.channel = .sms }).outboxMessages.map(\.name) == [link.name])
                #expect(try await list(.with { $0.parent = "tenants/acme"; $0.channel = .email; $0.state = .pending }).outboxMessages.map(\.name) == [reminder.name])

                let page = try await list(.with { $0.parent = "tenants/acme"; $0.pageSize = 2 })
                #expect(page.outboxMessages.map(\.name) == [reminder.name, link.name])
                let rest = try await list(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = page.nextPageToken })
                #expect(rest.outboxMessages.map(\.name) == [welcome.name])
                #expect(rest.nextPageToken.isEmpty)
                let replayed = await failure { try await list(.with { $0.parent = "tenants/acme"; $0.state = .failed; $0.pageToken = page.nextPageToken }) }
                #expect(replayed?.code == .invalidArgument, "a token is bound to its filters")

                let everyone = try await list(.with { $0.parent = "tenants/-" })
                #expect(everyone.outboxMessages.map(\.name) == [bravo.name, reminder.name, link.name, welcome.name])

                let got = try await outbox.getOutboxMessage(.with { $0.name = link.name }, metadata: owner)
                #expect(got == listed[link.name])
                let foreignName = link.name.replacingOccurrences(of: "tenants/acme/", with: "tenants/bravo/")
                let foreign = await failure { try await outbox.getOutboxMessage(.with { $0.name = foreignName }, metadata: owner) }
                #expect(foreign?.code == .notFound)
                let missing = await failure { try await outbox.getOutboxMessage(.with { $0.name = "tenants/acme/outboxMessages/nope" }, metadata: owner) }
                #expect(missing?.code == .notFound)

                // Delivery state is for platform staff, not the tenant's own keys.
                let admin = platform.metadata(try await platform.token(role: .tenantAdmin, tenant: "acme"))
                let refused = await failure { try await outbox.listOutboxMessages(.with { $0.parent = "tenants/acme" }, metadata: admin) }
                #expect(refused?.code == .permissionDenied)
            }
        }
    }
}
