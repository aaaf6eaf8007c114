import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

@testable import PlatformServer

/// Numbers the platform bought go back to (a local fake of) Twilio once nothing holds them: after
/// a week's grace when their config or tenant is deleted or the config moves to another number,
/// at once when the tenant's data is purged; never a number the platform did not buy.
@Suite("Number releases")
struct NumberReleaseTests {
    static let week: TimeInterval = 7 * 86_400

    static func job(_ platform: TestPlatform, _ base: String) -> NumberReleaseJob {
        var logger = Logger(label: "test.number-releases")
        logger.logLevel = .critical
        return NumberReleaseJob(database: platform.database, provisioner: ConciergeTests.numbers(base), logger: logger)
    }

    static func phoneConfigs(_ platform: TestPlatform) -> PhoneConfigService.Client<HTTP2ClientTransport.Posix> {
        PhoneConfigService.Client(wrapping: platform.client)
    }

    static func releases(_ platform: TestPlatform, _ parent: String = "tenants/-", state: NumberReleaseState = .unspecified) async throws -> [NumberRelease] {
        try await phoneConfigs(platform).listNumberReleases(
            .with { $0.parent = parent; $0.state = state }, metadata: platform.metadata(platform.ownerToken)
        ).numberReleases
    }

    /// A tenant made by the concierge on a number bought for it; returns its config and the sid.
    static func tenantOnBoughtNumber(_ slug: String, _ platform: TestPlatform, _ twilio: FakeTwilioNumbers) async throws -> (PhoneConfig, String) {
        let created = try await ConciergeTests.concierge(platform).createConciergeTenant(
            ConciergeTests.request(slug, mode: .provisionNumber), metadata: platform.metadata(platform.ownerToken))
        let sid = try #require(twilio.owned.first { $0.value == created.phoneConfig.phoneNumber }?.key)
        return (created.phoneConfig, sid)
    }

    @Test("a bought number is released a week after its config is deleted; one the platform did not buy never is", arguments: TestBackend.available)
    func releasedAfterGrace(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let (bought, sid) = try await Self.tenantOnBoughtNumber("shine", platform, twilio)
                #expect(bought.platformManagedNumber)
                _ = twilio.own("+19185550177", routing: [:])
                let brought = try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                    $0.parent = "tenants/shine"
                    $0.phoneConfigID = "second"
                    $0.phoneConfig = .with { $0.phoneNumber = "+19185550177" }
                }, metadata: owner)
                #expect(!brought.platformManagedNumber)

                let deletedAt = Date()
                for config in [bought, brought] {
                    _ = try await Self.phoneConfigs(platform).deletePhoneConfig(.with { $0.name = config.name; $0.etag = config.etag }, metadata: owner)
                }
                let pending = try #require(try await Self.releases(platform, "tenants/shine").first)
                #expect(try await Self.releases(platform).count == 1, "only the bought number is queued")
                #expect(pending.name == "tenants/shine/numberReleases/\(sid.lowercased())")
                #expect(pending.numberSid == sid)
                #expect(pending.phoneNumber == bought.phoneNumber)
                #expect(pending.reason == .phoneConfigDeleted)
                #expect(pending.state == .pending)
                #expect(abs(pending.releaseAfterTime.date.timeIntervalSince(deletedAt) - Self.week) < 60)
                #expect(try await Self.releases(platform, "tenants/root").isEmpty, "another tenant's releases are not listed under root")

                let job = Self.job(platform, base)
                #expect(try await job.runOnce(now: deletedAt.addingTimeInterval(Self.week - 3_600)) == 0, "not before its week is out")
                #expect(twilio.owned[sid] == bought.phoneNumber)
                #expect(try await job.runOnce(now: deletedAt.addingTimeInterval(Self.week + 60)) == 1)
                #expect(twilio.released == [sid])
                #expect(try await job.runOnce(now: deletedAt.addingTimeInterval(Self.week + 3_600)) == 0, "released once")

                let released = try await Self.phoneConfigs(platform).getNumberRelease(.with { $0.name = pending.name }, metadata: owner)
                #expect(released.state == .released)
                #expect(released.attempts == 1)
                #expect(released.hasReleaseTime)
                #expect(!released.hasReleaseAfterTime)
                #expect(try await Self.releases(platform, state: .released).map(\.name) == [pending.name])
                #expect(try await Self.releases(platform, state: .pending).isEmpty)
                #expect(twilio.requests.filter { $0.hasPrefix("DELETE ") }.count == 1, "the number the platform did not buy stays")

                // Another tenant's name for it, and a tenant's own key, find nothing.
                let elsewhere = await failure {
                    try await Self.phoneConfigs(platform).getNumberRelease(.with { $0.name = "tenants/root/numberReleases/\(sid.lowercased())" }, metadata: owner)
                }
                #expect(elsewhere?.code == .notFound)
                let admin = try await platform.token(role: .tenantAdmin, tenant: "shine")
                let tenantAdmin = await failure {
                    try await Self.phoneConfigs(platform).listNumberReleases(.with { $0.parent = "tenants/shine" }, metadata: platform.metadata(admin))
                }
                #expect(tenantAdmin?.code == .permissionDenied)
            }
        }
    }

    @Test("a new phone config can have its number bought: once per request, given back when the create fails, released like any bought number", arguments: TestBackend.available)
    func newConfigBuysItsNumber(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                try await platform.createTenant("acme", displayName: "Acme Lawn", tier: .pro)
                let request = CreatePhoneConfigRequest.with {
                    $0.parent = "tenants/acme"
                    $0.phoneConfigID = "second-line"
                    $0.phoneConfig = .with { $0.displayName = "Second line"; $0.ivrMode = .ivr; $0.forwardNumber = "+19185550199" }
                    $0.provisionNumber = true
                    $0.areaCode = "539"
                    $0.requestID = "second-line-1"
                }
                let line = try await Self.phoneConfigs(platform).createPhoneConfig(request, metadata: owner)
                #expect(line.platformManagedNumber)
                #expect(line.ivrMode == .ivr)
                let sid = try #require(twilio.owned.first { $0.value == line.phoneNumber }?.key, "bought from the account")
                #expect(twilio.purchases.count == 1)
                #expect(twilio.purchases.first?["FriendlyName"]?.hasPrefix("acme") == true, "named after its tenant")
                #expect(twilio.routing(sid)["VoiceUrl"]?.hasPrefix(ConciergeTests.bridgeURL) == true, "pointed at the bridge")
                #expect(try await Self.phoneConfigs(platform).createPhoneConfig(request, metadata: owner) == line)
                #expect(twilio.purchases.count == 1, "a retry buys nothing")
                // It answers for the tenant at once.
                let resolved = try await InboundService.Client(wrapping: platform.client).resolveInbound(
                    .with { $0.to = line.phoneNumber }, metadata: platform.metadata(platform.bridgeToken))
                #expect(resolved.tenant.name == "tenants/acme")

                // Refused before anything is bought: a number and a purchase at once, a place to buy
                // without buying, a line its plan does not allow, an id the tenant has.
                let both = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550177" }; $0.provisionNumber = true
                    }, metadata: owner)
                }
                #expect(both?.fields == ["phone_config.phone_number"])
                let whereOnly = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550177" }; $0.areaCode = "918"
                    }, metadata: owner)
                }
                #expect(whereOnly?.fields == ["area_code"])
                try await platform.createTenant("solo", tier: .starter)
                let notInPlan = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/solo"; $0.phoneConfig = .with { $0.ivrMode = .aiVoice }; $0.provisionNumber = true
                    }, metadata: owner)
                }
                #expect(notInPlan?.reason == "feature_not_in_plan")
                let idTaken = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/acme"; $0.phoneConfigID = "second-line"; $0.provisionNumber = true
                    }, metadata: owner)
                }
                #expect(idTaken?.code == .alreadyExists)
                #expect(twilio.purchases.count == 1, "nothing bought for a refused line")

                // Offered a number another tenant's line has (as a race could): the create fails
                // on it, and the number goes back.
                try await platform.createTenant("bravo")
                _ = twilio.own("+19185550188", routing: [:])
                _ = try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                    $0.parent = "tenants/bravo"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550188" }
                }, metadata: owner)
                twilio.offerNext("+19185550188")
                let clash = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/acme"; $0.provisionNumber = true
                    }, metadata: owner)
                }
                #expect(clash?.code == .alreadyExists)
                #expect(twilio.purchases.count == 2)
                #expect(twilio.released.count == 1, "the number bought for the failed create went back")
                #expect(twilio.owned.values.filter { $0 == "+19185550188" }.count == 1, "bravo's is kept")

                // Given up, it waits its week, as a concierge create's number does.
                _ = try await Self.phoneConfigs(platform).deletePhoneConfig(.with { $0.name = line.name; $0.etag = line.etag }, metadata: owner)
                #expect(try await Self.releases(platform, "tenants/acme").map(\.numberSid) == [sid])
            }
        }
        // Without a Twilio account, buying is refused with what to set.
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let unavailable = await failure {
                try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                    $0.parent = "tenants/acme"; $0.provisionNumber = true
                }, metadata: platform.metadata(platform.ownerToken))
            }
            #expect(unavailable?.reason == "number_provisioning_unavailable")
            #expect(unavailable?.message.contains("TWILIO_ACCOUNT_SID") == true)
        }
    }

    @Test("a config made with the number within the week keeps it, for any tenant; moving a config to another number gives the old one up", arguments: TestBackend.available)
    func keptWithinGrace(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let (bought, sid) = try await Self.tenantOnBoughtNumber("shine", platform, twilio)
                _ = try await Self.phoneConfigs(platform).deletePhoneConfig(.with { $0.name = bought.name }, metadata: owner)
                #expect(try await Self.releases(platform, state: .pending).count == 1)

                // Root takes the number over: the release is withdrawn and the number stays the platform's to release.
                let moved = try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                    $0.parent = "tenants/root"
                    $0.phoneConfigID = "spare"
                    $0.phoneConfig = .with { $0.phoneNumber = bought.phoneNumber }
                }, metadata: owner)
                #expect(moved.platformManagedNumber)
                #expect(try await Self.releases(platform).isEmpty)
                let job = Self.job(platform, base)
                #expect(try await job.runOnce(now: Date().addingTimeInterval(Self.week + 60)) == 0)
                #expect(twilio.owned[sid] == bought.phoneNumber)

                // Moved to another number, the bought one is given up; the new one is not the platform's.
                _ = twilio.own("+19185550178", routing: [:])
                let renumbered = try await Self.phoneConfigs(platform).updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = moved.name; $0.phoneNumber = "+19185550178" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                }, metadata: owner)
                #expect(!renumbered.platformManagedNumber)
                let pending = try #require(try await Self.releases(platform, "tenants/root").first)
                #expect(pending.reason == .numberChanged)
                #expect(pending.numberSid == sid)
                // A change that keeps the number gives nothing up.
                _ = try await Self.phoneConfigs(platform).updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = moved.name; $0.displayName = "Spare line" }
                    $0.updateMask = .init(protoPaths: ["display_name"])
                }, metadata: owner)
                #expect(try await Self.releases(platform).count == 1)
                #expect(try await job.runOnce(now: Date().addingTimeInterval(Self.week + 60)) == 1)
                #expect(twilio.released == [sid])
            }
        }
    }

    @Test("a release Twilio cannot take is tried again with backoff; one whose answer was lost counts as done", arguments: TestBackend.available)
    func retriedUntilReleased(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let (bought, sid) = try await Self.tenantOnBoughtNumber("shine", platform, twilio)
                _ = try await Self.phoneConfigs(platform).deletePhoneConfig(.with { $0.name = bought.name }, metadata: owner)
                let due = Date().addingTimeInterval(Self.week + 60)

                // Twilio unreachable: the release waits a minute and says why.
                var logger = Logger(label: "test.number-releases")
                logger.logLevel = .critical
                let unreachable = NumberReleaseJob(
                    database: platform.database, provisioner: ConciergeTests.numbers("http://127.0.0.1:9"), logger: logger)
                // The wait runs from when the attempt ended, however long Twilio took to fail.
                func passTaking(_ pass: () async throws -> Int) async throws -> (count: Int, seconds: TimeInterval) {
                    let started = Date()
                    let count = try await pass()
                    return (count, Date().timeIntervalSince(started))
                }
                let first = try await passTaking { try await unreachable.runOnce(now: due) }
                #expect(first.count == 1)
                var release = try #require(try await Self.releases(platform).first)
                #expect(release.state == .pending)
                #expect(release.attempts == 1)
                #expect(release.lastError.contains("twilio_unavailable"), "\(release.lastError)")
                let firstWait = release.releaseAfterTime.date.timeIntervalSince(due)
                #expect(firstWait >= 60 && firstWait <= 60 + first.seconds + 1, "\(firstWait)")
                #expect(twilio.owned[sid] != nil)

                // Taken by Twilio, but the answer is lost: tried again two minutes later, the 404 says it is gone.
                let job = Self.job(platform, base)
                let retry = release.releaseAfterTime.date
                #expect(try await job.runOnce(now: retry.addingTimeInterval(-30)) == 0, "not before its backoff is out")
                twilio.loseAnswers(1)
                let second = try await passTaking { try await job.runOnce(now: retry.addingTimeInterval(1)) }
                #expect(second.count == 1)
                release = try #require(try await Self.releases(platform).first)
                #expect(release.state == .pending)
                #expect(release.attempts == 2)
                let secondWait = release.releaseAfterTime.date.timeIntervalSince(retry.addingTimeInterval(1))
                #expect(secondWait >= 120 && secondWait <= 120 + second.seconds + 1, "\(secondWait)")
                #expect(twilio.owned[sid] == nil)
                #expect(try await job.runOnce(now: release.releaseAfterTime.date.addingTimeInterval(1)) == 1)
                release = try #require(try await Self.releases(platform).first)
                #expect(release.state == .released)
                #expect(release.lastError.isEmpty)
                #expect(release.attempts == 3)
            }
        }
    }

    @Test("a number a worker is releasing right now cannot be taken by a new config", arguments: TestBackend.available)
    func beingReleasedIsRefused(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let (bought, _) = try await Self.tenantOnBoughtNumber("shine", platform, twilio)
                _ = try await Self.phoneConfigs(platform).deletePhoneConfig(.with { $0.name = bought.name }, metadata: owner)
                let claimed = try await platform.database.transaction(.platform) { tx in
                    try await NumberReleaseRecords.claim(worker: "elsewhere", now: Date().addingTimeInterval(Self.week + 60), lease: 300, limit: 10, tx)
                }
                #expect(claimed.count == 1)
                let refused = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/shine"
                        $0.phoneConfig = .with { $0.phoneNumber = bought.phoneNumber }
                    }, metadata: owner)
                }
                #expect(refused?.code == .failedPrecondition)
                #expect(refused?.reason == "number_being_released")
                // Once Twilio has been asked, the number cannot be kept even after the lease ran
                // out (the worker may have died with Twilio's answer); the next claim settles it.
                try await platform.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE number_releases SET state = 'releasing', lease_expire_time = \(Date().addingTimeInterval(-60))")
                }
                #expect(try await Self.releases(platform).first?.state == .releasing)
                let afterDeath = await failure {
                    try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                        $0.parent = "tenants/shine"
                        $0.phoneConfig = .with { $0.phoneNumber = bought.phoneNumber }
                    }, metadata: owner)
                }
                #expect(afterDeath?.reason == "number_being_released")
                let configs = try await Self.phoneConfigs(platform).listPhoneConfigs(.with { $0.parent = "tenants/shine" }, metadata: owner)
                #expect(configs.phoneConfigs.isEmpty, "nothing was created")
                let job = Self.job(platform, base)
                #expect(try await job.runOnce() == 1, "the lapsed release is claimed again")
                #expect(try await Self.releases(platform, state: .released).count == 1)
            }
        }
    }

    @Test("a worker whose lease ran out before it began does not release a number a config has kept meanwhile", arguments: TestBackend.available)
    func staleClaimReleasesNothing(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let owner = platform.metadata(platform.ownerToken)
                let (bought, sid) = try await Self.tenantOnBoughtNumber("shine", platform, twilio)
                _ = try await Self.phoneConfigs(platform).deletePhoneConfig(.with { $0.name = bought.name }, metadata: owner)
                // Due long ago, and claimed by a worker whose five-minute lease ran out ten minutes ago.
                let now = Date()
                try await platform.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE number_releases SET release_after_time = \(now.addingTimeInterval(-3_600))")
                }
                let stale = try await platform.database.transaction(.platform) { tx in
                    try await NumberReleaseRecords.claim(worker: "slow", now: now.addingTimeInterval(-900), lease: 300, limit: 10, tx)
                }
                #expect(stale.count == 1)
                let kept = try await Self.phoneConfigs(platform).createPhoneConfig(.with {
                    $0.parent = "tenants/shine"
                    $0.phoneConfig = .with { $0.phoneNumber = bought.phoneNumber }
                }, metadata: owner)
                #expect(kept.platformManagedNumber)

                var logger = Logger(label: "test.number-releases")
                logger.logLevel = .critical
                let slow = NumberReleaseJob(database: platform.database, provisioner: ConciergeTests.numbers(base), logger: logger, worker: "slow")
                await slow.release(try #require(stale.first), clock: { Date() })
                #expect(twilio.owned[sid] == bought.phoneNumber, "the number the config kept is still the account's")
                #expect(!twilio.requests.contains { $0.hasPrefix("DELETE ") })
            }
        }
    }

    @Test("a deleted tenant's bought numbers wait their week; a purged tenant's go at once", arguments: TestBackend.available)
    func tenantDeletedOrPurged(backend: TestBackend) async throws {
        try await FakeTwilioNumbers.with { twilio, base in
            try await TestPlatform.with(backend, concierge: ConciergeSettings(numbers: ConciergeTests.numbers(base))) { platform in
                let (_, deletedSID) = try await Self.tenantOnBoughtNumber("gleam", platform, twilio)
                let deletedAt = Date()
                _ = try await platform.tenants(platform.ownerToken).deleteTenant(.with { $0.name = "tenants/gleam" })
                // A deleted tenant's releases are listed with every tenant's.
                let deleted = try #require(try await Self.releases(platform).first { $0.numberSid == deletedSID })
                #expect(deleted.name.hasPrefix("tenants/gleam/"))
                #expect(deleted.reason == .tenantDeleted)
                #expect(abs(deleted.releaseAfterTime.date.timeIntervalSince(deletedAt) - Self.week) < 60)

                let (purgedConfig, purgedSID) = try await Self.tenantOnBoughtNumber("shine", platform, twilio)
                _ = try await platform.setStatus("shine", .cancelled)
                var logger = Logger(label: "test.number-releases")
                logger.logLevel = .critical
                let purgedAt = Date().addingTimeInterval(91 * 86_400)
                let purger = RetentionPurgeJob(database: platform.database, apiKeys: platform.server.apiKeyCache, logger: logger)
                #expect(try await purger.runOnce(now: purgedAt) == ["shine"])
                let purged = try #require(try await Self.releases(platform, "tenants/shine").first, "the release outlives the purge")
                #expect(purged.reason == .tenantPurged)
                #expect(purged.phoneNumber == purgedConfig.phoneNumber)
                #expect(abs(purged.releaseAfterTime.date.timeIntervalSince(purgedAt)) < 0.001)

                let job = Self.job(platform, base)
                #expect(try await job.runOnce(now: purgedAt) == 2, "the deleted tenant's week is out by then too")
                #expect(Set(twilio.released) == [deletedSID, purgedSID])
            }
        }
    }
}
