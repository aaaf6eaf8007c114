import Foundation
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

/// `spctl impersonate` with the real binary against a real platform.
@Suite("spctl impersonate")
struct ImpersonateCommandTests {
    // A worker or command that stops working would otherwise leave `--wait` polling for good.
    @Test("impersonate switches the context, every command shows the banner, stop switches back", .timeLimit(.minutes(5)))
    func startAndStop() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            let spctl = try SpctlCommandTests.Spctl()
            let ownerTokenFile = platform.home.appendingPathComponent("owner.token").path
            #expect(try await spctl("login", "--server", platform.address, "--token-file", ownerTokenFile, "--context", "test").status == 0)

            let started = try await spctl("impersonate", "acme", "--reason", "ticket 4711", "--ttl", "20m")
            #expect(started.status == 0, "\(started.output)")
            #expect(started.output.contains("now viewing as Acme Detailing (tenants/acme)"))
            let context = try #require(try spctl.contexts().contexts["test"])
            #expect(context.impersonation?.token.hasPrefix("spi_") == true)
            #expect(context.impersonation?.tenantDisplayName == "Acme Detailing")
            #expect(context.tokenFile == ownerTokenFile, "the context's own credential stays for afterwards")

            let banner = "viewing as Acme Detailing — 20 min left; spctl impersonate stop to exit"
            let get = try await spctl("tenants", "get", "--name", "tenants/acme")
            #expect(get.status == 0, "\(get.output)")
            #expect(get.output.contains(banner))
            let whoami = try await spctl("whoami", "-o", "json")
            #expect(whoami.output.contains(banner))
            #expect(whoami.output.contains("You are viewing as Acme Detailing – Exit"))
            #expect(whoami.output.contains("\"principal\" : \"impersonationSessions/"))
            let forbidden = try await spctl("api-keys", "create", "--parent", "tenants/acme", "--display-name", "x", "--role", "partner")
            #expect(forbidden.status != 0)
            #expect(forbidden.output.contains(banner))
            #expect(forbidden.output.contains("reason: not_allowed_while_impersonating"))
            // A command that makes many calls says whose data it works on once. The worker runs
            // until the command is done, however long the command takes to start its job: `--wait`
            // waits for that job to finish.
            let worker = Task {
                while !Task.isCancelled {
                    if try await !platform.exportWorker().runOnce() { try? await Task.sleep(for: .milliseconds(100)) }
                }
            }
            let exported = try await spctl("export", "start", "acme", "--wait")
            worker.cancel()
            // Stopped before the test goes on, so no pass of it runs against the platform's teardown.
            _ = await worker.result
            #expect(exported.status == 0, "\(exported.output)")
            #expect(exported.output.components(separatedBy: banner).count == 2, "\(exported.output)")
            let chained = try await spctl("impersonate", "acme", "--reason", "again")
            #expect(chained.status != 0)
            #expect(chained.output.contains("already viewing as Acme Detailing"))
            // A token from the environment would stand in for the session: stop refuses rather
            // than report nothing to stop while the session lives on.
            let hidden = try await spctl.run(["impersonate", "stop"], environment: ["SPCTL_TOKEN": platform.ownerToken])
            #expect(hidden.status == 1, "\(hidden.output)")
            #expect(hidden.output.contains("SPCTL_TOKEN or SPCTL_SERVER stands in for the context's credentials"))
            #expect(try spctl.contexts().contexts["test"]?.impersonation != nil, "the session stays in the context")
            // Nor is a context holding a live session overwritten or removed, which would throw
            // its token away while it lives on at the platform.
            for command in [
                ["login", "--server", platform.address, "--token-file", ownerTokenFile, "--context", "test"],
                ["config", "set-context", "test", "--token-file", ownerTokenFile],
                ["config", "delete-context", "test"],
            ] {
                let refused = try await spctl.run(command)
                #expect(refused.status != 0, "\(command)")
                #expect(refused.output.contains("context \"test\" is impersonating Acme Detailing"), "\(command): \(refused.output)")
            }
            #expect(try spctl.contexts().contexts["test"]?.impersonation != nil)

            let stopped = try await spctl("impersonate", "stop")
            #expect(stopped.status == 0, "\(stopped.output)")
            #expect(stopped.output.contains("stopped viewing as Acme Detailing"))
            #expect(try spctl.contexts().contexts["test"]?.impersonation == nil)
            let sessions = try await platform.impersonation(platform.ownerToken).list(.init()).sessions
            #expect(sessions.map(\.state) == [.stopped])
            let owner = try await spctl("whoami", "-o", "json")
            #expect(owner.status == 0)
            #expect(owner.output.contains("ROLE_PLATFORM_OWNER"))
            #expect(!owner.output.contains("viewing as"))
            #expect(try await spctl("impersonate", "stop").output.contains("not impersonating"))
            let overridden = try await spctl.run(["impersonate", "acme", "--reason", "ticket 4712"], environment: ["SPCTL_TOKEN": platform.ownerToken])
            #expect(overridden.status == 1, "\(overridden.output)")
            #expect(try await platform.impersonation(platform.ownerToken).list(.init()).sessions.count == 1, "no session started")
        }
    }

    @Test("a session that expired or was revoked is cleared from the context with a message")
    func endedSessions() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            let spctl = try SpctlCommandTests.Spctl()
            let ownerTokenFile = platform.home.appendingPathComponent("owner.token").path
            #expect(try await spctl("login", "--server", platform.address, "--token-file", ownerTokenFile, "--context", "test").status == 0)

            // Ran out by the client's clock: cleared before anything is sent.
            #expect(try await spctl("impersonate", "acme", "--reason", "ticket 1").status == 0)
            var contexts = try spctl.contexts()
            contexts.contexts["test"]?.impersonation?.expireTime = Date().addingTimeInterval(-60)
            try contexts.save(to: spctl.configPath)
            let afterExpiry = try await spctl("tenants", "list")
            #expect(afterExpiry.status == 0, "\(afterExpiry.output)")
            #expect(afterExpiry.output.contains("impersonation of Acme Detailing expired at"))
            #expect(afterExpiry.output.contains("Clean Machine"), "listed as the owner again")
            #expect(try spctl.contexts().contexts["test"]?.impersonation == nil)

            // Revoked by another owner: the platform says so, and the context is cleared.
            #expect(try await spctl("impersonate", "acme", "--reason", "ticket 2").status == 0)
            let session = try #require(try spctl.contexts().contexts["test"]?.impersonation?.session)
            _ = try await platform.impersonation(platform.ownerToken).revoke(.with { $0.name = session })
            let revoked = try await spctl("whoami")
            #expect(revoked.status != 0)
            #expect(revoked.output.contains("reason: impersonation_ended"))
            #expect(revoked.output.contains("the impersonation session is over; context \"test\" uses its own credential again"))
            #expect(try spctl.contexts().contexts["test"]?.impersonation == nil)
            #expect(try await spctl("whoami").status == 0)

            // Stopping a session the platform already ended just leaves it.
            #expect(try await spctl("impersonate", "acme", "--reason", "ticket 3").status == 0)
            let third = try #require(try spctl.contexts().contexts["test"]?.impersonation?.session)
            _ = try await platform.impersonation(platform.ownerToken).revoke(.with { $0.name = third })
            let stop = try await spctl("impersonate", "stop")
            #expect(stop.status == 0, "\(stop.output)")
            #expect(try spctl.contexts().contexts["test"]?.impersonation == nil)
        }
    }
}

extension SpctlCommandTests.Spctl {
    var configPath: String { configHome.appendingPathComponent("spctl/config.json").path }

    func contexts() throws -> ClientContexts { try ClientContexts.load(from: configPath) }
}
