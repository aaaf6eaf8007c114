import Foundation
import GRPCCore
import Logging
import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// Tenants and API keys end to end over gRPC, on every store.
@Suite("Tenancy")
struct TenancyTests {
    @Test("the first start seeds Clean Machine as tenants/root", arguments: TestBackend.available)
    func rootIsSeeded(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let root = try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/root" })
            #expect(root.displayName == "Clean Machine")
            #expect(root.planTier == .elite)
            #expect(root.status == .active)
            let tokenFile = platform.home.appendingPathComponent("owner.token").path
            let mode = try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }

    @Test("tenant roles reach their own tenant only; another tenant is NOT_FOUND", arguments: TestBackend.available)
    func crossTenantDenial(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo", tier: .pro)
            let acmeAdmin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            let bravoKey = try await platform.apiKeys(platform.ownerToken).createApiKey(.with {
                $0.parent = "tenants/bravo"; $0.displayName = "bravo partner"; $0.role = .partner
            })

            let own = try await platform.tenants(acmeAdmin).getTenant(.with { $0.name = "tenants/acme" })
            #expect(own.slug == "acme")
            let other = await failure { try await platform.tenants(acmeAdmin).getTenant(.with { $0.name = "tenants/bravo" }) }
            #expect(other?.code == .notFound)
            #expect(other?.message.contains("Bravo") == false)
            let missing = await failure { try await platform.tenants(acmeAdmin).getTenant(.with { $0.name = "tenants/nosuch" }) }
            #expect(missing?.code == other?.code)

            let keys = await failure { try await platform.apiKeys(acmeAdmin).listApiKeys(.with { $0.parent = "tenants/bravo" }) }
            #expect(keys?.code == .notFound)
            let revoke = await failure { try await platform.apiKeys(acmeAdmin).revokeApiKey(.with { $0.name = bravoKey.apiKey.name }) }
            #expect(revoke?.code == .notFound)
            let stillWorks = try await platform.tenants(bravoKey.token).getTenant(.with { $0.name = "tenants/bravo" })
            #expect(stillWorks.slug == "bravo")
            let update = await failure {
                try await platform.tenants(acmeAdmin).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/bravo"; $0.city = "Hijacked" }
                    $0.updateMask = .init(protoPaths: ["city"])
                })
            }
            #expect(update?.code == .notFound)
            #expect(try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/bravo" }).city == "")
        }
    }

    @Test("bad fields are INVALID_ARGUMENT naming each field, and nothing is created", arguments: TestBackend.available)
    func validation(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let result = await failure {
                try await platform.tenants(platform.ownerToken).createTenant(.with {
                    $0.tenantID = "Bad Slug"
                    $0.tenant = .with {
                        $0.displayName = "Bad"
                        $0.contact = .with { $0.phone = "918-555-1234"; $0.email = "not-an-email" }
                        $0.branding = .with { $0.primaryColor = "red" }
                        $0.planTier = .UNRECOGNIZED(42)
                        $0.status = .UNRECOGNIZED(42)
                    }
                    $0.requestID = String(repeating: "x", count: 65)
                })
            }
            #expect(result?.code == .invalidArgument)
            #expect(Set(result?.fields ?? []) == [
                "tenant_id", "tenant.contact.phone", "tenant.contact.email", "tenant.branding.primary_color", "tenant.plan_tier", "tenant.status", "request_id",
            ])
            let listed = try await platform.tenants(platform.ownerToken).listTenants(.init())
            #expect(listed.tenants.map(\.slug) == ["root"])

            // A NUL character, which PostgreSQL cannot store, is refused by name on both stores.
            let nul = await failure {
                try await platform.tenants(platform.ownerToken).createTenant(.with {
                    $0.tenantID = "nul"; $0.tenant = .with { $0.displayName = "Acme\u{0}"; $0.contact.personName = "Pat" }
                })
            }
            #expect(nul?.code == .invalidArgument)
            #expect(nul?.fields == ["tenant.display_name"])
            let nulFilter = await failure { try await platform.tenants(platform.ownerToken).listTenants(.with { $0.industry = "lawn\u{0}" }) }
            #expect(nulFilter?.fields == ["industry"])

            let noName = await failure {
                try await platform.tenants(platform.ownerToken).createTenant(.with { $0.tenantID = "nameless"; $0.tenant = .init() })
            }
            #expect(noName?.fields == ["tenant.display_name"])
            // Names are trimmed, newlines included: one that is only whitespace is no name.
            let blank = await failure {
                try await platform.tenants(platform.ownerToken).createTenant(.with { $0.tenantID = "blank"; $0.tenant = .with { $0.displayName = " \n\t" } })
            }
            #expect(blank?.fields == ["tenant.display_name"])
            let padded = try await platform.tenants(platform.ownerToken).createTenant(.with {
                $0.tenantID = "padded"
                $0.tenant = .with { $0.displayName = " Acme Lawn\n"; $0.city = " Tulsa "; $0.contact.personName = "\tPat " }
            })
            #expect([padded.displayName, padded.city, padded.contact.personName] == ["Acme Lawn", "Tulsa", "Pat"])
            let blankKey = await failure {
                try await platform.apiKeys(platform.ownerToken).createApiKey(.with { $0.parent = "tenants/padded"; $0.displayName = "  "; $0.role = .tenantAdmin })
            }
            #expect(blankKey?.fields == ["display_name"])
            _ = try await platform.tenants(platform.ownerToken).deleteTenant(.with { $0.name = "tenants/padded" })
            // A new tenant starts trialing or active, and a trial end belongs to a trial that is
            // still to come; billing moves a tenant on from there.
            for (status, trialEnd, field) in [
                (TenantStatus.suspended, nil, "tenant.status"), (.cancelled, nil, "tenant.status"), (.pastDue, nil, "tenant.status"),
                (.active, Int64(4_000_000_000), "tenant.trial_end_time"), (.trialing, Int64(1_000_000_000), "tenant.trial_end_time"),
            ] as [(TenantStatus, Int64?, String)] {
                let refused = await failure {
                    try await platform.tenants(platform.ownerToken).createTenant(.with {
                        $0.tenantID = "halfway"
                        $0.tenant = .with {
                            $0.displayName = "Halfway Co"; $0.status = status
                            if let trialEnd { $0.trialEndTime = .init(seconds: trialEnd) }
                        }
                    })
                }
                #expect(refused?.code == .invalidArgument, "\(status)")
                #expect(refused?.fields == [field], "\(status)")
            }
            // A name no tenant could have is bad input, not a missing tenant; and a long value
            // echoed in an answer is cut short, so the answer still fits in its headers.
            for malformed in ["tenants/ACME", "tenants/acme ", "tenants/-acme", "tenants/" + String(repeating: "a", count: 64), "tenants/acme\u{0}"] {
                let refused = await failure { try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = malformed }) }
                #expect(refused?.code == .invalidArgument, "\(malformed.prefix(80)): \(String(describing: refused))")
                #expect(Set(refused?.fields ?? []) == ["name"])
            }
            let hugePath = String(repeating: "x", count: 100_000)
            let echoed = await failure {
                try await platform.tenants(platform.ownerToken).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/root" }
                    $0.updateMask = .init(protoPaths: [hugePath])
                })
            }
            #expect(echoed?.code == .invalidArgument, "\(String(describing: echoed).prefix(300))")
            #expect(echoed?.fields == ["update_mask"])
            #expect((echoed?.message.count ?? .max) < 1100)

            let badMask = await failure {
                try await platform.tenants(platform.ownerToken).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/root" }
                    $0.updateMask = .init(protoPaths: ["slug"])
                })
            }
            #expect(badMask?.code == .invalidArgument)
            #expect(badMask?.fields == ["update_mask"])

            // Without the resource the tenant is read from, the refusal names that field.
            let noParent = await failure {
                try await platform.apiKeys(platform.ownerToken).createApiKey(.with { $0.displayName = "site"; $0.role = .partner })
            }
            #expect(noParent?.code == .invalidArgument)
            #expect(noParent?.fields == ["parent"], "\(String(describing: noParent))")
            let noTenant = await failure {
                try await platform.tenants(platform.ownerToken).updateTenant(.with { $0.updateMask = .init(protoPaths: ["city"]) })
            }
            #expect(noTenant?.code == .invalidArgument)
            #expect(noTenant?.fields == ["tenant"], "\(String(describing: noTenant))")
            let unnamedTenant = await failure {
                try await platform.tenants(platform.ownerToken).updateTenant(.with {
                    $0.tenant = .with { $0.city = "Tulsa" }
                    $0.updateMask = .init(protoPaths: ["city"])
                })
            }
            #expect(unnamedTenant?.fields == ["tenant.name"], "\(String(describing: unnamedTenant))")
            let unnamedCustomer = await failure {
                try await CustomerService.Client(wrapping: platform.client).updateCustomer(.with {
                    $0.customer = .with { $0.displayName = "Jane" }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                }, metadata: platform.metadata(platform.ownerToken))
            }
            #expect(unnamedCustomer?.fields == ["customer.name"], "\(String(describing: unnamedCustomer))")
        }
    }

    @Test("listing pages through every tenant once, with filters and a total", arguments: TestBackend.available)
    func pagination(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            for index in 1...7 {
                try await platform.createTenant("shop-\(index)", industry: index.isMultiple(of: 2) ? "pet_grooming" : "lawn_care")
            }
            let tenants = platform.tenants(platform.ownerToken)
            var seen: [String] = []
            var token = ""
            var pages = 0
            repeat {
                let page = try await tenants.listTenants(.with { $0.pageSize = 3; $0.pageToken = token })
                #expect(page.totalSize == 8)
                #expect(page.tenants.count <= 3)
                seen += page.tenants.map(\.slug)
                token = page.nextPageToken
                pages += 1
            } while !token.isEmpty
            #expect(pages == 3)
            #expect(seen.count == 8)
            #expect(Set(seen).count == 8)

            let groomers = try await tenants.listTenants(.with { $0.industry = "pet_grooming" })
            #expect(Set(groomers.tenants.map(\.slug)) == ["shop-2", "shop-4", "shop-6"])
            #expect(groomers.totalSize == 3)
            let trialing = try await tenants.listTenants(.with { $0.status = .trialing })
            #expect(trialing.totalSize == 7)

            let first = try await tenants.listTenants(.with { $0.pageSize = 3 })
            let replayed = await failure {
                try await tenants.listTenants(.with { $0.pageSize = 3; $0.pageToken = first.nextPageToken; $0.industry = "lawn_care" })
            }
            #expect(replayed?.fields == ["page_token"])
            // A real token crafted to hold a NUL in its position, which PostgreSQL cannot compare.
            var base64 = first.nextPageToken.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            let decoded = try #require(Data(base64Encoded: base64))
            var cursor = try #require(try JSONSerialization.jsonObject(with: decoded) as? [String: Any])
            var position = try #require(cursor["position"] as? [String])
            position[position.count - 1] += "\u{0}"
            cursor["position"] = position
            let crafted = try JSONSerialization.data(withJSONObject: cursor).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let nulToken = await failure { try await tenants.listTenants(.with { $0.pageSize = 3; $0.pageToken = crafted }) }
            #expect(nulToken?.code == .invalidArgument)
            #expect(nulToken?.fields == ["page_token"])
            let negative = await failure { try await tenants.listTenants(.with { $0.pageSize = -1 }) }
            #expect(negative?.fields == ["page_size"])
        }
    }

    @Test("a stale etag is ABORTED; the current one updates and changes it", arguments: TestBackend.available)
    func etags(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let created = try await platform.createTenant("acme")
            let tenants = platform.tenants(platform.ownerToken)
            let updated = try await tenants.updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Tulsa"; $0.etag = created.etag }
                $0.updateMask = .init(protoPaths: ["city"])
            })
            #expect(updated.city == "Tulsa")
            #expect(updated.etag != created.etag)
            #expect(updated.displayName == created.displayName)

            let stale = await failure {
                try await tenants.updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Dallas"; $0.etag = created.etag }
                    $0.updateMask = .init(protoPaths: ["city"])
                })
            }
            #expect(stale?.code == .aborted)
            #expect(try await tenants.getTenant(.with { $0.name = "tenants/acme" }).city == "Tulsa")
            let staleDelete = await failure { try await tenants.deleteTenant(.with { $0.name = "tenants/acme"; $0.etag = created.etag }) }
            #expect(staleDelete?.code == .aborted)
        }
    }

    @Test("fields the server sets are ignored in requests: a resource read and sent back changes none of them", arguments: TestBackend.available)
    func outputOnlyFields(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = platform.tenants(platform.ownerToken)
            let past = Google_Protobuf_Timestamp(date: Date(timeIntervalSince1970: 946_684_800))
            let created = try await tenants.createTenant(.with {
                $0.tenantID = "acme"
                $0.tenant = .with { $0.displayName = "Acme"; $0.createTime = past; $0.updateTime = past }
            })
            #expect(abs(created.createTime.date.timeIntervalSinceNow) < 60, "the server's time, not the request's")
            var sentBack = created
            sentBack.city = "Tulsa"
            sentBack.createTime = past
            let updated = try await tenants.updateTenant(.with {
                $0.tenant = sentBack
                $0.updateMask = .init(protoPaths: ["city"])
            })
            #expect(updated.city == "Tulsa")
            #expect(updated.createTime == created.createTime)
            // Naming one in the mask is refused, as for any field an update cannot change.
            let masked = await failure {
                try await tenants.updateTenant(.with { $0.tenant = sentBack; $0.updateMask = .init(protoPaths: ["create_time"]) })
            }
            #expect(masked?.fields == ["update_mask"])
            // The pipeline clears them before any handler runs (`output_only`), whatever the handler does.
            var request = CreateTenantRequest.with { $0.tenant = sentBack }
            request.normalize()
            #expect(!request.tenant.hasCreateTime && !request.tenant.hasUpdateTime)
            #expect(request.tenant.city == "Tulsa")
        }
    }

    @Test("tenants/- names every tenant only for listings; elsewhere it is INVALID_ARGUMENT on its field", arguments: TestBackend.available)
    func everyTenantOnlyForListings(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.metadata(platform.ownerToken)
            let get = await failure { try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/-" }) }
            #expect(get?.code == .invalidArgument)
            #expect(get?.fields == ["name"])
            let update = await failure {
                try await CustomerService.Client(wrapping: platform.client).updateCustomer(.with {
                    $0.customer = .with { $0.name = "tenants/-/customers/c1"; $0.displayName = "Pat" }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                }, metadata: owner)
            }
            #expect(update?.code == .invalidArgument)
            #expect(update?.fields == ["customer.name"])
            let everyTenants = try await platform.auditEvents(.with { $0.parent = "tenants/-" })
            #expect(!everyTenants.isEmpty, "a listing that takes it still does")
        }
    }

    @Test("a retried create with the same request_id returns the first result", arguments: TestBackend.available)
    func idempotentCreate(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = platform.tenants(platform.ownerToken)
            let request = CreateTenantRequest.with {
                $0.tenantID = "acme"
                $0.tenant = .with { $0.displayName = "Acme"; $0.planTier = .pro }
                $0.requestID = "create-acme-1"
            }
            let first = try await tenants.createTenant(request)
            let retried = try await tenants.createTenant(request)
            #expect(retried == first)
            let duplicate = await failure {
                try await tenants.createTenant(.with { $0.tenantID = "acme"; $0.tenant = .with { $0.displayName = "Other" }; $0.requestID = "create-acme-2" })
            }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.fields == ["tenant_id"])

            let keyRequest = CreateApiKeyRequest.with { $0.parent = "tenants/acme"; $0.displayName = "site"; $0.role = .partner; $0.requestID = "key-1" }
            let key = try await platform.apiKeys(platform.ownerToken).createApiKey(keyRequest)
            let keyAgain = try await platform.apiKeys(platform.ownerToken).createApiKey(keyRequest)
            #expect(keyAgain == key)
            let listed = try await platform.apiKeys(platform.ownerToken).listApiKeys(.with { $0.parent = "tenants/acme" })
            #expect(listed.apiKeys.count == 1)

            // The retry's record keeps the token sealed: the secret is nowhere in the store.
            let secret = try #require(key.token.split(separator: "_").last.map(String.init))
            let stored = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT * FROM api_keys") + tx.query("SELECT * FROM idempotency_records")
            }
            #expect(stored.contains { $0.values["method"] == .text("CreateApiKey") })
            #expect(!stored.contains { $0.holds(secret) })
        }
    }

    @Test("creates of one id at the same time: one tenant, and every other call ALREADY_EXISTS on tenant_id", arguments: TestBackend.available)
    func concurrentCreates(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = platform.tenants(platform.ownerToken)
            // nil for the call that created the tenant.
            let refusals = await withTaskGroup(of: CallFailure?.self) { group in
                for attempt in 0..<8 {
                    group.addTask {
                        await failure {
                            try await tenants.createTenant(.with {
                                $0.tenantID = "acme"
                                $0.tenant = .with { $0.displayName = "Acme \(attempt)" }
                                $0.requestID = "create-acme-\(attempt)"
                            })
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(refusals.filter { $0 == nil }.count == 1)
            for case let refusal? in refusals {
                #expect(refusal.code == .alreadyExists, "\(refusal)")
                #expect(refusal.fields == ["tenant_id"])
            }
        }
    }

    @Test("API keys page newest first, each key once", arguments: TestBackend.available)
    func apiKeysPage(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let keys = platform.apiKeys(platform.ownerToken)
            var created: [String] = []
            for index in 1...5 {
                created.append(try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "key \(index)"; $0.role = .tenantMember }).apiKey.name)
            }
            var listed: [String] = []
            var token = ""
            repeat {
                let page = try await keys.listApiKeys(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = token })
                #expect(page.apiKeys.count <= 2)
                listed += page.apiKeys.map { $0.name }
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(listed == created.reversed())
        }
    }

    @Test("a key's last use is recorded, to the minute, so stale keys can be told from used ones", arguments: TestBackend.available)
    func lastUse(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let keys = platform.apiKeys(platform.ownerToken)
            let issued = try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "site"; $0.role = .tenantMember })
            func stored() async throws -> ApiKey {
                try #require(try await keys.listApiKeys(.with { $0.parent = "tenants/acme" }).apiKeys.first { $0.name == issued.apiKey.name })
            }
            #expect(try await !stored().hasLastUsedTime, "never used")
            _ = try await platform.impersonation(issued.token).whoAmI()
            // The call does not wait for the write.
            var recorded = try await stored()
            for _ in 0..<100 where !recorded.hasLastUsedTime {
                try await Task.sleep(for: .milliseconds(20))
                recorded = try await stored()
            }
            let used = recorded.lastUsedTime.date
            #expect(abs(used.timeIntervalSinceNow) < 60)
            // Within the minute a use writes nothing (the cache may not even read the store).
            platform.server.apiKeyCache.forget(tenantID: "acme")
            _ = try await platform.impersonation(issued.token).whoAmI()
            #expect(try await stored().lastUsedTime.date == used)
        }
    }

    @Test("a key the cache does not hold authenticates without waiting for the store's writer: its last use is written after the call", arguments: TestBackend.available)
    func authenticationDoesNotWaitForWrites(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let issued = try await platform.apiKeys(platform.ownerToken).createApiKey(.with {
                $0.parent = "tenants/acme"; $0.displayName = "site"; $0.role = .tenantMember
            })
            platform.server.apiKeyCache.forget(tenantID: "acme")
            let took = try await platform.durationWhileWriterIsHeld { _ = try await platform.impersonation(issued.token).whoAmI() }
            #expect(took < .seconds(10), "\(took)")
        }
    }

    @Test("idempotency records are deleted once past their day; a retry after that is a new request", arguments: TestBackend.available)
    func idempotencyRecordsExpire(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            let keys = platform.apiKeys(platform.ownerToken)
            let request = CreateApiKeyRequest.with { $0.parent = "tenants/acme"; $0.displayName = "site"; $0.role = .tenantAdmin; $0.requestID = "key-1" }
            let first = try await keys.createApiKey(request)
            func records() async throws -> Int {
                try await platform.database.transaction(.platform) { tx in
                    Int(try await tx.first("SELECT COUNT(*) AS n FROM idempotency_records WHERE method = 'CreateApiKey'")!.int("n"))
                }
            }
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let job = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
            try await job.runOnce(now: Date().addingTimeInterval(23 * 3600))
            #expect(try await records() == 1, "kept for a day")
            #expect(try await keys.createApiKey(request).apiKey.name == first.apiKey.name)
            try await job.runOnce(now: Date().addingTimeInterval(25 * 3600))
            #expect(try await records() == 0)
        }
    }

    @Test("a request id is its caller's own: another caller reusing it gets a result of its own, never the first caller's key", arguments: TestBackend.available)
    func requestIDsBelongToTheirCaller(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owners = try await platform.apiKeys(platform.ownerToken).createApiKey(.with {
                $0.parent = "tenants/root"; $0.displayName = "second owner key"; $0.role = .platformOwner; $0.requestID = "k1"
            })
            let staff = platform.apiKeys(try await platform.token(role: .platformStaff, tenant: "root"))
            let staffs = try await staff.createApiKey(.with {
                $0.parent = "tenants/root"; $0.displayName = "member key"; $0.role = .tenantMember; $0.requestID = "k1"
            })
            #expect(staffs.apiKey.name != owners.apiKey.name)
            #expect(staffs.apiKey.role == .tenantMember)
            #expect(staffs.token != owners.token)
            // Each caller's retry still gets its own first result.
            let retried = try await staff.createApiKey(.with {
                $0.parent = "tenants/root"; $0.displayName = "member key"; $0.role = .tenantMember; $0.requestID = "k1"
            })
            #expect(retried.apiKey.name == staffs.apiKey.name)
            #expect(retried.token == staffs.token)
        }
    }

    @Test("API keys: the secret is shown once, works until revoked, and is never listed", arguments: TestBackend.available)
    func apiKeyLifecycle(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            let keys = platform.apiKeys(platform.ownerToken)
            let created = try await keys.createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "CRM"; $0.role = .partner })
            #expect(created.token.hasPrefix(created.apiKey.tokenPrefix + "_"))
            #expect(try await platform.tenants(created.token).getTenant(.with { $0.name = "tenants/acme" }).slug == "acme")

            let listed = try await keys.listApiKeys(.with { $0.parent = "tenants/acme" })
            #expect(listed.apiKeys.map(\.name) == [created.apiKey.name])
            #expect(try await keys.getApiKey(.with { $0.name = created.apiKey.name }) == listed.apiKeys[0])
            #expect(await failure { try await keys.getApiKey(.with { $0.name = "tenants/acme/apiKeys/nosuch" }) }?.code == .notFound)
            #expect(try listed.jsonString().contains(String(created.token.split(separator: "_").last!)) == false)

            let revoked = try await keys.revokeApiKey(.with { $0.name = created.apiKey.name })
            #expect(revoked.hasRevokeTime)
            let after = await failure { try await platform.tenants(created.token).getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(after?.code == .unauthenticated)
            #expect(after?.reason == "token_revoked")
            // Revoking it again keeps its first revoke time, and the trail says nothing changed.
            #expect(try await keys.revokeApiKey(.with { $0.name = created.apiKey.name }).revokeTime == revoked.revokeTime)
            let revocations = try await platform.auditEvents(.with { $0.method = "/servicepro.tenancy.v1.ApiKeyService/RevokeApiKey" })
            #expect(revocations.map { $0.details["changed"] } == ["false", "true"], "newest first")
        }
    }

    @Test("who may grant which role", arguments: TestBackend.available)
    func grantingRoles(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            let escalate = await failure {
                try await platform.apiKeys(admin).createApiKey(.with { $0.parent = "tenants/root"; $0.displayName = "x"; $0.role = .platformOwner })
            }
            #expect(escalate?.code == .notFound)
            let ownTenantPlatformRole = await failure {
                try await platform.apiKeys(admin).createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "x"; $0.role = .platformStaff })
            }
            #expect(ownTenantPlatformRole?.code == .invalidArgument)
            let staff = try await platform.token(role: .platformStaff, tenant: "root")
            let staffMintsOwner = await failure {
                try await platform.apiKeys(staff).createApiKey(.with { $0.parent = "tenants/root"; $0.displayName = "x"; $0.role = .platformOwner })
            }
            #expect(staffMintsOwner?.code == .permissionDenied)
            let member = try await platform.apiKeys(admin).createApiKey(.with { $0.parent = "tenants/acme"; $0.displayName = "front desk"; $0.role = .tenantMember })
            #expect(member.apiKey.role == .tenantMember)
        }
    }

    @Test("only the owner revokes keys with platform roles; staff still revoke tenant keys", arguments: TestBackend.available)
    func revokingRoles(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let owner = platform.apiKeys(platform.ownerToken)
            let bridgeKey = try await owner.createApiKey(.with { $0.parent = "tenants/root"; $0.displayName = "bridge"; $0.role = .telephonyBridge })
            let ownerKey = try await owner.createApiKey(.with { $0.parent = "tenants/root"; $0.displayName = "owner 2"; $0.role = .platformOwner })
            let rootAdminKey = try await owner.createApiKey(.with { $0.parent = "tenants/root"; $0.displayName = "root admin"; $0.role = .tenantAdmin })
            for caller in [try await platform.token(role: .platformStaff, tenant: "root"), rootAdminKey.token] {
                for key in [bridgeKey, ownerKey] {
                    let refused = await failure { try await platform.apiKeys(caller).revokeApiKey(.with { $0.name = key.apiKey.name }) }
                    #expect(refused?.code == .permissionDenied)
                    #expect(refused?.reason == "role_not_revocable")
                }
            }
            let listed = try await owner.listApiKeys(.with { $0.parent = "tenants/root"; $0.pageSize = 100 }).apiKeys
            #expect(listed.filter { [bridgeKey.apiKey.name, ownerKey.apiKey.name].contains($0.name) }.allSatisfy { !$0.hasRevokeTime })

            let staff = platform.apiKeys(try await platform.token(role: .platformStaff, tenant: "root"))
            #expect(try await staff.revokeApiKey(.with { $0.name = rootAdminKey.apiKey.name }).hasRevokeTime)
            #expect(try await owner.revokeApiKey(.with { $0.name = bridgeKey.apiKey.name }).hasRevokeTime)
        }
    }

    @Test("internal notes, plan and status are platform staff's to see and change", arguments: TestBackend.available)
    func staffOnlyFields(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            _ = try await platform.tenants(platform.ownerToken).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/acme"; $0.internalNotes = "pays late" }
                $0.updateMask = .init(protoPaths: ["internal_notes"])
            })
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            #expect(try await platform.tenants(admin).getTenant(.with { $0.name = "tenants/acme" }).internalNotes == "")
            #expect(try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/acme" }).internalNotes == "pays late")
            // Plan and status are billing's, with its transitions and Stripe: not a field update.
            let upgrade = await failure {
                try await platform.tenants(platform.ownerToken).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/acme"; $0.planTier = .elite }
                    $0.updateMask = .init(protoPaths: ["plan_tier"])
                })
            }
            #expect(upgrade?.code == .invalidArgument)
            #expect(upgrade?.fields == ["update_mask"])
        }
    }

    @Test("a suspended tenant can read but not change", arguments: TestBackend.available)
    func suspendedTenantGate(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let admin = try await platform.token(role: .tenantAdmin, tenant: "acme")
            try await platform.setStatus("acme", .suspended)
            #expect(try await platform.tenants(admin).getTenant(.with { $0.name = "tenants/acme" }).status == .suspended)
            let change = await failure {
                try await platform.tenants(admin).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/acme"; $0.city = "Tulsa" }
                    $0.updateMask = .init(protoPaths: ["city"])
                })
            }
            #expect(change?.code == .failedPrecondition)
            #expect(change?.reason == "tenant_suspended")
        }
    }

    @Test("the root tenant cannot be deleted; others can, with their keys", arguments: TestBackend.available)
    func deletion(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = platform.tenants(platform.ownerToken)
            let root = await failure { try await tenants.deleteTenant(.with { $0.name = "tenants/root" }) }
            #expect(root?.code == .failedPrecondition)
            #expect(root?.reason == "root_tenant_protected")

            try await platform.createTenant("acme", tier: .pro)
            let partner = try await platform.token(role: .partner, tenant: "acme")
            _ = try await tenants.deleteTenant(.with { $0.name = "tenants/acme" })
            let gone = await failure { try await tenants.getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(gone?.code == .notFound)
            let orphanKey = await failure { try await platform.tenants(partner).getTenant(.with { $0.name = "tenants/acme" }) }
            #expect(orphanKey?.code == .unauthenticated)
        }
    }
}
