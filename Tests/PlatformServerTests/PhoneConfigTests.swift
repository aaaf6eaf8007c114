import Foundation
import GRPCCore
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// Phone configs end to end over gRPC, on every store (plan 3.2, 3.3 and 5.3).
@Suite("PhoneConfig")
struct PhoneConfigTests {
    @Test("create, get, list, update and delete round trip", arguments: TestBackend.available)
    func roundTrip(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Lawn")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let created = try await configs.create(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfigID = "front"
                $0.phoneConfig = .with {
                    $0.displayName = "Front desk"
                    $0.phoneNumber = "+19185550101"
                    $0.messagingServiceSid = "MG" + String(repeating: "a", count: 32)
                    $0.sipDomain = "acme.sip.twilio.com"
                    $0.sipUsername = "front"
                    $0.forwardNumber = "+19185550199"
                }
            })
            #expect(created.name == "tenants/acme/phoneConfigs/front")
            #expect(created.ivrMode == .simple)
            #expect(created.ivrModeLabel == "Simple")
            #expect(created.betaBadge == false)
            #expect(!created.hasIvrMenu)
            #expect(created.hasCreateTime && created.hasUpdateTime && !created.etag.isEmpty)
            #expect(try await configs.get(.with { $0.name = created.name }) == created)
            #expect(try await configs.list(.with { $0.parent = "tenants/acme" }).phoneConfigs == [created])

            let updated = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = created.name; $0.displayName = "Reception"; $0.etag = created.etag }
                $0.updateMask = .init(protoPaths: ["display_name"])
            })
            #expect(updated.displayName == "Reception")
            #expect(updated.etag != created.etag)
            #expect(updated.phoneNumber == created.phoneNumber)
            #expect(updated.messagingServiceSid == created.messagingServiceSid)
            #expect(updated.forwardNumber == created.forwardNumber)

            let generated = try await configs.create(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550102" }
            })
            let generatedID = try #require(generated.name.split(separator: "/").last)
            #expect(generated.name.hasPrefix("tenants/acme/phoneConfigs/"))
            #expect(generatedID.allSatisfy { $0.isLowercase || $0.isNumber })

            // Every tenant's, ordered by tenant then number: root's main line has no number.
            let everyone = try await configs.list(.with { $0.parent = "tenants/-" })
            #expect(everyone.phoneConfigs.map(\.name) == [created.name, generated.name, "tenants/root/phoneConfigs/main"])
            let byNumber = try await configs.list(.with { $0.parent = "tenants/-"; $0.phoneNumber = "+19185550102" })
            #expect(byNumber.phoneConfigs.map(\.name) == [generated.name])

            _ = try await configs.delete(.with { $0.name = created.name; $0.etag = updated.etag })
            let gone = await failure { try await configs.get(.with { $0.name = created.name }) }
            #expect(gone?.code == .notFound)
            let again = await failure { try await configs.delete(.with { $0.name = created.name }) }
            #expect(again?.code == .notFound)
        }
    }

    @Test("the root's main line is seeded, and restored on a later start if missing", arguments: TestBackend.available)
    func rootLine(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let main = try await platform.phoneConfigs(platform.ownerToken).get(.with { $0.name = "tenants/root/phoneConfigs/main" })
            #expect(main.displayName == "Clean Machine main line")
            #expect(main.ivrMode == .simple)
            #expect(main.phoneNumber.isEmpty)
            // A store seeded before phone configs existed: the next start adds the line. (A
            // second server cannot open the store while this one runs, so the test runs the step
            // of the start that does it.)
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("DELETE FROM phone_configs WHERE tenant_id = \("root")")
            }
            try await Bootstrap.ensureRootPhoneConfig(platform.database)
            let restored = try await platform.phoneConfigs(platform.ownerToken).get(.with { $0.name = "tenants/root/phoneConfigs/main" })
            #expect(restored.displayName == "Clean Machine main line")
        }
    }

    @Test("listing pages through every config once", arguments: TestBackend.available)
    func pagination(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let configs = platform.phoneConfigs(platform.ownerToken)
            for index in 1...5 {
                _ = try await configs.create(.with {
                    $0.parent = index.isMultiple(of: 2) ? "tenants/bravo" : "tenants/acme"
                    $0.phoneConfig = .with { $0.phoneNumber = "+1918555020\(index)" }
                })
            }
            var seen: [String] = []
            var token = ""
            repeat {
                let page = try await configs.list(.with { $0.parent = "tenants/-"; $0.pageSize = 2; $0.pageToken = token })
                #expect(page.phoneConfigs.count <= 2)
                seen += page.phoneConfigs.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen.count == 6)
            #expect(Set(seen).count == 6)
            let acmeNumbers = try await configs.list(.with { $0.parent = "tenants/acme" }).phoneConfigs.map(\.phoneNumber)
            #expect(acmeNumbers == ["+19185550201", "+19185550203", "+19185550205"])

            let first = try await configs.list(.with { $0.parent = "tenants/-"; $0.pageSize = 2 })
            let replayed = await failure {
                try await configs.list(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = first.nextPageToken })
            }
            #expect(replayed?.fields == ["page_token"])
        }
    }

    @Test("strings are trimmed and empty ones stored as NULL", arguments: TestBackend.available)
    func trimming(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let created = try await configs.create(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfigID = "main"
                $0.phoneConfig = .with {
                    $0.displayName = "  Main line \n"
                    $0.phoneNumber = "+19185550100"
                    $0.messagingServiceSid = ""
                    $0.sipDomain = ""
                    $0.sipUsername = ""
                    $0.forwardNumber = ""
                    $0.ivrMenu = .with { $0.greeting = "\tHello there!  " }
                }
            })
            #expect(created.displayName == "Main line")
            #expect(created.ivrMenu.greeting == "Hello there!")
            let row = try #require(try await rawRow(platform, tenant: "acme", id: "main"))
            for column in ["messaging_service_sid", "sip_domain", "sip_username", "forward_number", "sip_password_sealed"] {
                #expect(row.values[column] == .null, "\(column) should be NULL")
            }
            #expect(row.values["phone_number"] == .text("+19185550100"))

            // A second tenant's config without a Messaging Service does not clash on the NULL.
            try await platform.createTenant("bravo")
            _ = try await configs.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550111" } })

            let withSid = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = created.name; $0.messagingServiceSid = "MG" + String(repeating: "b", count: 32); $0.displayName = "   " }
                $0.updateMask = .init(protoPaths: ["messaging_service_sid", "display_name"])
            })
            #expect(withSid.displayName == "")
            #expect(withSid.messagingServiceSid.hasPrefix("MG"))
            _ = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = created.name; $0.messagingServiceSid = "" }
                $0.updateMask = .init(protoPaths: ["messaging_service_sid"])
            })
            #expect(try await rawRow(platform, tenant: "acme", id: "main")?.values["messaging_service_sid"] == .null)
        }
    }

    @Test("a number or Messaging Service another tenant uses is ALREADY_EXISTS, and nothing is written", arguments: TestBackend.available)
    func duplicates(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Lawn")
            try await platform.createTenant("bravo")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let sid = "MG" + String(repeating: "c", count: 32)
            let acme = try await configs.create(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.messagingServiceSid = sid }
            })

            let number = await failure {
                try await configs.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" } })
            }
            #expect(number?.code == .alreadyExists)
            #expect(number?.fields == ["phone_config.phone_number"])
            #expect(number?.message.contains("acme") == false)
            #expect(number?.message.contains("Acme") == false)
            let service = await failure {
                try await configs.create(.with {
                    $0.parent = "tenants/bravo"
                    $0.phoneConfig = .with { $0.phoneNumber = "+19185550200"; $0.messagingServiceSid = sid }
                })
            }
            #expect(service?.code == .alreadyExists)
            #expect(service?.fields == ["phone_config.messaging_service_sid"])
            #expect(try await configs.list(.with { $0.parent = "tenants/bravo" }).phoneConfigs.isEmpty)
            let holders = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT tenant_id FROM phone_configs WHERE phone_number = \("+19185550100") OR messaging_service_sid = \(sid)")
            }
            #expect(holders.count == 1)

            // A line id the tenant already uses is named as any taken resource id is.
            let sameID = await failure {
                try await configs.create(.with {
                    $0.parent = "tenants/acme"; $0.phoneConfigID = String(acme.name.split(separator: "/").last!)
                    $0.phoneConfig = .with { $0.phoneNumber = "+19185550300" }
                })
            }
            #expect(sameID?.code == .alreadyExists)
            #expect(sameID?.reason == "phone_config_exists")
            #expect(sameID?.fields == ["phone_config_id"])
            #expect(sameID?.message == "\(acme.name) already exists")

            // Within one tenant too, and by update.
            let sameTenant = await failure {
                try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" } })
            }
            #expect(sameTenant?.fields == ["phone_config.phone_number"])
            let bravo = try await configs.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550200" } })
            let moved = await failure {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = bravo.name; $0.phoneNumber = "+19185550100" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                })
            }
            #expect(moved?.code == .alreadyExists)
            #expect(moved?.fields == ["phone_config.phone_number"])
            #expect(try await configs.get(.with { $0.name = bravo.name }).phoneNumber == "+19185550200")
            // Keeping its own number is no clash.
            let kept = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = acme.name; $0.phoneNumber = "+19185550100"; $0.displayName = "Main" }
                $0.updateMask = .init(protoPaths: ["phone_number", "display_name"])
            })
            #expect(kept.displayName == "Main")
        }
    }

    @Test("tenants racing for one number: one gets it, the others ALREADY_EXISTS", arguments: TestBackend.available)
    func racingForANumber(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let tenants = (1...6).map { "shop-\($0)" }
            for tenant in tenants { try await platform.createTenant(tenant) }
            let configs = platform.phoneConfigs(platform.ownerToken)
            let outcomes = await withTaskGroup(of: CallFailure?.self) { group in
                for tenant in tenants {
                    group.addTask {
                        await failure {
                            try await configs.create(.with { $0.parent = "tenants/\(tenant)"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" } })
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            // `failure` answers nil for the call that succeeded.
            #expect(outcomes.filter { $0 == nil }.count == 1)
            let refused = outcomes.compactMap { $0 }
            #expect(refused.count == tenants.count - 1)
            #expect(refused.allSatisfy { $0.code == .alreadyExists && $0.fields == ["phone_config.phone_number"] }, "\(refused)")
            let everyone = try await configs.list(.with { $0.parent = "tenants/-"; $0.phoneNumber = "+19185550100" })
            #expect(everyone.phoneConfigs.count == 1)
        }
    }

    @Test("bad fields are INVALID_ARGUMENT naming the field, and nothing is created", arguments: TestBackend.available)
    func validation(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let cases: [(PhoneConfig, [String])] = [
                (.with { $0.phoneNumber = "918-555-0100" }, ["phone_config.phone_number"]),
                (.with { $0.phoneNumber = "+09185550100" }, ["phone_config.phone_number"]),
                (.with { $0.phoneNumber = "+19185550100"; $0.messagingServiceSid = "MG123" }, ["phone_config.messaging_service_sid"]),
                (.with { $0.phoneNumber = "+19185550100"; $0.messagingServiceSid = "PN" + String(repeating: "a", count: 32) }, ["phone_config.messaging_service_sid"]),
                (.with { $0.phoneNumber = "+19185550100"; $0.forwardNumber = "5550100" }, ["phone_config.forward_number"]),
                (.with { $0.phoneNumber = "   " }, ["phone_config.phone_number"]),
                (.with { $0.displayName = "No number" }, ["phone_config.phone_number"]),
                (.with {
                    $0.phoneNumber = "+19185550100"
                    $0.ivrMenu = .with {
                        $0.options = [.with { $0.digit = "1"; $0.action = .voicemail }, .with { $0.digit = "1"; $0.action = .servicesAndPrices }]
                    }
                }, ["phone_config.ivr_menu.options[1].digit"]),
            ]
            for (config, fields) in cases {
                let result = await failure { try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = config }) }
                #expect(result?.code == .invalidArgument, "\(config)")
                #expect(result?.fields == fields, "\(config)")
            }
            #expect(try await configs.list(.with { $0.parent = "tenants/acme" }).phoneConfigs.isEmpty)

            let created = try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" } })
            let badMask = await failure {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = created.name; $0.ivrModeLabel = "Fancy" }
                    $0.updateMask = .init(protoPaths: ["ivr_mode_label"])
                })
            }
            #expect(badMask?.fields == ["update_mask"])
            let badUpdate = await failure {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = created.name; $0.phoneNumber = "not a number" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                })
            }
            #expect(badUpdate?.fields == ["phone_config.phone_number"])
            // A menu sent back half-edited is no matter to an update of the display name alone,
            // and its repeated digit is, once the update names the menu.
            let halfEdited = PhoneConfig.with {
                $0.name = created.name; $0.displayName = "Front desk"
                $0.ivrMenu = .with { $0.options = [.with { $0.digit = "1"; $0.action = .voicemail }, .with { $0.digit = "1"; $0.action = .servicesAndPrices }] }
            }
            let renamed = try await configs.update(.with { $0.phoneConfig = halfEdited; $0.updateMask = .init(protoPaths: ["display_name"]) })
            #expect(renamed.displayName == "Front desk" && renamed.ivrMenu.options.isEmpty)
            let badMenu = await failure { try await configs.update(.with { $0.phoneConfig = halfEdited; $0.updateMask = .init(protoPaths: ["ivr_menu"]) }) }
            #expect(badMenu?.fields == ["phone_config.ivr_menu.options[1].digit"])
            // A number is changed, never cleared: the config would answer nothing.
            let cleared = await failure {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = created.name; $0.phoneNumber = "  " }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                })
            }
            #expect(cleared?.code == .invalidArgument)
            #expect(cleared?.fields == ["phone_config.phone_number"])
            #expect(try await configs.list(.with { $0.parent = "tenants/acme" }).phoneConfigs.map(\.phoneNumber) == ["+19185550100"])
        }
    }

    @Test("a forward number must reach a person: not the line itself, nor any number the platform answers, whichever is set first", arguments: TestBackend.available)
    func forwardNumbers(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let acme = try await configs.create(.with {
                $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.forwardNumber = "+19185559999" }
            })
            func refusal(_ call: () async throws -> PhoneConfig) async -> [String]? {
                let refused = await failure(call)
                #expect(refused?.code == .invalidArgument)
                return refused?.fields
            }
            // The line's own number would ring itself.
            #expect(await refusal {
                try await configs.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550200"; $0.forwardNumber = "+19185550200" } })
            } == ["phone_config.forward_number"])
            // Moving the line onto its own forward number is refused on the field the update changes.
            #expect(await refusal {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = acme.name; $0.phoneNumber = "+19185559999" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                })
            } == ["phone_config.phone_number"])
            // Another line, any tenant's: its calls go to that line's own flow.
            #expect(await refusal {
                try await configs.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550200"; $0.forwardNumber = "+19185550100" } })
            } == ["phone_config.forward_number"])
            #expect(await refusal {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = acme.name; $0.forwardNumber = "+19185550100" }
                    $0.updateMask = .init(protoPaths: ["forward_number"])
                })
            } == ["phone_config.forward_number"])
            // Nor, set the other way round, a line on a number another line forwards to.
            #expect(await refusal {
                try await configs.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185559999" } })
            } == ["phone_config.phone_number"])
            #expect(try await configs.list(.with { $0.parent = "tenants/bravo" }).phoneConfigs.isEmpty)
            #expect(try await configs.get(.with { $0.name = acme.name }).forwardNumber == "+19185559999")
        }
    }

    @Test("the SIP password is sealed at rest and never returned", arguments: TestBackend.available)
    func sipPassword(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let password = "correct horse battery staple"
            let created = try await configs.create(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfigID = "sip"
                $0.phoneConfig = .with {
                    $0.phoneNumber = "+19185550100"
                    $0.sipDomain = "acme.sip.twilio.com"
                    $0.sipUsername = "front"
                    $0.sipPassword = password
                }
            })
            let fetched = try await configs.get(.with { $0.name = created.name })
            let listed = try await configs.list(.with { $0.parent = "tenants/acme" })
            for config in [created, fetched] + listed.phoneConfigs {
                #expect(config.sipPassword.isEmpty)
                #expect(config.sipPasswordSet)
                #expect(try !(config.serializedBytes() as Data).containsSubsequence(Data(password.utf8)))
            }

            let row = try #require(try await rawRow(platform, tenant: "acme", id: "sip"))
            let sealed = try #require(try row.optionalData("sip_password_sealed"))
            #expect(!sealed.containsSubsequence(Data(password.utf8)))
            let keyFile = platform.home.appendingPathComponent("secrets.key").path
            let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let sealer = try #require(try SecretSealer.configured(keyFile: keyFile, environment: [:]))
            #expect(try sealer.open(sealed, boundTo: created.name) == password)
            // Bound to its row: the same bytes do not open as another config's.
            #expect(throws: SecretSealerError.self) { try sealer.open(sealed, boundTo: "tenants/acme/phoneConfigs/other") }

            // Other updates keep it; naming it with an empty value clears it.
            let renamed = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = created.name; $0.displayName = "SIP line" }
                $0.updateMask = .init(protoPaths: ["display_name"])
            })
            #expect(renamed.sipPasswordSet)
            let cleared = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = created.name }
                $0.updateMask = .init(protoPaths: ["sip_password"])
            })
            #expect(!cleared.sipPasswordSet)
            #expect(try await rawRow(platform, tenant: "acme", id: "sip")?.values["sip_password_sealed"] == .null)
        }
    }

    @Test("the key comes from SERVICEPRO_SECRETS_KEY or the key file, and a malformed one is refused")
    func secretsKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("servicepro-key-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keyFile = directory.appendingPathComponent("secrets.key").path
        #expect(try SecretSealer.configured(keyFile: keyFile, environment: [:]) == nil, "no key yet")
        let generated = SecretSealer.random()
        try generated.save(to: keyFile, logger: nil)
        let sealed = try generated.seal("pw", boundTo: "x")
        #expect(try SecretSealer.configured(keyFile: keyFile, environment: [:])?.open(sealed, boundTo: "x") == "pw")

        let fixed = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let fromEnvironment = try #require(try SecretSealer.configured(keyFile: keyFile, environment: [SecretSealer.environmentVariable: fixed]))
        #expect(throws: SecretSealerError.self) { try fromEnvironment.open(sealed, boundTo: "x") }

        let short = #expect(throws: SecretSealerError.self) {
            try SecretSealer.configured(keyFile: keyFile, environment: [SecretSealer.environmentVariable: Data(count: 16).base64EncodedString()])
        }
        #expect(short?.description.contains("SERVICEPRO_SECRETS_KEY") == true)
        #expect(short?.description.contains("16 bytes") == true)
        try Data("not base64!\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        let garbled = #expect(throws: SecretSealerError.self) { try SecretSealer.configured(keyFile: keyFile, environment: [:]) }
        #expect(garbled?.description.contains(keyFile) == true)
    }

    @Test("the root's main line cannot be deleted", arguments: TestBackend.available)
    func rootProtected(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let configs = platform.phoneConfigs(platform.ownerToken)
            let refused = await failure { try await configs.delete(.with { $0.name = "tenants/root/phoneConfigs/main" }) }
            #expect(refused?.code == .failedPrecondition)
            #expect(refused?.reason == "root_phone_config_protected")
            let main = try await configs.get(.with { $0.name = "tenants/root/phoneConfigs/main" })
            #expect(main.displayName == "Clean Machine main line")
        }
    }

    @Test("IVR and AI voice need the plan feature", arguments: TestBackend.available)
    func planFeatures(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("starter-shop")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let ivr = await failure {
                try await configs.create(.with {
                    $0.parent = "tenants/starter-shop"
                    $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.ivrMode = .ivr }
                })
            }
            #expect(ivr?.code == .failedPrecondition)
            #expect(ivr?.reason == "feature_not_in_plan")
            #expect(ivr?.metadata == ["feature": "ivr", "current_tier": "starter", "required_tier": "pro"])
            let simple = try await configs.create(.with {
                $0.parent = "tenants/starter-shop"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" }
            })
            let aiVoice = await failure {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = simple.name; $0.ivrMode = .aiVoice }
                    $0.updateMask = .init(protoPaths: ["ivr_mode"])
                })
            }
            #expect(aiVoice?.code == .failedPrecondition)
            #expect(aiVoice?.reason == "feature_not_in_plan")
            #expect(aiVoice?.metadata == ["feature": "ai_voice", "current_tier": "starter", "required_tier": "elite"])
            #expect(try await configs.get(.with { $0.name = simple.name }).ivrMode == .simple)

            try await platform.createTenant("elite-shop", displayName: "Elite Detailing")
            try await platform.setPlan("elite-shop", .elite)
            let menu = try await configs.create(.with {
                $0.parent = "tenants/elite-shop"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550300"; $0.ivrMode = .ivr }
            })
            #expect(menu.ivrModeLabel == "IVR")
            #expect(menu.ivrMenu.options.map(\.digit) == ["1", "2", "3", "7"])
            #expect(menu.ivrMenu.options.map(\.action) == [.servicesAndPrices, .bookingLinkSms, .speakToSomeone, .voicemail])
            #expect(menu.ivrMenu.greeting == "Thanks for calling {{business_name}}! We're glad you reached us.", "kept as written; calls fill it in")
            #expect(menu.ivrMenu.options.allSatisfy { !$0.prompt.isEmpty })

            let custom = IvrMenu.with { $0.greeting = "Hi!"; $0.options = [.with { $0.digit = "9"; $0.action = .voicemail; $0.prompt = "Press 9." }] }
            // Typed with spaces around, the menu is stored trimmed, the digit too.
            let typed = IvrMenu.with { $0.greeting = " Hi! "; $0.options = [.with { $0.digit = " 9 "; $0.action = .voicemail; $0.prompt = "Press 9.\n" }] }
            let customMenu = try await configs.create(.with {
                $0.parent = "tenants/elite-shop"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550301"; $0.ivrMode = .ivr; $0.ivrMenu = typed }
            })
            #expect(customMenu.ivrMenu == custom)

            let agent = try await configs.create(.with {
                $0.parent = "tenants/elite-shop"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550302"; $0.ivrMode = .aiVoice }
            })
            #expect(agent.ivrModeLabel == "AI Voice (Beta)")
            #expect(agent.betaBadge)
            let listed = try await configs.list(.with { $0.parent = "tenants/elite-shop"; $0.ivrMode = .aiVoice })
            #expect(listed.phoneConfigs.map(\.name) == [agent.name])
            #expect(listed.phoneConfigs.first?.ivrModeLabel == "AI Voice (Beta)")
            #expect(listed.phoneConfigs.first?.betaBadge == true)
        }
    }

    @Test("a number given by hand must be the Twilio account's, and is pointed at the bridge; a change that fails points it back", arguments: TestBackend.available)
    func handGivenNumbersRouted(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            let elsewhere = ["VoiceUrl": "https://old.example/voice", "SmsUrl": "https://old.example/sms"]
            let first = twilio.own("+19185550161", routing: elsewhere)
            let second = twilio.own("+19185550162", routing: elsewhere)
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                try await platform.createTenant("acme")
                let configs = platform.phoneConfigs(platform.ownerToken)
                let typo = await failure {
                    try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550169" } })
                }
                #expect(typo?.code == .failedPrecondition)
                #expect(typo?.reason == "number_not_in_account")
                #expect(typo?.message.contains("phone_config.phone_number") == true)
                #expect(try await configs.list(.with { $0.parent = "tenants/acme" }).phoneConfigs.isEmpty)

                let line = try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550161" } })
                #expect(twilio.routing(first)["VoiceUrl"] == ConciergeTests.bridgeURL + "/twilio/voice/incoming")
                #expect(twilio.routing(first)["SmsUrl"] == ConciergeTests.bridgeURL + "/sms")
                #expect(!line.platformManagedNumber, "pointed at the bridge, not bought")

                // Moved to the second number with a stale etag: refused, and the second number
                // is left as it was found.
                _ = try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = line.name; $0.displayName = "Main" }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                })
                let stale = await failure {
                    try await configs.update(.with {
                        $0.phoneConfig = .with { $0.name = line.name; $0.phoneNumber = "+19185550162"; $0.etag = line.etag }
                        $0.updateMask = .init(protoPaths: ["phone_number"])
                    })
                }
                #expect(stale?.code == .aborted)
                #expect(twilio.routing(second)["VoiceUrl"] == elsewhere["VoiceUrl"])
                let moved = try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = line.name; $0.phoneNumber = "+19185550162" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                })
                #expect(moved.phoneNumber == "+19185550162")
                #expect(twilio.routing(second)["SmsUrl"] == ConciergeTests.bridgeURL + "/sms")
                let notOurs = await failure {
                    try await configs.update(.with {
                        $0.phoneConfig = .with { $0.name = line.name; $0.phoneNumber = "+19185550169" }
                        $0.updateMask = .init(protoPaths: ["phone_number"])
                    })
                }
                #expect(notOurs?.reason == "number_not_in_account")
                #expect(try await configs.get(.with { $0.name = line.name }).phoneNumber == "+19185550162")
            }
        }
    }

    @Test("a stale etag is ABORTED", arguments: TestBackend.available)
    func etags(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let created = try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" } })
            _ = try await configs.update(.with {
                $0.phoneConfig = .with { $0.name = created.name; $0.displayName = "First"; $0.etag = created.etag }
                $0.updateMask = .init(protoPaths: ["display_name"])
            })
            let stale = await failure {
                try await configs.update(.with {
                    $0.phoneConfig = .with { $0.name = created.name; $0.displayName = "Second"; $0.etag = created.etag }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                })
            }
            #expect(stale?.code == .aborted)
            #expect(try await configs.get(.with { $0.name = created.name }).displayName == "First")
            let staleDelete = await failure { try await configs.delete(.with { $0.name = created.name; $0.etag = created.etag }) }
            #expect(staleDelete?.code == .aborted)
        }
    }

    /// SQLite runs one transaction at a time, so only PostgreSQL lets the deletes race.
    @Test("deletes racing for one config: one deletes it and is audited, the others are refused", arguments: TestBackend.available)
    func racingDeletes(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let created = try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100" } })
            let outcomes = await withTaskGroup(of: CallFailure?.self) { group in
                for _ in 1...6 {
                    group.addTask { await failure { try await configs.delete(.with { $0.name = created.name; $0.etag = created.etag }) } }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.compactMap { $0 }.allSatisfy { [.aborted, .notFound].contains($0.code) }, "\(outcomes)")
            let deletes = try await platform.auditEvents(.with {
                $0.method = "servicepro.telephony.v1.PhoneConfigService/DeletePhoneConfig"
            })
            #expect(deletes.filter { $0.outcomeCode == "OK" }.count == 1)
        }
    }

    @Test("a retried create with the same request_id returns the first result", arguments: TestBackend.available)
    func idempotentCreate(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let configs = platform.phoneConfigs(platform.ownerToken)
            let request = CreatePhoneConfigRequest.with {
                $0.parent = "tenants/acme"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.sipPassword = "pw" }
                $0.requestID = "create-main-1"
            }
            let first = try await configs.create(request)
            let retried = try await configs.create(request)
            #expect(retried == first)
            var newPassword = request
            newPassword.phoneConfig.sipPassword = "another"
            #expect(try await configs.create(newPassword) == first, "the password is kept out of the request's digest")
            var otherNumber = request
            otherNumber.phoneConfig.phoneNumber = "+19185550199"
            let reused = await failure { try await configs.create(otherNumber) }
            #expect(reused?.code == .invalidArgument)
            #expect(reused?.fields == ["request_id"])
            #expect(try await configs.list(.with { $0.parent = "tenants/acme" }).phoneConfigs.count == 1)
            let other = await failure {
                try await configs.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = request.phoneConfig; $0.requestID = "create-main-2" })
            }
            #expect(other?.code == .alreadyExists)
        }
    }

    @Test("a tenant admin reads its own configs only and changes none", arguments: TestBackend.available)
    func tenantAdmin(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let owner = platform.phoneConfigs(platform.ownerToken)
            let acmeLine = try await owner.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550100"; $0.sipPassword = "pw" } })
            let bravoLine = try await owner.create(.with { $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550200" } })
            let admin = platform.phoneConfigs(try await platform.token(role: .tenantAdmin, tenant: "acme"))

            let own = try await admin.get(.with { $0.name = acmeLine.name })
            #expect(own.phoneNumber == "+19185550100")
            #expect(own.sipPassword.isEmpty && own.sipPasswordSet)
            #expect(try await admin.list(.with { $0.parent = "tenants/acme" }).phoneConfigs.map(\.name) == [acmeLine.name])

            let other = await failure { try await admin.get(.with { $0.name = bravoLine.name }) }
            #expect(other?.code == .notFound)
            let otherList = await failure { try await admin.list(.with { $0.parent = "tenants/bravo" }) }
            #expect(otherList?.code == .notFound)
            let everyone = await failure { try await admin.list(.with { $0.parent = "tenants/-" }) }
            #expect(everyone?.code == .notFound)

            let create = await failure {
                try await admin.create(.with { $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550101" } })
            }
            #expect(create?.code == .permissionDenied)
            let update = await failure {
                try await admin.update(.with {
                    $0.phoneConfig = .with { $0.name = acmeLine.name; $0.displayName = "Mine" }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                })
            }
            #expect(update?.code == .permissionDenied)
            let delete = await failure { try await admin.delete(.with { $0.name = acmeLine.name }) }
            #expect(delete?.code == .permissionDenied)
            #expect(try await owner.list(.with { $0.parent = "tenants/acme" }).phoneConfigs == [acmeLine])
        }
    }

    /// The stored row as it is, bypassing the API.
    private func rawRow(_ platform: TestPlatform, tenant: String, id: String) async throws -> SQLRow? {
        try await platform.database.withTenant(tenant) { tx in
            try await tx.select(from: "phone_configs", where: "phone_config_id = \(id)").first
        }
    }
}

/// A phone config client with one caller's credentials attached to every call.
private struct PhoneConfigCalls<Transport: ClientTransport>: Sendable {
    let client: PhoneConfigService.Client<Transport>
    let metadata: Metadata

    func create(_ request: CreatePhoneConfigRequest) async throws -> PhoneConfig { try await client.createPhoneConfig(request, metadata: metadata) }
    func get(_ request: GetPhoneConfigRequest) async throws -> PhoneConfig { try await client.getPhoneConfig(request, metadata: metadata) }
    func list(_ request: ListPhoneConfigsRequest) async throws -> ListPhoneConfigsResponse { try await client.listPhoneConfigs(request, metadata: metadata) }
    func update(_ request: UpdatePhoneConfigRequest) async throws -> PhoneConfig { try await client.updatePhoneConfig(request, metadata: metadata) }
    func delete(_ request: DeletePhoneConfigRequest) async throws -> DeletePhoneConfigResponse { try await client.deletePhoneConfig(request, metadata: metadata) }
}

extension TestPlatform {
    fileprivate func phoneConfigs(_ token: String) -> PhoneConfigCalls<some ClientTransport> {
        PhoneConfigCalls(client: PhoneConfigService.Client(wrapping: client), metadata: metadata(token))
    }
}

extension Data {
    fileprivate func containsSubsequence(_ other: Data) -> Bool {
        range(of: other) != nil
    }
}
