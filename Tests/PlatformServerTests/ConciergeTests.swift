import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Synchronization
import Testing

@testable import PlatformServer

/// Concierge setup end to end on every store: one transaction, all or nothing, numbers bought
/// from (a local fake of) Twilio and given back when a create fails.
@Suite("Concierge setup")
struct ConciergeTests {
    static func request(_ slug: String, mode: TelephonySetupMode = .useExistingNumber, number: String = "+19185550123", pack: String = "auto_detailing", tier: PlanTier = .pro) -> CreateConciergeTenantRequest {
        CreateConciergeTenantRequest.with {
            $0.basics = .with {
                $0.displayName = "Shine Auto Spa"
                $0.slug = slug
                $0.city = "Tulsa"
                $0.contactName = "Dana"
                $0.contactEmail = "dana@shine.example"
                $0.contactPhone = "+19185550999"
            }
            $0.plan = .with { $0.tier = tier; $0.industryPack = "industryPacks/\(pack)" }
            $0.telephony = .with {
                $0.mode = mode
                if mode == .useExistingNumber { $0.phoneNumber = number }
                if mode == .provisionNumber { $0.areaCode = "539" }
                // With no number there is no line to answer calls on.
                if mode != .noNumber {
                    $0.ivrMode = .ivr
                    $0.forwardNumber = "+19185550100"
                }
            }
            $0.extras = .with { $0.primaryColor = "#1E88E5"; $0.logoURL = "https://shine.example/logo.png"; $0.bookingURL = "https://shine.example/book" }
        }
    }

    static func concierge(_ platform: TestPlatform) -> ConciergeService.Client<HTTP2ClientTransport.Posix> {
        ConciergeService.Client(wrapping: platform.client)
    }

    static let bridgeURL = "https://bridge.shine.example"

    static func numbers(_ base: String, webhookBaseURL: String? = bridgeURL) -> TwilioNumberProvisioner {
        TwilioNumberProvisioner(
            accountSID: FakeTwilioNumbers.accountSID, authToken: FakeTwilioNumbers.authToken, apiURL: base, webhookBaseURL: webhookBaseURL)
    }

    /// Rows the tenant has in every table a create writes.
    static func traces(_ platform: TestPlatform, _ tenant: String) async throws -> Int64 {
        try await platform.database.transaction(.platform) { tx in
            var total: Int64 = 0
            for table in ["tenants", "tenant_billing", "phone_configs", "pack_items"] {
                total += try await tx.first("SELECT COUNT(*) AS n FROM \(raw: table) WHERE tenant_id = \(tenant)")!.int("n")
            }
            return total
        }
    }

    @Test("a create writes the tenant, its trial, its number and its industry pack in one go", arguments: TestBackend.available)
    func create(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            let created = try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: owner)
            #expect(created.tenant.name == "tenants/shine")
            #expect(created.tenant.status == .trialing)
            #expect(created.tenant.planTier == .pro)
            #expect(created.tenant.industry == "auto_detailing")
            #expect(created.tenant.branding.primaryColor == "#1E88E5")
            #expect(created.tenant.bookingURL == "https://shine.example/book")
            #expect(abs(created.tenant.trialEndTime.date.timeIntervalSinceNow - 14 * 86_400) < 120)
            #expect(created.phoneConfig.phoneNumber == "+19185550123")
            #expect(created.phoneConfig.ivrMode == .ivr)
            let pack = try #require(try IndustryPackCatalog.bundled().pack(id: "auto_detailing"))
            #expect(created.phoneConfig.ivrMenu == pack.ivrMenu, "the pack's IVR menu")
            #expect(created.appliedPack.industryPack == "industryPacks/auto_detailing")
            #expect(created.appliedPack.added.contains { $0.kind == .service })
            #expect(created.appliedPack.added.contains { $0.kind == .automation }, "the pack's automations")
            // Without a time zone its automated texts wait: setting one comes first.
            #expect(created.nextActions.map(\.kind) == [.setTimeZone, .impersonate, .sendOnboarding, .copyLoginLink])
            #expect(created.nextActions[0].command.contains("spctl tenants update --tenant.name tenants/shine --tenant.time-zone <"))
            // Onboarding is suggested by the channels the contact can be reached on, ready to run.
            #expect(created.nextActions[2].command.hasSuffix("--channels email --channels sms --include-login-link true"))
            func actions(_ tenant: Tenant, canImpersonate: Bool = true) -> [ConciergeNextAction] {
                ConciergeNextActions.after(tenantID: "solo", tenant: tenant, canImpersonate: canImpersonate)
            }
            let phoneOnly = actions(.with { $0.contact.phone = "+19185550111"; $0.timeZone = "America/Chicago" })
            #expect(phoneOnly.map(\.kind) == [.impersonate, .sendOnboarding, .copyLoginLink])
            #expect(phoneOnly[1].command == "spctl concierge send-onboarding --name tenants/solo --channels sms --include-login-link true")
            let nobody = actions(.with { $0.timeZone = "America/Chicago" })[1]
            #expect(nobody.command.contains("--email <address>"), "no contact on file: the operator gives the address")
            // Only the platform owner may impersonate: staff are not offered it.
            #expect(actions(.with { $0.timeZone = "America/Chicago" }, canImpersonate: false).map(\.kind) == [.sendOnboarding, .copyLoginLink])
            let byStaff = try await Self.concierge(platform).createConciergeTenant(
                Self.request("shine-staff", mode: .noNumber), metadata: platform.metadata(try await platform.token(role: .platformStaff, tenant: "root")))
            #expect(!byStaff.nextActions.contains { $0.kind == .impersonate })

            // The number answers for the new tenant right away.
            let resolved = try await InboundService.Client(wrapping: platform.client).resolveInbound(
                .with { $0.to = "+19185550123" }, metadata: platform.metadata(platform.bridgeToken))
            #expect(resolved.tenant.name == "tenants/shine")

            let taken = await failure { try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: owner) }
            #expect(taken?.code == .alreadyExists)
            #expect(taken?.fields == ["basics.slug"])
            let numberTaken = await failure { try await Self.concierge(platform).createConciergeTenant(Self.request("other"), metadata: owner) }
            #expect(numberTaken?.code == .alreadyExists)
            #expect(numberTaken?.fields == ["telephony.phone_number"])
            #expect(numberTaken?.reason == "phone_number_in_use", "the reason phone configs give for a number taken")
            #expect(numberTaken?.message.contains("+19185550123") == true, "\(String(describing: numberTaken))")
            // A messaging service another line has is refused the same way, on its own field.
            let service = "MG" + String(repeating: "c", count: 32)
            _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/shine/phoneConfigs/main"; $0.messagingServiceSid = service }
                $0.updateMask = .init(protoPaths: ["messaging_service_sid"])
            }, metadata: owner)
            var sharedService = Self.request("other", number: "+19185550125")
            sharedService.telephony.messagingServiceSid = service
            let serviceTaken = await failure { try await Self.concierge(platform).createConciergeTenant(sharedService, metadata: owner) }
            #expect(serviceTaken?.reason == "messaging_service_sid_in_use")
            #expect(serviceTaken?.fields == ["telephony.messaging_service_sid"])
            let unknownPack = await failure {
                try await Self.concierge(platform).createConciergeTenant(Self.request("third", number: "+19185550124", pack: "boat_repair"), metadata: owner)
            }
            #expect(unknownPack?.code == .invalidArgument)
            #expect(unknownPack?.fields == ["plan.industry_pack"])
            var badColour = Self.request("fourth", number: "+19185550125")
            badColour.extras.primaryColor = "blue"
            #expect(await failure { try await Self.concierge(platform).createConciergeTenant(badColour, metadata: owner) }?.fields == ["extras.primary_color"])
            let ivrOnStarter = await failure {
                try await Self.concierge(platform).createConciergeTenant(Self.request("fifth", number: "+19185550126", tier: .starter), metadata: owner)
            }
            #expect(ivrOnStarter?.reason == "feature_not_in_plan")
            for slug in ["other", "third", "fourth", "fifth"] { #expect(try await Self.traces(platform, slug) == 0) }
        }
    }

    @Test("a telephony field given with a mode it is not for is refused by name before anything is created", arguments: TestBackend.available)
    func misplacedTelephonyFields(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            let service = "MG" + String(repeating: "d", count: 32)
            let existing = "TELEPHONY_SETUP_MODE_USE_EXISTING_NUMBER"
            let provision = "TELEPHONY_SETUP_MODE_PROVISION_NUMBER"
            let withLine = "\(existing) and \(provision)"
            let misplaced: [(mode: TelephonySetupMode, field: String, isFor: String, misplace: (inout ConciergeTelephony) -> Void)] = [
                (.useExistingNumber, "telephony.area_code", provision, { $0.areaCode = "539" }),
                (.useExistingNumber, "telephony.country_code", provision, { $0.countryCode = "US" }),
                (.noNumber, "telephony.area_code", provision, { $0.areaCode = "539" }),
                (.noNumber, "telephony.country_code", provision, { $0.countryCode = "US" }),
                (.noNumber, "telephony.phone_number", existing, { $0.phoneNumber = "+19185550123" }),
                (.noNumber, "telephony.messaging_service_sid", existing, { $0.messagingServiceSid = service }),
                (.noNumber, "telephony.ivr_mode", withLine, { $0.ivrMode = .simple }),
                (.noNumber, "telephony.forward_number", withLine, { $0.forwardNumber = "+19185550100" }),
                (.provisionNumber, "telephony.phone_number", existing, { $0.phoneNumber = "+19185550123" }),
                // It would send the new number's automated texts from the service's pool instead.
                (.provisionNumber, "telephony.messaging_service_sid", existing, { $0.messagingServiceSid = service }),
            ]
            for (mode, field, isFor, misplace) in misplaced {
                var request = Self.request("shine", mode: mode)
                misplace(&request.telephony)
                let refused = await failure { try await Self.concierge(platform).createConciergeTenant(request, metadata: owner) }
                #expect(refused?.code == .invalidArgument, "\(field) with \(mode)")
                #expect(refused?.fields == [field], "\(field) with \(mode)")
                #expect(refused?.message.contains(isFor) == true, "\(String(describing: refused))")
                let left = try await Self.traces(platform, "shine")
                #expect(left == 0, "nothing created for \(field) with \(mode)")
            }
            // Every misplaced field is named at once.
            var several = Self.request("shine", mode: .noNumber)
            several.telephony.areaCode = "539"
            several.telephony.forwardNumber = "+19185550100"
            let refused = await failure { try await Self.concierge(platform).createConciergeTenant(several, metadata: owner) }
            #expect(refused?.fields == ["telephony.area_code", "telephony.forward_number"])
            let left = try await Self.traces(platform, "shine")
            #expect(left == 0)
        }
    }

    @Test("an existing number Twilio is taking back right now is refused on the concierge's own field, and nothing is created", arguments: TestBackend.available)
    func existingNumberBeingReleased(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let (bought, _) = try await NumberReleaseTests.tenantOnBoughtNumber("gleam", platform, twilio)
                _ = try await PhoneConfigService.Client(wrapping: platform.client).deletePhoneConfig(.with { $0.name = bought.name }, metadata: owner)
                let claimed = try await platform.database.transaction(.platform) { tx in
                    try await NumberReleaseRecords.claim(
                        worker: "elsewhere", now: Date().addingTimeInterval(NumberReleaseTests.week + 60), lease: 300, limit: 10, tx)
                }
                #expect(claimed.count == 1)
                let refused = await failure {
                    try await Self.concierge(platform).createConciergeTenant(Self.request("shine", number: bought.phoneNumber), metadata: owner)
                }
                #expect(refused?.code == .failedPrecondition)
                #expect(refused?.reason == "number_being_released")
                #expect(refused?.metadata["field"] == "telephony.phone_number", "the concierge request's name for the number")
                #expect(try await Self.traces(platform, "shine") == 0)
            }
        }
    }

    @Test("the review step reports what would be created and writes nothing; a retry creates nothing twice", arguments: TestBackend.available)
    func reviewAndRetry(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                var review = Self.request("shine", mode: .provisionNumber)
                review.review.validateOnly = true
                let preview = try await Self.concierge(platform).createConciergeTenant(review, metadata: owner)
                #expect(preview.validateOnly)
                #expect(preview.tenant.name == "tenants/shine")
                #expect(!preview.appliedPack.added.isEmpty)
                #expect(try await Self.traces(platform, "shine") == 0)
                #expect(twilio.requests.isEmpty, "a review buys nothing")

                var create = Self.request("shine", mode: .provisionNumber)
                create.requestID = "concierge-1"
                let first = try await Self.concierge(platform).createConciergeTenant(create, metadata: owner)
                #expect(first.phoneConfig.phoneNumber.hasPrefix("+1539"))
                let again = try await Self.concierge(platform).createConciergeTenant(create, metadata: owner)
                #expect(again == first)
                #expect(twilio.owned.count == 1, "one number bought")
                // Bought with the bridge's webhooks set, so its first call and text reach the platform.
                let purchase = try #require(twilio.purchases.first)
                #expect(purchase["VoiceUrl"] == Self.bridgeURL + "/twilio/voice/incoming")
                #expect(purchase["SmsUrl"] == Self.bridgeURL + "/sms")
                #expect(purchase["StatusCallback"] == Self.bridgeURL + "/twilio/status")
                #expect(purchase["VoiceMethod"] == "POST" && purchase["SmsMethod"] == "POST" && purchase["StatusCallbackMethod"] == "POST")

                // Twilio names a number in at most 64 characters; a long business name is cut to fit.
                var long = Self.request("long-name", mode: .provisionNumber)
                long.basics.displayName = String(repeating: "Sparkle ", count: 12)
                let bought = try await Self.concierge(platform).createConciergeTenant(long, metadata: owner)
                #expect(bought.phoneConfig.phoneNumber.hasPrefix("+1539"))
            }
        }
    }

    @Test("without a Twilio account to buy numbers, the review step already says so", arguments: TestBackend.available)
    func reviewWithoutProvisioning(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            var review = Self.request("shine", mode: .provisionNumber)
            review.review.validateOnly = true
            let refused = await failure { try await Self.concierge(platform).createConciergeTenant(review, metadata: platform.metadata(platform.ownerToken)) }
            #expect(refused?.code == .failedPrecondition)
            #expect(refused?.reason == "number_provisioning_unavailable")
            let left = try await Self.traces(platform, "shine")
            #expect(left == 0)
        }
    }

    @Test("a purchase whose answer was lost is found in the account and used: no second number is bought", arguments: TestBackend.available)
    func lostPurchaseAnswer(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            // A base URL written with a trailing slash reaches the same paths.
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base + "/"))) { platform in
                twilio.loseAnswers(1)
                let created = try await Self.concierge(platform).createConciergeTenant(
                    Self.request("shine", mode: .provisionNumber), metadata: platform.metadata(platform.ownerToken))
                #expect(twilio.owned.count == 1)
                #expect(twilio.owned.values.first == created.phoneConfig.phoneNumber, "the number Twilio sold is the tenant's")
                #expect(twilio.requests.contains { $0.hasPrefix("GET ") && $0.hasSuffix("/IncomingPhoneNumbers.json") })
                #expect(twilio.requests.allSatisfy { $0.contains(" /2010-04-01/") }, "\(twilio.requests)")
            }
        }
    }

    @Test("an existing number must be one of the Twilio account's, when there is an account to look in", arguments: TestBackend.available)
    func existingNumberMustBeOwned(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                for validateOnly in [true, false] {
                    var typo = Self.request("shine", mode: .useExistingNumber, number: "+19185550199")
                    typo.review.validateOnly = validateOnly
                    let refused = await failure { try await Self.concierge(platform).createConciergeTenant(typo, metadata: owner) }
                    #expect(refused?.code == .failedPrecondition)
                    #expect(refused?.reason == "number_not_in_account")
                    #expect(refused?.message.contains("+19185550199") == true)
                }
                #expect(try await Self.traces(platform, "shine") == 0)
                // One the account holds (bought for another tenant, then given up) is taken.
                let bought = try await Self.concierge(platform).createConciergeTenant(Self.request("gleam", mode: .provisionNumber), metadata: owner)
                _ = try await PhoneConfigService.Client(wrapping: platform.client).deletePhoneConfig(
                    .with { $0.name = bought.phoneConfig.name }, metadata: owner)
                let reused = try await Self.concierge(platform).createConciergeTenant(
                    Self.request("shine", mode: .useExistingNumber, number: bought.phoneConfig.phoneNumber), metadata: owner)
                #expect(reused.phoneConfig.phoneNumber == bought.phoneConfig.phoneNumber)
            }
        }
    }

    @Test("an existing number is pointed at the bridge, and a create that fails points it back", arguments: TestBackend.available)
    func existingNumberRoutedToBridge(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            // Routed by hand to another system, through a TwiML app for its calls.
            let handSet = [
                "VoiceUrl": "https://old.shine.example/voice", "VoiceMethod": "GET",
                "SmsUrl": "https://old.shine.example/sms", "SmsMethod": "POST",
                "StatusCallback": "", "StatusCallbackMethod": "POST",
                "VoiceApplicationSid": "AP" + String(repeating: "a", count: 32), "SmsApplicationSid": "", "TrunkSid": "",
            ]
            let sid = twilio.own("+19185550123", routing: handSet)
            struct Injected: Error {}
            let failing = Mutex(true)
            let faults = ConciergeFaults { step in if step == .audit, failing.withLock({ $0 }) { throw Injected() } }
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base), faults: faults)) { platform in
                let owner = platform.metadata(platform.ownerToken)
                var review = Self.request("shine")
                review.review.validateOnly = true
                _ = try await Self.concierge(platform).createConciergeTenant(review, metadata: owner)
                #expect(twilio.updates.isEmpty, "the review step changes nothing at Twilio")

                let failed = await failure { try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: owner) }
                #expect(failed?.code == .internalError)
                #expect(twilio.routing(sid) == handSet, "a create that failed leaves the number as it found it")
                #expect(try await Self.traces(platform, "shine") == 0)

                failing.withLock { $0 = false }
                _ = try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: owner)
                let routing = twilio.routing(sid)
                #expect(routing["VoiceUrl"] == Self.bridgeURL + "/twilio/voice/incoming")
                #expect(routing["VoiceMethod"] == "POST")
                #expect(routing["SmsUrl"] == Self.bridgeURL + "/sms")
                #expect(routing["StatusCallback"] == Self.bridgeURL + "/twilio/status")
                #expect(routing["VoiceApplicationSid"] == "", "an app on the number would take its calls away from the bridge")
                #expect(twilio.owned[sid] == "+19185550123", "nothing bought, nothing released")
                #expect(twilio.purchases.isEmpty)
            }
        }
    }

    @Test("an existing number's routing update whose answer was lost is found done; two creates racing for the number leave it on the bridge", arguments: TestBackend.available)
    func existingNumberRoutingRaces(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with(delay: .milliseconds(500)) { twilio, base in
            let handSet = ["VoiceUrl": "https://old.shine.example/voice", "SmsUrl": "https://old.shine.example/sms"]
            let sid = twilio.own("+19185550123", routing: handSet)
            let bridgeVoice = Self.bridgeURL + "/twilio/voice/incoming"
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                twilio.loseAnswers(1)
                let created = try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: owner)
                #expect(created.phoneConfig.phoneNumber == "+19185550123")
                #expect(twilio.routing(sid)["VoiceUrl"] == bridgeVoice)
                _ = try await PhoneConfigService.Client(wrapping: platform.client).deletePhoneConfig(
                    .with { $0.name = created.phoneConfig.name }, metadata: owner)
            }
            // Routed by hand again, then claimed by two creates at once: the one that loses the
            // race must not point the winner's number away from the bridge.
            twilio.own("+19185550124", routing: handSet)
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let concierge = Self.concierge(platform)
                async let one = failure { try await concierge.createConciergeTenant(Self.request("gleam", number: "+19185550124"), metadata: owner) }
                async let two = failure { try await concierge.createConciergeTenant(Self.request("sparkle", number: "+19185550124"), metadata: owner) }
                let outcomes = await [one, two]
                #expect(outcomes.filter { $0 == nil }.count == 1, "\(outcomes)")
                let racedSID = try #require(twilio.owned.first { $0.value == "+19185550124" }?.key)
                #expect(twilio.routing(racedSID)["VoiceUrl"] == bridgeVoice, "the winner's number answers on the bridge")
            }
        }
    }

    @Test("without the bridge's public URL an existing number keeps the routing it has", arguments: TestBackend.available)
    func existingNumberWithoutBridgeURL(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            let handSet = ["VoiceUrl": "https://old.shine.example/voice", "SmsUrl": "https://old.shine.example/sms"]
            let sid = twilio.own("+19185550123", routing: handSet)
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base, webhookBaseURL: nil))) { platform in
                let created = try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: platform.metadata(platform.ownerToken))
                #expect(created.phoneConfig.phoneNumber == "+19185550123")
                #expect(twilio.updates.isEmpty)
                #expect(twilio.routing(sid) == handSet)
            }
        }
    }

    @Test("a lost purchase answer never claims a number another tenant bought: it is neither kept nor released", arguments: TestBackend.available)
    func lostPurchaseOfAnotherTenantsNumber(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let first = try await Self.concierge(platform).createConciergeTenant(
                    Self.request("shine", mode: .provisionNumber), metadata: platform.metadata(platform.ownerToken))
                let firstSID = try #require(twilio.owned.first { $0.value == first.phoneConfig.phoneNumber }?.key)
                // A second create is offered the same number, and its purchase's answer is lost.
                twilio.offerNext(first.phoneConfig.phoneNumber)
                twilio.loseAnswers(1)
                _ = await failure {
                    try await Self.concierge(platform).createConciergeTenant(
                        Self.request("gleam", mode: .provisionNumber), metadata: platform.metadata(platform.ownerToken))
                }
                #expect(twilio.owned[firstSID] == first.phoneConfig.phoneNumber, "shine's number is still the account's")
                #expect(!twilio.released.contains(firstSID))
            }
        }
    }

    @Test("without the bridge's public URL, a number that could not be reached is not bought", arguments: TestBackend.available)
    func provisioningWithoutWebhooks(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            for webhookBaseURL in [nil, "bridge.shine.example"] {
                try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base, webhookBaseURL: webhookBaseURL))) { platform in
                    for validateOnly in [true, false] {
                        var request = Self.request("shine", mode: .provisionNumber)
                        request.review.validateOnly = validateOnly
                        let refused = await failure {
                            try await Self.concierge(platform).createConciergeTenant(request, metadata: platform.metadata(platform.ownerToken))
                        }
                        #expect(refused?.code == .failedPrecondition)
                        #expect(refused?.reason == "number_webhooks_unconfigured")
                        #expect(refused?.message.contains("SERVICEPRO_TWILIO_WEBHOOK_URL") == true)
                    }
                    let left = try await Self.traces(platform, "shine")
                    #expect(left == 0)
                }
            }
            #expect(twilio.requests.isEmpty, "nothing searched, nothing bought")
        }
    }

    @Test("a retry that overlaps its first attempt returns the first result and gives back the number it bought", arguments: TestBackend.available)
    func overlappingRetry(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with(delay: .seconds(1)) { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                var create = Self.request("shine", mode: .provisionNumber)
                create.requestID = "concierge-overlap"
                // Both pass the lookup for an earlier result while the first is still buying.
                async let first = Self.concierge(platform).createConciergeTenant(create, metadata: owner)
                async let retry = Self.concierge(platform).createConciergeTenant(create, metadata: owner)
                let (one, two) = try await (first, retry)
                #expect(one == two)
                // Both bought a number (unless a loaded machine kept them from overlapping at all),
                // and what one bought for nothing was given back.
                let bought = twilio.requests.filter { $0.hasPrefix("POST") }.count
                #expect(twilio.owned.count == 1)
                #expect(twilio.released.count == bought - 1)
                #expect(Set(twilio.owned.values) == [one.phoneConfig.phoneNumber])
            }
        }
    }

    @Test("a failure at any step leaves no trace, and the number bought for it is released", arguments: TestBackend.available)
    func atomicity(backend: TestBackend) async throws {
        for step in ConciergeStep.allCases {
            try await FakeTwilioNumbers.with { twilio, base in
                struct Injected: Error {}
                let faults = ConciergeFaults { if $0 == step { throw Injected() } }
                try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: Self.numbers(base), faults: faults)) { platform in
                    let failed = await failure {
                        try await Self.concierge(platform).createConciergeTenant(Self.request("shine", mode: .provisionNumber), metadata: platform.metadata(platform.ownerToken))
                    }
                    #expect(failed?.code == .internalError, "failing after \(step)")
                    let left = try await Self.traces(platform, "shine")
                    #expect(left == 0, "nothing of the tenant after failing at \(step)")
                    #expect(twilio.owned.isEmpty, "the number bought is given back after failing at \(step)")
                    #expect(twilio.released.count == 1)
                }
            }
        }
    }

    @Test("applying a pack puts its IVR menu on the numbers whose menu nobody chose, and calls hear it at once", arguments: TestBackend.available)
    func applyPackMenu(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            try await platform.createTenant("paws", displayName: "Paws & Claws", tier: .pro)
            let configs = PhoneConfigService.Client(wrapping: platform.client)
            _ = try await configs.createPhoneConfig(.with {
                $0.parent = "tenants/paws"; $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550141"; $0.ivrMode = .ivr }
            }, metadata: owner)
            let inbound = InboundService.Client(wrapping: platform.client)
            func greeting(_ sid: String) async throws -> String {
                let reply = try await inbound.handleInboundCall(
                    .with { $0.callSid = sid; $0.to = "+19185550141"; $0.from = "+15550001111" }, metadata: platform.metadata(platform.bridgeToken))
                return reply.instructions.compactMap { instruction -> String? in
                    if case .gather(let gather) = instruction.instruction { return gather.prompts.map(\.text).joined(separator: " ") }
                    if case .say(let say) = instruction.instruction { return say.text }
                    return nil
                }.joined(separator: " ")
            }
            let pack = try #require(try IndustryPackCatalog.bundled().pack(id: "pet_grooming"))
            let packGreeting = PackPlaceholders.fill(pack.ivrMenu.greeting, [PackPlaceholders.businessName: "Paws & Claws"])
            #expect(try await greeting("CA" + String(repeating: "1", count: 32)).contains(packGreeting) == false)

            _ = try await Self.concierge(platform).applyIndustryPack(.with { $0.name = "tenants/paws"; $0.industryPack = "industryPacks/pet_grooming" }, metadata: owner)
            let stored = try await configs.getPhoneConfig(.with { $0.name = "tenants/paws/phoneConfigs/main" }, metadata: owner)
            #expect(stored.ivrMenu == pack.ivrMenu)
            #expect(try await greeting("CA" + String(repeating: "2", count: 32)).contains(packGreeting))
        }
    }

    @Test("applying a pack to an existing tenant adds what it lacks and keeps what it changed", arguments: TestBackend.available)
    func applyPack(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            try await platform.createTenant("acme", industry: "generic", tier: .pro)
            let first = try await Self.concierge(platform).applyIndustryPack(.with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/lawn_care" }, metadata: owner)
            #expect(!first.added.isEmpty)
            let tenant = try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/acme" })
            #expect(tenant.industry == "lawn_care", "the tenant's industry is the pack it runs on")
            let dryRun = try await Self.concierge(platform).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/lawn_care"; $0.validateOnly = true }, metadata: owner)
            #expect(dryRun.added.isEmpty, "everything is already there")
            let unknown = await failure {
                try await Self.concierge(platform).applyIndustryPack(.with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/boats" }, metadata: owner)
            }
            #expect(unknown?.fields == ["industry_pack"])
        }
    }

    @Test("a tenant's admin applies a pack to its own tenant, self-serve; a member cannot, and no tenant reaches another's", arguments: TestBackend.available)
    func selfServePack(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", industry: "generic", tier: .pro)
            try await platform.createTenant("bravo", industry: "generic", tier: .pro)
            let admin = platform.metadata(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let applied = try await Self.concierge(platform).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/lawn_care" }, metadata: admin)
            #expect(!applied.added.isEmpty)
            #expect(try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/acme" }).industry == "lawn_care")
            let elsewhere = await failure {
                try await Self.concierge(platform).applyIndustryPack(.with { $0.name = "tenants/bravo"; $0.industryPack = "industryPacks/lawn_care" }, metadata: admin)
            }
            #expect(elsewhere?.code == .notFound)
            let member = platform.metadata(try await platform.token(role: .tenantMember, tenant: "acme"))
            let refused = await failure {
                try await Self.concierge(platform).applyIndustryPack(.with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/pet_grooming" }, metadata: member)
            }
            #expect(refused?.code == .permissionDenied)
            #expect(try await IndustryPackTests.items("bravo", platform).isEmpty, "bravo is as it was")
        }
    }

    @Test("onboarding queues an email and a text with a login link, once per request_id", arguments: TestBackend.available)
    func onboarding(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            _ = try await Self.concierge(platform).createConciergeTenant(Self.request("shine"), metadata: owner)
            let send = SendOnboardingRequest.with {
                $0.name = "tenants/shine"
                $0.channels = [.email, .sms]
                $0.includeLoginLink = true
                $0.requestID = "onboard-1"
            }
            let queued = try await Self.concierge(platform).sendOnboarding(send, metadata: owner)
            #expect(queued.messages.map(\.channel) == [.email, .sms])
            #expect(queued.messages.allSatisfy { $0.state == .pending })
            #expect(try await Self.concierge(platform).sendOnboarding(send, metadata: owner) == queued)
            let rows = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT recipient, body FROM outbox_messages WHERE tenant_id = 'shine' ORDER BY channel")
            }
            #expect(rows.count == 2)
            #expect(try rows.map { try $0.string("recipient") }.sorted() == ["+19185550999", "dana@shine.example"])
            #expect(try rows.allSatisfy { try $0.string("body").contains("token=spl_") })
            // They say what is so: the new number, the pack's services, the trial's end.
            let trialEnd = try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/shine" }).trialEndTime.date
            let mail = try #require(try rows.first { try $0.string("recipient").contains("@") }?.string("body"))
            #expect(mail.contains("Your business number is +19185550123"), "\(mail)")
            #expect(mail.contains("Ready to use, and yours to change: your services and prices, texts and phone menu."))
            #expect(mail.contains("Your free trial runs until \(trialEnd.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day()))."))
            let text = try #require(try rows.first { try $0.string("recipient").hasPrefix("+") }?.string("body"))
            #expect(text.hasPrefix("Shine Auto Spa is live on ServicePro. Your number: +19185550123. Sign in"), "\(text)")
            let links = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT link_id FROM login_links WHERE tenant_id = 'shine'").map { try $0.string("link_id") }
            }
            #expect(links.count == 1)
            // The audit event names the link sent, so a link that went astray can be revoked.
            let sent = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/shine" }).auditEvents
                .first { $0.method.hasSuffix("SendOnboarding") }
            #expect(sent?.details["login_link"] == "tenants/shine/loginLinks/\(links[0])", "\(String(describing: sent?.details))")

            // A request id is its caller's own: another operator's request with the same id is a
            // request of its own, whose link goes out in its own messages.
            let staff = platform.metadata(try await platform.token(role: .platformStaff, tenant: "root"))
            let other = try await Self.concierge(platform).sendOnboarding(send, metadata: staff)
            #expect(Set(other.messages.map(\.name)).isDisjoint(with: queued.messages.map(\.name)))
            let bodies = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT body FROM outbox_messages WHERE tenant_id = 'shine'").map { try $0.string("body") }
            }
            let linkIDs = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT link_id FROM login_links WHERE tenant_id = 'shine'").map { try $0.string("link_id") }
            }
            #expect(bodies.count == 4)
            #expect(linkIDs.count == 2)
            for linkID in linkIDs {
                #expect(bodies.filter { $0.contains("token=spl_\(linkID)_") }.count == 2, "each link is sent, by email and text")
            }

            // Addresses the outbox could not mail are refused by name, not blamed on a field the request lacks.
            for address in ["ops@shine.example.", "<dana@shine.example>", "a@b@shine.example"] {
                let override = await failure {
                    try await Self.concierge(platform).sendOnboarding(.with { $0.name = "tenants/shine"; $0.channels = [.email]; $0.email = address }, metadata: owner)
                }
                #expect(override?.fields == ["email"], "\(address)")
            }
            _ = try await platform.database.withTenant("shine") { tx in
                try await tx.update("tenants", set: [("contact_email", "ops@shine.example.")], where: "1 = 1")
            }
            let stored = await failure {
                try await Self.concierge(platform).sendOnboarding(.with { $0.name = "tenants/shine"; $0.channels = [.email] }, metadata: owner)
            }
            #expect(stored?.code == .failedPrecondition)
            #expect(stored?.reason == "contact_email_unusable")
        }
    }
}
