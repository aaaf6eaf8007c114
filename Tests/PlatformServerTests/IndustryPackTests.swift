import Foundation
import GRPCCore
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

@testable import PlatformServer

/// The industry pack catalogue, its RPCs, and the merge rules that apply a pack to a tenant, on
/// every store.
@Suite("Industry packs")
struct IndustryPackTests {
    static let packIDs = ["auto_detailing", "generic", "house_cleaning", "lawn_care", "pet_grooming"]

    // MARK: Catalogue

    @Test("the bundled catalogue has the five packs, each with all its content")
    func bundledCatalogue() throws {
        let catalog = try IndustryPackCatalog.bundled()
        #expect(catalog.all.map(\.name) == Self.packIDs.map { "industryPacks/\($0)" })
        #expect(catalog.fallback.name == "industryPacks/generic")
        #expect(catalog.pack(forIndustry: "plumbing").name == "industryPacks/generic")
        #expect(catalog.pack(forIndustry: "lawn_care").name == "industryPacks/lawn_care")
        #expect(catalog.pack(named: "industryPacks/pet_grooming")?.displayName == "Pet Grooming")
        #expect(catalog.pack(named: "pet_grooming") == nil)
        #expect(catalog.pack(id: "plumbing") == nil)
        for pack in catalog.all {
            #expect(!pack.displayName.isEmpty && !pack.summary.isEmpty, "\(pack.name)")
            #expect(pack.version.count == 12 && pack.version.allSatisfy(\.isHexDigit), "\(pack.name)")
            #expect(pack.services.count >= 3, "\(pack.name)")
            #expect(pack.services.allSatisfy { $0.duration.seconds > 0 && $0.priceCents >= 0 && $0.currencyCode == "USD" }, "\(pack.name)")
            #expect(pack.faqs.count >= 4, "\(pack.name)")
            #expect(pack.smsTemplates.map(\.kind) == [.bookingConfirmation, .reminder, .reviewRequest, .autoReply], "\(pack.name)")
            #expect(pack.ivrMenu.greeting.contains("{{business_name}}"), "\(pack.name)")
            #expect(pack.ivrMenu.options.map(\.digit) == ["1", "2", "3", "7"], "\(pack.name)")
            #expect(pack.ivrMenu.options.map(\.action) == [.servicesAndPrices, .bookingLinkSms, .speakToSomeone, .voicemail], "\(pack.name)")
            #expect(!pack.aiAgent.instructions.isEmpty && !pack.aiAgent.greeting.isEmpty && pack.aiAgent.vocabulary.count >= 5, "\(pack.name)")
            let reminder = try #require(pack.automations.first { $0.key == "reminder_24h" }, "\(pack.name)")
            #expect(reminder.trigger == .beforeAppointmentStart && reminder.offset.seconds == 86_400 && reminder.template == .reminder)
            let review = try #require(pack.automations.first { $0.key == "review_request" }, "\(pack.name)")
            #expect(review.trigger == .appointmentCompleted && review.offset.seconds > 0 && review.template == .reviewRequest)
        }

        // Clean Machine's own industry.
        let detailing = try #require(catalog.pack(id: "auto_detailing"))
        #expect(detailing.displayName == "Auto Detailing")
        #expect(Array(detailing.services.map(\.name).prefix(4)) == ["Full Detail", "Interior Detail", "Exterior Wash & Wax", "Ceramic Coating"])
        let full = detailing.services[0]
        #expect(full.priceCents == 24_900 && full.duration.seconds == 4 * 3600)
        #expect(full.upsells.map(\.name).contains("Pet hair removal"))
        #expect(detailing.aiAgent.vocabulary.contains("ceramic coating"))
    }

    @Test("placeholders are found, checked against what a text may use, and filled in")
    func placeholders() {
        #expect(PackPlaceholders.names(in: "Hi {{customer_name}}, book at {{ booking_url }}").names == ["customer_name", "booking_url"])
        #expect(PackPlaceholders.names(in: "Hi {{customer_name").unclosed)
        #expect(PackPlaceholders.violations(in: "Hi {{customer_name}}", allowed: PackPlaceholders.smsTemplate, field: "body").isEmpty)
        let unknown = PackPlaceholders.violations(in: "Hi {{first_name}}", allowed: PackPlaceholders.smsTemplate, field: "body")
        #expect(unknown.map(\.field) == ["body"])
        #expect(unknown.first?.description.contains("{{first_name}}") == true)
        #expect(PackPlaceholders.violations(in: "Rate us: {{review_url}}", allowed: PackPlaceholders.businessOnly, field: "greeting").count == 1)
        #expect(PackPlaceholders.fill("Thanks for calling {{business_name}}! {{ business_name }} {{other}}", ["business_name": "Acme"])
            == "Thanks for calling Acme! Acme {{other}}")
        // A text is sent whole or not at all: one name without a value and the caller picks another.
        let link = ["business_name": "Acme", "booking_url": "https://acme.example/book"]
        #expect(PackPlaceholders.completelyFilled("Book {{business_name}}: {{ booking_url }}", link) == "Book Acme: https://acme.example/book")
        #expect(PackPlaceholders.completelyFilled("Book {{business_name}}: {{booking_url}}", ["business_name": "Acme"]) == nil)
        #expect(PackPlaceholders.completelyFilled("Book {{business_name", link) == nil)
        // The first text that can be filled and still fits in a message.
        #expect(PackPlaceholders.firstFilled(["", "At {{booking_url}}", "Call {{business_name}}"], link, maxLength: 20) == "Call Acme",
                "the link makes the second 28 characters")
        #expect(PackPlaceholders.firstFilled(["At {{booking_url}}", "Call {{business_name}}"], link, maxLength: 40) == "At https://acme.example/book")
        #expect(PackPlaceholders.firstFilled(["Hi {{customer_name}}"], link, maxLength: 40) == nil)
    }

    @Test("a broken pack stops the load with an error naming the file and the field")
    func brokenPacks() throws {
        let catalog = try IndustryPackCatalog.bundled()
        let generic = try Self.fileText(catalog.fallback)
        let lawn = try #require(catalog.pack(id: "lawn_care"))
        let lawnText = try Self.fileText(lawn)

        // Written out again, the packs load as they were, but for the version, which is the file's.
        let copied = try Self.load(["generic.json": generic, "lawn_care.json": lawnText])
        #expect(copied.all.map(\.name) == ["industryPacks/generic", "industryPacks/lawn_care"])
        var reloaded = try #require(copied.pack(id: "lawn_care"))
        reloaded.version = lawn.version
        #expect(reloaded == lawn)

        let badJSON = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": #"{ "display_name": "Lawn Care", "#]))
        #expect(badJSON.problems.map(\.file) == ["lawn_care.json"])
        #expect(badJSON.problems.first?.message.contains("not an IndustryPack") == true)

        let misspelt = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": #"{ "display_name": "Lawn Care", "colour": "green" }"#]))
        #expect(misspelt.problems.first?.message.contains("colour") == true)

        var duplicate = lawn
        duplicate.services.append(lawn.services[0])
        let duplicateText = try Self.fileText(duplicate)
        let twice = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": duplicateText]))
        let duplicateField = "services[\(lawn.services.count)].name"
        #expect(twice.problems == [.init(
            file: "lawn_care.json", field: duplicateField,
            message: "\"Weekly Mowing\" is already used by services[0]; each service name must be unique")])
        #expect(twice.description.contains("lawn_care.json: \(duplicateField) \"Weekly Mowing\" is already used"))

        var placeholder = lawn
        placeholder.smsTemplates[1].body += " See you then, {{first_name}}!"
        let placeholderText = try Self.fileText(placeholder)
        let unknown = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": placeholderText]))
        #expect(unknown.problems.map(\.field) == ["sms_templates[1].body"])
        #expect(unknown.problems.first?.message.contains("{{first_name}}") == true)

        // The auto-reply goes to someone not yet known: it may not name the customer.
        var autoReply = lawn
        let autoReplyIndex = try #require(autoReply.smsTemplates.firstIndex { $0.kind == .autoReply })
        autoReply.smsTemplates[autoReplyIndex].body = "Hi {{customer_name}}, thanks for texting {{business_name}}!"
        let autoReplyFailure = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": try Self.fileText(autoReply)]))
        #expect(autoReplyFailure.problems.map(\.field) == ["sms_templates[\(autoReplyIndex)].body"])

        // Every problem of a file at once, in the file's order.
        var sloppy = lawn
        sloppy.services[0].duration = Google_Protobuf_Duration(seconds: 0)
        sloppy.services[0].currencyCode = "usd"
        sloppy.ivrMenu.options[1].digit = "1"
        sloppy.automations[0].key = sloppy.automations[1].key
        let sloppyText = try Self.fileText(sloppy)
        let several = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": sloppyText]))
        #expect(several.problems.map(\.field) == ["services[0].duration", "services[0].currency_code", "ivr_menu.options[1].digit", "automations[1].key"])

        // As loaded, with its name and version: those are computed, not written. (The default
        // camelCase field names parse as well as the proto's.)
        let loaded = try lawn.jsonString()
        let computed = try #require(try Self.loadFailure(["generic.json": generic, "lawn_care.json": loaded]))
        #expect(computed.problems.map(\.field) == ["name", "version"])

        let badName = try #require(try Self.loadFailure(["generic.json": generic, "Lawn-Care.json": lawnText]))
        #expect(badName.problems.map(\.file) == ["Lawn-Care.json"])

        let noGeneric = try #require(try Self.loadFailure(["lawn_care.json": lawnText]))
        #expect(noGeneric.problems.map(\.file) == ["generic.json"])
        #expect(noGeneric.description.contains("generic.json: is missing"))
    }

    // MARK: RPCs

    @Test("packs list by display name, a page at a time, and get by name, for platform staff and tenant admins", arguments: TestBackend.available)
    func listAndGet(backend: TestBackend) async throws {
        let catalog = try IndustryPackCatalog.bundled()
        try await TestPlatform.with(backend) { platform in
            let packs = IndustryPackService.Client(wrapping: platform.client)
            let owner = platform.metadata(platform.ownerToken)
            let all = try await packs.listIndustryPacks(ListIndustryPacksRequest(), metadata: owner)
            #expect(all.industryPacks.count == Self.packIDs.count)
            #expect(all.industryPacks.map(\.displayName) == catalog.all.map(\.displayName).sorted())
            #expect(all.nextPageToken.isEmpty)
            #expect(all.industryPacks.first { $0.name == "industryPacks/lawn_care" } == catalog.pack(id: "lawn_care"), "listed with all their content")

            var paged: [String] = []
            var token = ""
            repeat {
                let page = try await packs.listIndustryPacks(.with { $0.pageSize = 2; $0.pageToken = token }, metadata: owner)
                #expect(page.industryPacks.count <= 2)
                paged += page.industryPacks.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(paged == all.industryPacks.map(\.name))
            let badToken = await failure { try await packs.listIndustryPacks(.with { $0.pageToken = "nope" }, metadata: owner) }
            #expect(badToken?.code == .invalidArgument)
            #expect(badToken?.fields == ["page_token"])

            let detailing = try await packs.getIndustryPack(.with { $0.name = "industryPacks/auto_detailing" }, metadata: owner)
            #expect(detailing == catalog.pack(id: "auto_detailing"))
            let unknown = await failure { try await packs.getIndustryPack(.with { $0.name = "industryPacks/plumbing" }, metadata: owner) }
            #expect(unknown?.code == .notFound)
            let malformed = await failure { try await packs.getIndustryPack(.with { $0.name = "auto_detailing" }, metadata: owner) }
            #expect(malformed?.code == .invalidArgument)
            #expect(malformed?.fields == ["name"])

            try await platform.createTenant("acme")
            let admin = platform.metadata(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            #expect(try await packs.listIndustryPacks(ListIndustryPacksRequest(), metadata: admin) == all)
            #expect(try await packs.getIndustryPack(.with { $0.name = "industryPacks/lawn_care" }, metadata: admin) == catalog.pack(id: "lawn_care"))
            let member = platform.metadata(try await platform.token(role: .tenantMember, tenant: "acme"))
            let denied = await failure { try await packs.listIndustryPacks(ListIndustryPacksRequest(), metadata: member) }
            #expect(denied?.code == .permissionDenied)
        }
    }

    // MARK: Merge rules

    @Test("a first apply adds everything, a second finds it all present, and a tenant's edit is never overwritten", arguments: TestBackend.available)
    func mergeRules(backend: TestBackend) async throws {
        let detailing = try #require(try IndustryPackCatalog.bundled().pack(id: "auto_detailing"))
        let packKeys = try Self.keys(of: detailing)
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", industry: "auto_detailing", tier: .pro)

            let first = try await Self.apply(detailing, to: "acme", platform)
            #expect(first.industryPack == "industryPacks/auto_detailing")
            #expect(first.version == detailing.version)
            #expect(Self.keys(first.added) == packKeys)
            #expect(first.added.allSatisfy { $0.skipReason == .unspecified })
            #expect(first.skipped.isEmpty)
            let stored = try await Self.items("acme", platform)
            #expect(stored.map { "\($0.kind.storedName)/\($0.key)" } == packKeys, "in the pack's order")
            #expect(stored.allSatisfy { !$0.isTenantEdited && $0.pack == detailing.name && $0.packVersion == detailing.version })
            #expect(try stored.filter { $0.kind == .service }.map { try $0.decoded(ServiceOffering.self) } == detailing.services)
            #expect(try stored.first { $0.kind == .aiAgent }?.decoded(AiAgentConfig.self) == detailing.aiAgent)
            #expect(try stored.first { $0.kind == .ivrMenu }?.decoded(IvrMenu.self) == detailing.ivrMenu)
            #expect(try stored.filter { $0.kind == .automation }.map { try $0.decoded(AutomationRule.self) } == detailing.automations)

            let again = try await Self.apply(detailing, to: "acme", platform)
            #expect(again.added.isEmpty)
            #expect(Self.keys(again.skipped) == packKeys)
            #expect(again.skipped.allSatisfy { $0.skipReason == .alreadyPresent })

            // The same content written out differently is not an edit; a changed price is.
            try await Self.editService("Ceramic Coating", of: "acme", platform) { _ in }
            try await Self.editService("Full Detail", of: "acme", platform) { $0.priceCents = 27_900 }
            let afterEdit = try await Self.apply(detailing, to: "acme", platform)
            #expect(afterEdit.added.isEmpty)
            #expect(Self.keys(afterEdit.skipped) == packKeys)
            #expect(afterEdit.skipped.filter { $0.skipReason == .tenantEdited }.map(\.key) == ["Full Detail"])
            #expect(afterEdit.skipped.filter { $0.skipReason == .alreadyPresent }.count == packKeys.count - 1)
            #expect(try await Self.service("Full Detail", of: "acme", platform).priceCents == 27_900)

            // A new version of the pack: what the tenant left alone follows it; the edit stays.
            var revised = detailing
            revised.version = "revised00001"
            revised.services[0].priceCents = 25_900
            revised.services[1].priceCents = 17_900
            let update = try await Self.apply(revised, to: "acme", platform)
            #expect(Self.keys(update.added) == ["service/Interior Detail"])
            #expect(update.skipped.first { $0.key == "Full Detail" }?.skipReason == .tenantEdited)
            #expect(try await Self.service("Interior Detail", of: "acme", platform).priceCents == 17_900)
            #expect(try await Self.service("Full Detail", of: "acme", platform).priceCents == 27_900)
            let interior = try await Self.items("acme", platform, kind: .service).first { $0.key == "Interior Detail" }
            #expect(interior?.packVersion == "revised00001")
            #expect(interior?.isTenantEdited == false)
        }
    }

    @Test("another industry's pack adds its items, follows it where the tenant changed nothing, and keeps the tenant's own", arguments: TestBackend.available)
    func switchingPacks(backend: TestBackend) async throws {
        let catalog = try IndustryPackCatalog.bundled()
        let detailing = try #require(catalog.pack(id: "auto_detailing"))
        let generic = catalog.fallback
        let ownQuestion = try #require(generic.faqs.first?.question)
        let genericKeys = try Self.keys(of: generic)
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            _ = try await Self.apply(detailing, to: "acme", platform)
            try await Self.editService("Full Detail", of: "acme", platform) { $0.summary = "Our signature detail, inside and out." }
            try await platform.database.withTenant("acme") { tx in
                // The tenant rewrites its reminder, and writes an FAQ of its own that the generic
                // pack also has.
                let reminder = try SmsTemplate.with { $0.kind = .reminder; $0.body = "See you tomorrow, {{customer_name}}!" }.jsonString()
                try await tx.update(
                    "pack_items", set: [("content", reminder)],
                    where: "kind = 'sms_template' AND item_key = 'SMS_TEMPLATE_KIND_REMINDER'")
                let faq = try Faq.with { $0.question = ownQuestion; $0.answer = "Text us any time." }.jsonString()
                try await tx.insert(into: "pack_items", [
                    ("kind", "faq"), ("item_key", ownQuestion), ("content", faq),
                    ("create_time", Date()), ("update_time", Date()),
                ])
            }

            let switched = try await Self.apply(generic, to: "acme", platform)
            #expect(switched.industryPack == "industryPacks/generic")
            let reported = Self.keys(switched.added) + Self.keys(switched.skipped)
            #expect(reported.sorted() == genericKeys.sorted(), "every item once")
            let added = Set(Self.keys(switched.added))
            #expect(added.isSuperset(of: generic.services.map { "service/\($0.name)" }))
            #expect(added.isSuperset(of: ["ivr_menu/", "ai_agent/", "sms_template/SMS_TEMPLATE_KIND_BOOKING_CONFIRMATION"]))
            let edited = switched.skipped.filter { $0.skipReason == .tenantEdited }
            #expect(Self.keys(edited).sorted() == ["faq/\(ownQuestion)", "sms_template/SMS_TEMPLATE_KIND_REMINDER"])

            let services = try await Self.items("acme", platform, kind: .service)
            #expect(services.map(\.key) == detailing.services.map(\.name) + generic.services.map(\.name), "nothing is removed")
            #expect(try await Self.service("Full Detail", of: "acme", platform).summary == "Our signature detail, inside and out.")
            let agent = try #require(try await Self.items("acme", platform, kind: .aiAgent).first)
            #expect(try agent.decoded(AiAgentConfig.self) == generic.aiAgent)
            #expect(agent.pack == generic.name)
            let templates = try await Self.items("acme", platform, kind: .smsTemplate)
            #expect(try templates.first { $0.key == "SMS_TEMPLATE_KIND_REMINDER" }?.decoded(SmsTemplate.self).body == "See you tomorrow, {{customer_name}}!")
            let faqs = try await Self.items("acme", platform, kind: .faq)
            #expect(try faqs.first { $0.key == ownQuestion }?.decoded(Faq.self).answer == "Text us any time.")
        }
    }

    @Test("automations come with the pack on every plan (the plan decides whether they run)", arguments: TestBackend.available)
    func automationsOnEveryPlan(backend: TestBackend) async throws {
        let lawn = try #require(try IndustryPackCatalog.bundled().pack(id: "lawn_care"))
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("solo", tier: .starter)
            let starter = try await Self.apply(lawn, to: "solo", platform)
            #expect(Self.keys(starter.added) == (try Self.keys(of: lawn)))
            #expect(starter.skipped.isEmpty)
            #expect(try await Self.items("solo", platform, kind: .automation).count == lawn.automations.count)
        }
    }

    @Test("a pack's IVR menu goes on the phone configs whose menu nobody chose, as the pack wrote it", arguments: TestBackend.available)
    func ivrMenuOnPhoneConfigs(backend: TestBackend) async throws {
        let pets = try #require(try IndustryPackCatalog.bundled().pack(id: "pet_grooming"))
        let custom = IvrMenu.with {
            $0.greeting = "Woof! You've reached the grooming van."
            $0.options = [.with { $0.digit = "1"; $0.action = .speakToSomeone; $0.prompt = "Press 1 for a groomer." }]
        }
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("paws", displayName: "Paws & Claws", tier: .pro)
            let changed = try await platform.database.withTenant("paws") { tx in
                try await PhoneConfigRecords.insert(
                    .with { $0.phoneNumber = "+19185550141"; $0.ivrMode = .ivr; $0.ivrMenu = .standard },
                    id: "main", sealedSIPPassword: nil, tx)
                try await PhoneConfigRecords.insert(.with { $0.phoneNumber = "+19185550142"; $0.ivrMode = .simple }, id: "spare", sealedSIPPassword: nil, tx)
                try await PhoneConfigRecords.insert(
                    .with { $0.phoneNumber = "+19185550143"; $0.ivrMode = .ivr; $0.ivrMenu = custom }, id: "van", sealedSIPPassword: nil, tx)
                return try await PackApplier.applyIvrMenu(pets, replacing: nil, tx, now: Date())
            }
            #expect(changed.sorted() == ["tenants/paws/phoneConfigs/main", "tenants/paws/phoneConfigs/spare"])
            let configs = try await platform.database.withTenant("paws") { try await PhoneConfigRecords.all($0.base) }
            let menus = Dictionary(uniqueKeysWithValues: configs.map { ($0.id, $0.config.ivrMenu) })
            #expect(menus["main"] == pets.ivrMenu)
            #expect(menus["main"]?.greeting == "Thanks for calling {{business_name}}, where every pet leaves clean and happy.", "calls fill it in")
            #expect(menus["spare"] == menus["main"])
            #expect(menus["van"] == custom)

            let again = try await platform.database.withTenant("paws") { tx in
                try await PackApplier.applyIvrMenu(pets, replacing: nil, tx, now: Date())
            }
            #expect(again.isEmpty)
        }
    }

    @Test("a new pack's menu replaces the earlier pack's on the lines that still play it, not a menu the tenant wrote", arguments: TestBackend.available)
    func newPackMenuFollows(backend: TestBackend) async throws {
        let catalog = try IndustryPackCatalog.bundled()
        let generic = try #require(catalog.pack(id: "generic"))
        let lawn = try #require(catalog.pack(id: "lawn_care"))
        try #require(generic.ivrMenu != lawn.ivrMenu)
        let custom = IvrMenu.with {
            $0.greeting = "Hi from the mower."
            $0.options = [.with { $0.digit = "1"; $0.action = .speakToSomeone; $0.prompt = "Press 1 for us." }]
        }
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("green", displayName: "Green Acres", tier: .pro)
            try await platform.database.withTenant("green") { tx in
                try await PhoneConfigRecords.insert(.with { $0.phoneNumber = "+19185550151"; $0.ivrMode = .ivr }, id: "main", sealedSIPPassword: nil, tx)
                try await PhoneConfigRecords.insert(
                    .with { $0.phoneNumber = "+19185550152"; $0.ivrMode = .ivr; $0.ivrMenu = custom }, id: "own", sealedSIPPassword: nil, tx)
            }
            _ = try await Self.apply(generic, to: "green", platform)
            func menus() async throws -> [String: IvrMenu] {
                let configs = try await platform.database.withTenant("green") { try await PhoneConfigRecords.all($0.base) }
                return Dictionary(uniqueKeysWithValues: configs.map { ($0.id, $0.config.ivrMenu) })
            }
            #expect(try await menus()["main"] == generic.ivrMenu)
            let summary = try await Self.apply(lawn, to: "green", platform)
            #expect(summary.added.contains { $0.kind == .ivrMenu }, "the summary says the menu changed")
            let after = try await menus()
            #expect(after["main"] == lawn.ivrMenu, "callers hear what the summary says")
            #expect(after["own"] == custom)
        }
    }

    // MARK: Helpers

    static func apply(_ pack: IndustryPack, to tenant: String, _ platform: TestPlatform) async throws -> AppliedPackSummary {
        try await platform.database.withTenant(tenant) { tx in
            try await PackApplier.apply(pack, tx, now: Date())
        }
    }

    static func items(_ tenant: String, _ platform: TestPlatform, kind: PackItemKind? = nil) async throws -> [StoredPackItem] {
        try await platform.database.withTenant(tenant) { try await PackItemRecords.all($0, kind: kind) }
    }

    static func service(_ name: String, of tenant: String, _ platform: TestPlatform) async throws -> ServiceOffering {
        let item = try #require(try await items(tenant, platform, kind: .service).first { $0.key == name })
        return try item.decoded(ServiceOffering.self)
    }

    /// Changes a service as a tenant's own editor would: new content, the applied hash untouched.
    /// The JSON is written with the default (camelCase) names, unlike the applier's.
    static func editService(
        _ name: String, of tenant: String, _ platform: TestPlatform, _ edit: @escaping @Sendable (inout ServiceOffering) -> Void
    ) async throws {
        try await platform.database.withTenant(tenant) { tx in
            let item = try #require(try await PackItemRecords.all(tx, kind: .service).first { $0.key == name })
            var service = try item.decoded(ServiceOffering.self)
            edit(&service)
            let content = try service.jsonString()
            try await tx.update("pack_items", set: [("content", content)], where: "kind = 'service' AND item_key = \(name)")
        }
    }

    /// Summary items as `kind/key`, which read well when a comparison fails.
    static func keys(_ items: [PackItem]) -> [String] { items.map { "\($0.kind.storedName)/\($0.key)" } }

    static func keys(of pack: IndustryPack) throws -> [String] {
        try PackItemContent.items(of: pack).map { "\($0.kind.storedName)/\($0.key)" }
    }

    /// `pack` as its file says it: without the computed name and version.
    static func fileText(_ pack: IndustryPack) throws -> String {
        var pack = pack
        pack.name = ""
        pack.version = ""
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return try pack.jsonString(options: options)
    }

    /// Loads a catalogue from a new directory holding `files` (name → contents).
    static func load(_ files: [String: String]) throws -> IndustryPackCatalog {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("packs-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in files {
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
        return try IndustryPackCatalog.load(from: directory)
    }

    /// The error loading `files` fails with; nil when they load.
    static func loadFailure(_ files: [String: String]) throws -> IndustryPackCatalogError? {
        do {
            _ = try load(files)
            return nil
        } catch let error as IndustryPackCatalogError {
            return error
        }
    }
}
