import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

@testable import PlatformServer

/// A business's own catalog: the services, FAQs, text templates and AI agent settings its pack
/// gave it, changed over the API, and what calls and the merge rules then make of them.
@Suite("Catalog")
struct CatalogTests {
    static let detailing = try! #require(try IndustryPackCatalog.bundled().pack(id: "auto_detailing"))

    /// Tenant acme with the auto detailing pack, and a client for its admin.
    static func setUp(_ platform: TestPlatform) async throws -> CatalogClient {
        try await platform.createTenant("acme", displayName: "Acme Detailing", industry: "auto_detailing", tier: .pro)
        _ = try await IndustryPackTests.apply(detailing, to: "acme", platform)
        return CatalogClient(platform, try await platform.token(role: .tenantAdmin, tenant: "acme"))
    }

    struct CatalogClient {
        let client: CatalogService.Client<HTTP2ClientTransport.Posix>
        let metadata: Metadata

        init(_ platform: TestPlatform, _ token: String) {
            client = CatalogService.Client(wrapping: platform.client)
            metadata = platform.metadata(token)
        }

        func list(_ kind: CatalogItemKind = .unspecified, pageSize: Int32 = 0, pageToken: String = "", tenant: String = "acme") async throws -> ListCatalogItemsResponse {
            try await client.listCatalogItems(.with {
                $0.parent = "tenants/\(tenant)"
                $0.kind = kind
                $0.pageSize = pageSize
                $0.pageToken = pageToken
            }, metadata: metadata)
        }

        func get(_ name: String) async throws -> CatalogItem {
            try await client.getCatalogItem(.with { $0.name = name }, metadata: metadata)
        }

        func create(_ content: CatalogItem.OneOf_Content?, requestID: String = "") async throws -> CatalogItem {
            try await client.createCatalogItem(.with {
                $0.parent = "tenants/acme"
                $0.catalogItem = .with { $0.content = content }
                $0.requestID = requestID
            }, metadata: metadata)
        }

        func update(_ item: CatalogItem, _ paths: [String]) async throws -> CatalogItem {
            try await client.updateCatalogItem(.with { $0.catalogItem = item; $0.updateMask = .init(protoPaths: paths) }, metadata: metadata)
        }

        func delete(_ name: String, etag: String = "") async throws {
            _ = try await client.deleteCatalogItem(.with { $0.name = name; $0.etag = etag }, metadata: metadata)
        }

        /// The service named `name`, as listed.
        func service(_ name: String) async throws -> CatalogItem {
            try #require(try await list(.service).catalogItems.first { $0.service.name == name })
        }
    }

    static let mobileWash = CatalogItem.OneOf_Content.service(.with {
        $0.name = "Mobile Wash"
        $0.summary = "We come to you."
        $0.duration = .init(seconds: 3600)
        $0.priceCents = 8_900
        $0.currencyCode = "USD"
    })

    @Test("the pack's services, FAQs, templates, AI agent settings and automations list by kind in the pack's order, a page at a time, and each gets by its name", arguments: TestBackend.available)
    func listAndGet(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let catalog = try await Self.setUp(platform)
            let all = try await catalog.list()
            let detailing = Self.detailing
            #expect(all.catalogItems.count == detailing.services.count + detailing.faqs.count + detailing.smsTemplates.count + 1 + detailing.automations.count,
                    "the IVR menu is not a catalog item")
            #expect(all.catalogItems.compactMap { item -> ServiceOffering? in
                if case .service(let service)? = item.content { return service } else { return nil }
            } == detailing.services)
            #expect(all.catalogItems.prefix(detailing.services.count).allSatisfy { $0.name.hasPrefix("tenants/acme/catalogItems/service-") })
            let agent = try #require(all.catalogItems.first { $0.name == "tenants/acme/catalogItems/ai-agent" })
            #expect(agent.aiAgent == detailing.aiAgent)
            #expect(all.catalogItems.suffix(detailing.automations.count).map(\.automation) == detailing.automations, "automations last")
            let review = try #require(all.catalogItems.first { $0.name == "tenants/acme/catalogItems/sms-template-review-request" })
            #expect(review.smsTemplate.kind == .reviewRequest && review.displayName == "Review request")
            #expect(all.catalogItems.first?.displayName == "Full Detail")
            #expect(all.catalogItems.allSatisfy { $0.pack == detailing.name && !$0.edited && !$0.etag.isEmpty && $0.hasCreateTime })
            #expect(Set(all.catalogItems.map(\.name)).count == all.catalogItems.count, "every item has a name of its own")

            #expect(try await catalog.list(.faq).catalogItems.map(\.faq) == detailing.faqs)
            var paged: [String] = []
            var token = ""
            repeat {
                let page = try await catalog.list(pageSize: 4, pageToken: token)
                #expect(page.catalogItems.count <= 4)
                paged += page.catalogItems.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(paged == all.catalogItems.map(\.name))

            // Edited between pages: an item deleted where the next page would start stops
            // nothing, and none is served twice. A token is for the listing it came from.
            let first = try await catalog.list(pageSize: 4)
            #expect(await failure { try await catalog.list(.faq, pageSize: 4, pageToken: first.nextPageToken) }?.fields == ["page_token"])
            try await catalog.delete(all.catalogItems[4].name)
            var rest: [String] = []
            token = first.nextPageToken
            repeat {
                let page = try await catalog.list(pageSize: 4, pageToken: token)
                rest += page.catalogItems.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(first.catalogItems.map(\.name) + rest == all.catalogItems.map(\.name).filter { $0 != all.catalogItems[4].name })

            let full = try await catalog.service("Full Detail")
            #expect(try await catalog.get(full.name) == full)
            let missing = await failure { try await catalog.get("tenants/acme/catalogItems/service-000000000000") }
            #expect(missing?.code == .notFound)
            let malformed = await failure { try await catalog.get("tenants/acme/catalogItems/Full Detail") }
            #expect(malformed?.code == .invalidArgument)
            #expect(malformed?.fields == ["name"])
        }
    }

    @Test("a price changed over the API is what the IVR reads next, and applying the pack again keeps it", arguments: TestBackend.available)
    func editedPriceWins(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let catalog = try await Self.setUp(platform)
            let full = try await catalog.service("Full Detail")
            var change = full
            change.service.priceCents = 27_900
            change.service.name = "Ignored: not in the mask"
            let changed = try await catalog.update(change, ["service.price_cents"])
            #expect(changed.name == full.name)
            #expect(changed.service.name == "Full Detail")
            #expect(changed.service.priceCents == 27_900)
            #expect(changed.edited && changed.pack == Self.detailing.name)
            #expect(changed.etag != full.etag)
            #expect(changed.updateTime.date >= full.updateTime.date)

            // The etag of what was read before the change no longer applies.
            var stale = full
            stale.service.priceCents = 1
            let aborted = await failure { try await catalog.update(stale, ["service.price_cents"]) }
            #expect(aborted?.code == .aborted)
            // Sending back what was read changes nothing, not even the etag.
            #expect(try await catalog.update(changed, ["service.price_cents", "service.summary"]) == changed)

            let priceList = try await platform.database.withTenant("acme") { tx in
                try await PriceList.read(tx).text(businessName: "Acme Detailing")
            }
            #expect(priceList?.hasPrefix("Acme Detailing's services: Full Detail, $279. Interior Detail, $169.") == true, "\(priceList ?? "")")

            let again = try await IndustryPackTests.apply(Self.detailing, to: "acme", platform)
            #expect(again.skipped.first { $0.key == "Full Detail" }?.skipReason == .tenantEdited)
            #expect(try await catalog.service("Full Detail").service.priceCents == 27_900)
        }
    }

    @Test("items the business makes and deletes: bad content names its field, a second of one key is ALREADY_EXISTS, and a refused change changes nothing", arguments: TestBackend.available)
    func createAndDelete(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let catalog = try await Self.setUp(platform)
            let before = try await catalog.list()

            let wash = try await catalog.create(Self.mobileWash, requestID: "wash-1")
            #expect(wash.content == Self.mobileWash)
            #expect(wash.pack.isEmpty && wash.edited, "the business's own")
            #expect(try await catalog.create(Self.mobileWash, requestID: "wash-1") == wash, "a retry gets the first answer")
            #expect(try await catalog.list(.service).catalogItems.last == wash, "listed after the pack's")

            var sameName = Self.mobileWash
            if case .service(var service) = sameName { service.name = "mobile WASH"; sameName = .service(service) }
            let duplicate = await failure { try await catalog.create(sameName) }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.reason == "catalog_item_exists")
            let secondAgent = await failure { try await catalog.create(.aiAgent(Self.detailing.aiAgent)) }
            #expect(secondAgent?.code == .alreadyExists)

            func refused(_ content: CatalogItem.OneOf_Content?) async -> [String] {
                await failure { try await catalog.create(content) }?.fields ?? []
            }
            #expect(await refused(nil) == ["catalog_item.content"])
            #expect(await refused(.service(.with { $0.name = "Quick wash"; $0.currencyCode = "USD" })) == ["catalog_item.service.duration"])
            #expect(await refused(.service(.with { $0.name = "Quick wash"; $0.duration = .init(seconds: 600); $0.currencyCode = "ABC" }))
                == ["catalog_item.service.currency_code"])
            for code in ["XXX", "XTS", "XAU"] {
                #expect(await refused(.service(.with { $0.name = "Quick wash"; $0.duration = .init(seconds: 600); $0.currencyCode = code }))
                    == ["catalog_item.service.currency_code"], "ISO 4217 has \(code), but nobody bills in it")
            }
            #expect(CurrencyCode.known.isSuperset(of: ["USD", "EUR", "XOF", "XAF", "XPF", "XCD"]))
            #expect(await refused(.service(.with { $0.name = "Quick wash"; $0.duration = .init(seconds: 600); $0.currencyCode = "USD"; $0.priceCents = -1 }))
                == ["catalog_item.service.price_cents"])
            #expect(await refused(.faq(.with { $0.question = "Do you vacuum?" })) == ["catalog_item.faq.answer"])
            #expect(await refused(.smsTemplate(.with { $0.kind = .autoReply; $0.body = "Hi {{customer_name}}!" })) == ["catalog_item.sms_template.body"],
                    "the auto-reply goes to someone not yet known")
            // An automation's key names its item (`automation-<key>`): one too long for an id is refused.
            var longest = try #require(Self.detailing.automations.first)
            longest.key = "a" + String(repeating: "_", count: 51)
            var tooLong = longest
            tooLong.key += "b"
            #expect(await refused(.automation(tooLong)) == ["catalog_item.automation.key"])
            #expect(try await catalog.list().catalogItems.count == before.catalogItems.count + 1, "nothing refused was added")
            let made = try await catalog.create(.automation(longest))
            #expect(try await catalog.get(made.name).automation.key == longest.key)
            try await catalog.delete(made.name)

            // Updates keep to the item's kind and never change the key its name comes from.
            var answer = wash
            answer.faq = .with { $0.answer = "Yes" }
            let otherKind = await failure { try await catalog.update(answer, ["faq.answer"]) }
            #expect(otherKind?.fields == ["update_mask"])
            let rename = await failure { try await catalog.update(wash, ["service.name"]) }
            #expect(rename?.fields == ["update_mask"])
            var wrongContent = wash
            wrongContent.faq = .with { $0.question = "Do you vacuum?"; $0.answer = "Yes" }
            let mismatch = await failure { try await catalog.update(wrongContent, ["service.price_cents"]) }
            #expect(mismatch?.fields == ["catalog_item.service"])
            var noDuration = wash
            noDuration.service.clearDuration()
            #expect(await failure { try await catalog.update(noDuration, ["service.duration"]) }?.fields == ["catalog_item.service.duration"])
            #expect(try await catalog.get(wash.name) == wash, "nothing refused was written")

            let template = try #require(try await catalog.list(.smsTemplate).catalogItems.first { $0.smsTemplate.kind == .autoReply })
            var reply = template
            reply.smsTemplate.body = "Thanks for texting {{business_name}}! We'll reply within the hour."
            let replied = try await catalog.update(reply, ["sms_template.body"])
            #expect(replied.smsTemplate.body == reply.smsTemplate.body && replied.smsTemplate.kind == .autoReply)

            let staleDelete = await failure { try await catalog.delete(wash.name, etag: "\"0\"") }
            #expect(staleDelete?.code == .aborted)
            try await catalog.delete(wash.name, etag: wash.etag)
            #expect(await failure { try await catalog.get(wash.name) }?.code == .notFound)
            #expect(await failure { try await catalog.delete(wash.name) }?.code == .notFound)
            // A pack's item deleted comes back when the pack is applied again.
            let full = try await catalog.service("Full Detail")
            try await catalog.delete(full.name)
            let reapplied = try await IndustryPackTests.apply(Self.detailing, to: "acme", platform)
            #expect(reapplied.added.map(\.key) == ["Full Detail"])
        }
    }

    @Test("a full catalog refuses another item, changing nothing, and takes one again once an item is deleted", arguments: TestBackend.available)
    func fullCatalog(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let catalog = try await Self.setUp(platform)
            let limit = PackItemRecords.madeLimit
            try await platform.database.withTenant("acme") { tx in
                let room = limit - (try await PackItemRecords.count(tx))
                for index in 0..<room {
                    let faq = Faq.with { $0.question = "Question \(index)?"; $0.answer = "Yes." }
                    try await PackItemRecords.insertMade(try PackItemContent(kind: .faq, key: faq.question, faq), tx, now: Date())
                }
            }
            let full = await failure { try await catalog.create(Self.mobileWash) }
            #expect(full?.code == .failedPrecondition)
            #expect(full?.reason == "catalog_full")
            #expect(full?.metadata["limit"] == "\(limit)")
            #expect(try await platform.database.withTenant("acme") { try await PackItemRecords.count($0) } == limit, "nothing was added")

            let faq = try #require(try await catalog.list(.faq).catalogItems.first)
            try await catalog.delete(faq.name)
            #expect(try await catalog.create(Self.mobileWash).content == Self.mobileWash)
        }
    }

    @Test("a business's own item and a pack's that differ only in case are one item, and the business's stays", arguments: TestBackend.available)
    func keysIgnoreCase(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing", industry: "auto_detailing", tier: .pro)
            let catalog = CatalogClient(platform, try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let own = try await catalog.create(.service(.with {
                $0.name = "full detail"; $0.duration = .init(seconds: 7200); $0.priceCents = 19_900; $0.currencyCode = "USD"
            }))
            let applied = try await IndustryPackTests.apply(Self.detailing, to: "acme", platform)
            #expect(applied.skipped.first { $0.key == "Full Detail" }?.skipReason == .tenantEdited)
            let services = try await catalog.list(.service).catalogItems
            #expect(services.filter { $0.name == own.name } == [own], "one item, the business's")
            #expect(services.count == Self.detailing.services.count)
        }
    }

    @Test("an item whose stored content no longer reads says so, and can still be deleted and made again", arguments: TestBackend.available)
    func unreadableItem(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let catalog = try await Self.setUp(platform)
            let full = try await catalog.service("Full Detail")
            _ = try await platform.database.withTenant("acme") { tx in
                try await tx.update("pack_items", set: [("content", "{\"price_cents\": \"lots\"}")], where: "kind = 'service' AND item_key = 'Full Detail'")
            }
            #expect(try await catalog.list(.service).catalogItems.count == Self.detailing.services.count - 1, "listed without it")
            let unreadable = await failure { try await catalog.get(full.name) }
            #expect(unreadable?.code == .failedPrecondition && unreadable?.reason == "catalog_item_unreadable", "\(String(describing: unreadable))")
            #expect(await failure { try await catalog.update(full, ["service.price_cents"]) }?.reason == "catalog_item_unreadable")
            #expect(await failure { try await catalog.create(.service(full.service)) }?.code == .alreadyExists)
            try await catalog.delete(full.name)
            #expect(try await catalog.create(.service(full.service)).service == full.service)
        }
    }

    @Test("members and partners read the catalog, only admins and platform staff change it, and no tenant reaches another's", arguments: TestBackend.available)
    func roles(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let admin = try await Self.setUp(platform)
            let member = CatalogClient(platform, try await platform.token(role: .tenantMember, tenant: "acme"))
            let partner = CatalogClient(platform, try await platform.token(role: .partner, tenant: "acme"))
            let staff = CatalogClient(platform, platform.ownerToken)
            let listed = try await admin.list()
            #expect(try await member.list() == listed)
            #expect(try await partner.list() == listed)
            #expect(await failure { try await member.create(Self.mobileWash) }?.code == .permissionDenied)
            let full = try await admin.service("Full Detail")
            #expect(await failure { try await partner.update(full, ["service.price_cents"]) }?.code == .permissionDenied)
            #expect(await failure { try await member.delete(full.name) }?.code == .permissionDenied)
            var change = full
            change.service.priceCents = 25_900
            #expect(try await staff.update(change, ["service.price_cents"]).service.priceCents == 25_900, "platform staff fix prices too")

            try await platform.createTenant("bravo", industry: "lawn_care")
            let bravo = CatalogClient(platform, try await platform.token(role: .tenantAdmin, tenant: "bravo"))
            #expect(try await bravo.list(tenant: "bravo").catalogItems.isEmpty, "bravo has no pack applied")
            let crossed = await failure { try await bravo.get(full.name) }
            #expect(crossed?.code == .permissionDenied || crossed?.code == .notFound, "\(String(describing: crossed))")
            var moved = full
            moved.name = full.name.replacingOccurrences(of: "tenants/acme", with: "tenants/bravo")
            #expect(await failure { try await bravo.update(moved, ["service.price_cents"]) }?.code == .notFound)
        }
    }
}
