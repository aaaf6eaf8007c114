import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI

/// `spctl impersonate`: "login as tenant" for platform owners. Starting a session keeps its token
/// in the current context, so every command after it acts as the tenant's admin, under a banner,
/// until `spctl impersonate stop` or the session runs out. The generated
/// `spctl impersonation-sessions` commands manage sessions without touching the context.
struct ImpersonateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impersonate",
        abstract: "Act as a tenant's admin for a while (platform owners); every change is audited.",
        discussion: """
            `spctl impersonate acme --reason "ticket 4711: IVR menu broken"` starts a session (30 \
            minutes unless --ttl says otherwise, at most 60) with the context's owner credential and \
            switches the context to it. While it lasts, every command prints a banner on stderr. \
            `spctl impersonate stop` ends it and gives the context its own credential back.
            """,
        subcommands: [Start.self, Stop.self],
        defaultSubcommand: Start.self
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Start impersonating a tenant and switch the context to the session."
        )

        @Argument(help: "The tenant: its id (acme) or resource name (tenants/acme).")
        var tenant: String

        @Option(help: "Why you impersonate; kept with the session and in the audit log. Required.")
        var reason: String

        @Option(help: "How long the session lasts, e.g. 15m; 30m when omitted, at most 60m.")
        var ttl: String?

        @Option(name: .customLong("context"), help: "Use this context instead of the current one.")
        var context: String?

        func run() async throws {
            let target = try Target.resolve(server: nil, token: nil, context: context)
            guard let contextName = target.contextName else {
                throw CommandFailure("impersonate keeps the session in a context; create one with `spctl login` first")
            }
            try Self.requireContextCredentials(target)
            if let active = target.impersonation {
                throw CommandFailure("context \"\(contextName)\" is already viewing as \(active.tenantDisplayName); run `spctl impersonate stop` first")
            }
            var request = StartImpersonationRequest()
            request.tenant = tenant.hasPrefix("tenants/") ? tenant : "tenants/\(tenant)"
            request.reason = reason
            if let ttl { request.ttl = try CLIValue.duration(ttl, flag: "ttl") }
            request.requestID = UUID().uuidString.lowercased()
            let started: StartImpersonationResponse
            do {
                started = try await target.connect { [request] client, metadata in
                    try await ImpersonationService.Client(wrapping: client).startImpersonation(request, metadata: metadata)
                }
            } catch let error as RPCError {
                ErrorReport.print(error)
                throw ExitCode(1)
            }
            let session = started.session
            var contexts = try ClientContexts.load(from: target.configPath)
            contexts.contexts[contextName]?.impersonation = ClientContexts.Impersonation(
                session: session.name, token: started.token, tenant: session.tenant,
                tenantDisplayName: session.tenantDisplayName, expireTime: session.expireTime.date)
            try contexts.save(to: target.configPath)
            print("""
                now viewing as \(session.tenantDisplayName) (\(session.tenant)) until \(ImpersonationNotice.clockTime(session.expireTime.date)), as its admin.
                Changes are audited under \(session.name). `spctl impersonate stop` to exit.
                """)
        }

        /// The session lives in the context and takes the place of its credential; a token or
        /// server from the environment would take the session's place in turn, in this command
        /// and every later one, so the session would be started, or stopped, out of sight.
        static func requireContextCredentials(_ target: Target) throws {
            guard target.overridesContext else { return }
            throw CommandFailure("SPCTL_TOKEN or SPCTL_SERVER stands in for the context's credentials, and would hide its impersonation session; unset them first")
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "End the context's impersonation session and go back to the context's own credential."
        )

        @Option(name: .customLong("context"), help: "Use this context instead of the current one.")
        var context: String?

        func run() async throws {
            let target = try Target.resolve(server: nil, token: nil, context: context)
            try Start.requireContextCredentials(target)
            guard let contextName = target.contextName, let impersonation = target.impersonation else {
                print("not impersonating: the context uses its own credential")
                return
            }
            do {
                _ = try await target.connect { client, metadata in
                    try await ImpersonationService.Client(wrapping: client).stopImpersonation(StopImpersonationRequest(), metadata: metadata)
                }
            } catch let error as RPCError where target.impersonationEnded(by: error) {
                // Already over on the platform's side (revoked, say): leaving it is all that is left.
            } catch let error as RPCError {
                ErrorReport.print(error)
                throw ExitCode(1)
            }
            try ImpersonationNotice.drop(context: contextName, configPath: target.configPath)
            print("stopped viewing as \(impersonation.tenantDisplayName); context \"\(contextName)\" uses its own credential again")
        }
    }
}
