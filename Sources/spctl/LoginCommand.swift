import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI

/// `spctl login`: checks a token against a server (WhoAmI) and saves them as a context.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Save a server and token as a context, after checking that they work."
    )

    @Option(help: "host:port of the platform.") var server: String
    @Option(help: "The bearer token (or use --token-file, or SPCTL_TOKEN).") var token: String?
    @Option(name: .customLong("token-file"), help: "A file holding the token; the context keeps pointing at it.") var tokenFile: String?
    @Option(name: .customLong("context"), help: "Name of the context to save (default: the server address).") var contextName: String?
    @Flag(help: "Connect with TLS.") var tls = false
    @Option(name: .customLong("ca-file"), help: "PEM bundle to trust for TLS; implies --tls.") var caFile: String?

    func run() async throws {
        var context = ClientContexts.Context(
            server: server, token: token ?? ProcessInfo.processInfo.environment["SPCTL_TOKEN"], tokenFile: tokenFile.map(CLIValue.absolutePath),
            tls: tls || caFile != nil, caFile: caFile.map(CLIValue.absolutePath))
        if tokenFile != nil { context.token = nil }
        guard let resolved = try context.resolvedToken() else {
            throw ValidationError("give a token: --token, --token-file or SPCTL_TOKEN")
        }
        let me: WhoAmIResponse
        do {
            me = try await ClientConnection.with(server: server, tls: context.usesTLS, caFile: caFile) { client in
                try await ImpersonationService.Client(wrapping: client).whoAmI(WhoAmIRequest(), metadata: ClientConnection.bearer(resolved))
            }
        } catch let error as RPCError {
            ErrorReport.print(error)
            throw ExitCode(1)
        }
        let path = ClientContexts.defaultPath()
        var contexts = try ClientContexts.load(from: path)
        let name = contextName ?? server
        try ImpersonationNotice.refuseWhileImpersonating(contexts.contexts[name], name: name, before: "log in to it again")
        contexts.contexts[name] = context
        contexts.currentContext = name
        try contexts.save(to: path)
        print("logged in to \(server) as \(me.principal)\(me.effectiveTenant.isEmpty ? "" : " (\(me.effectiveTenant))"); context \"\(name)\" is current")
    }
}
