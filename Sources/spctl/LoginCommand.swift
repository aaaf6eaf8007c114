import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI

/// `spctl login`: checks a token against a server (WhoAmI) and saves them as a context. With
/// `--link`, the token is the session a login link is exchanged for (RedeemLoginLink) first.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Save a server and token as a context, after checking that they work."
    )

    @Option(help: "host:port of the platform.") var server: String
    @Option(help: "The bearer token (or use --token-file, --link, or SPCTL_TOKEN).") var token: String?
    @Option(name: .customLong("token-file"), help: "A file holding the token; the context keeps pointing at it.") var tokenFile: String?
    @Option(help: "A login link (its URL, or its bare spl_ token): used once for a session token, which the context keeps until it expires.") var link: String?
    @Option(name: .customLong("context"), help: "Name of the context to save (default: the server address).") var contextName: String?
    @Flag(help: "Connect with TLS.") var tls = false
    @Option(name: .customLong("ca-file"), help: "PEM bundle to trust for TLS; implies --tls.") var caFile: String?

    func validate() throws {
        // The link is exchanged for the context's token: one given beside it could only be ignored.
        guard link != nil, let other = token != nil ? "--token" : tokenFile != nil ? "--token-file" : nil else { return }
        throw ValidationError("--link and \(other) cannot be used together: the link is exchanged for the context's token")
    }

    func run() async throws {
        let path = ClientContexts.defaultPath()
        var contexts = try ClientContexts.load(from: path)
        let name = contextName ?? server
        // Before anything is sent: a link works once, so a session the context could not take would be lost.
        try ImpersonationNotice.refuseWhileImpersonating(contexts.contexts[name], name: name, before: "log in to it again")
        var context = ClientContexts.Context(
            server: server, token: token ?? ProcessInfo.processInfo.environment["SPCTL_TOKEN"], tokenFile: tokenFile.map(CLIValue.absolutePath),
            tls: tls || caFile != nil, caFile: caFile.map(CLIValue.absolutePath))
        if tokenFile != nil { context.token = nil }
        var session: RedeemLoginLinkResponse?
        let me: WhoAmIResponse
        do {
            if let link {
                var request = RedeemLoginLinkRequest()
                request.token = try Self.token(inLink: link)
                // A link works once: an answer lost on the way is asked for again with the same
                // request id, which the platform answers with the session it already opened.
                request.requestID = UUID().uuidString.lowercased()
                let redeem = { [request, server, caFile, context] in
                    // Within spctl's usual two minutes: a connection that went silent is given up on.
                    try await CallDeadline(timeout: .seconds(120)).run {
                        try await ClientConnection.with(server: server, tls: context.usesTLS, caFile: caFile) { client in
                            // The link's token is the credential: the call carries no bearer token.
                            try await LoginLinkService.Client(wrapping: client).redeemLoginLink(request)
                        }
                    }
                }
                do {
                    session = try await redeem()
                } catch let error as RPCError where [.unavailable, .deadlineExceeded].contains(error.code) {
                    session = try await redeem()
                }
                context.token = session?.token
            }
            guard let resolved = try context.resolvedToken() else {
                throw ValidationError("give a token: --token, --token-file, --link or SPCTL_TOKEN")
            }
            me = try await ClientConnection.with(server: server, tls: context.usesTLS, caFile: caFile) { client in
                try await ImpersonationService.Client(wrapping: client).whoAmI(WhoAmIRequest(), metadata: ClientConnection.bearer(resolved))
            }
        } catch let error as RPCError {
            ErrorReport.print(error)
            throw ExitCode(1)
        }
        contexts.contexts[name] = context
        contexts.currentContext = name
        try contexts.save(to: path)
        print("logged in to \(server) as \(me.principal)\(me.effectiveTenant.isEmpty ? "" : " (\(me.effectiveTenant))"); context \"\(name)\" is current")
        if let session {
            StandardError.say(
                "note: the session lasts until \(ISO8601DateFormatter().string(from: session.expireTime.date)); "
                    + "after that, log in with a new link: each link works once")
        }
    }

    /// The token a login link carries: given bare, or in the URL the platform hands out, as its
    /// `token` query parameter (or as the last path segment of a link shaped otherwise).
    static func token(inLink link: String) throws -> String {
        let text = link.trimmingCharacters(in: .whitespacesAndNewlines)
        let url = URLComponents(string: text)
        let candidates: [String?] = [text, url?.queryItems?.first { $0.name == "token" }?.value, url?.path.split(separator: "/").last.map(String.init)]
        // The platform starts every link's token with spl_; a session token or an API key is not one.
        guard let token = candidates.compactMap({ $0 }).first(where: { $0.hasPrefix("spl_") }) else {
            // Not echoed: a link mistyped by a character is still a secret.
            throw ValidationError("--link takes a login link's URL (…?token=spl_…) or its bare token (spl_…)")
        }
        return token
    }
}
