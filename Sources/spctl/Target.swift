import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime

/// Where a command connects and with which token: flags, then SPCTL_SERVER / SPCTL_TOKEN, then
/// the chosen or current context, whose impersonation session's token comes before its own. A
/// context named by `--context` is a flag too: the SPCTL_* variables do not stand in for it. A
/// server named by flag or environment other than the context's takes neither the context's
/// credentials nor its TLS settings: it uses TLS when --tls, --ca-file, SPCTL_TLS or
/// SPCTL_CA_FILE ask for it.
struct Target {
    var server: String
    var token: String?
    var tls: Bool
    var caFile: String?
    var contextName: String?
    /// The config file the context came from.
    var configPath: String
    /// The context's impersonation session, when its token is the one in use.
    var impersonation: ClientContexts.Impersonation?
    /// Whether a token or a server from flags or the environment stands in for the context's.
    var overridesContext = false
    /// The context's own server, when the context has one.
    var contextServer: String?
    /// Where `server` came from, for a hint: `--server`, `SPCTL_SERVER` or the context.
    var serverSource = ""

    var metadata: Metadata { token.map(ClientConnection.bearer) ?? [:] }

    /// A context's session that has run out is removed from the context on the way, with a note on
    /// stderr, and the context's own credential is used again.
    static func resolve(
        server: String?,
        token: String?,
        context: String?,
        tls: Bool = false,
        caFile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        now: Date = Date()
    ) throws -> Target {
        // An empty variable counts as unset, as shells make it easy to export one by accident.
        var environment = environment.filter { !$0.value.isEmpty }
        let path = ClientContexts.defaultPath(environment: environment)
        if context != nil {
            // `--context staging` with prod's SPCTL_SERVER exported must not reach prod.
            environment = environment.filter { !$0.key.hasPrefix("SPCTL_") }
        }
        let contexts = try ClientContexts.load(from: path)
        let name = context ?? contexts.currentContext
        var chosen = name.flatMap { contexts.contexts[$0] }
        if let context, chosen == nil {
            throw CommandFailure("no context named \"\(context)\"; see `spctl config get-contexts`")
        }
        let resolvedServer = server ?? environment["SPCTL_SERVER"] ?? chosen?.server
        guard let resolvedServer else {
            throw CommandFailure("no server: start platform-server once (it creates a context), run `spctl login --server host:port --token ...`, or pass --server")
        }
        if let name, let impersonation = chosen?.impersonation, impersonation.expireTime <= now {
            try ImpersonationNotice.drop(context: name, configPath: path)
            StandardError.say("impersonation of \(impersonation.tenantDisplayName) expired at \(ImpersonationNotice.clockTime(impersonation.expireTime)); context \"\(name)\" uses its own credential again")
            chosen?.impersonation = nil
        }
        // Another server than the context's gets neither its TLS settings nor its credentials.
        let serverIsTheContexts = resolvedServer == chosen?.server
        let override = token ?? environment["SPCTL_TOKEN"]
        let impersonation = override == nil && serverIsTheContexts ? chosen?.impersonation : nil
        let resolvedToken = try override ?? impersonation?.token ?? (serverIsTheContexts ? chosen?.resolvedToken() : nil)
        let caFile = caFile ?? environment["SPCTL_CA_FILE"]
        let tlsAsked = tls || caFile != nil || ["1", "true", "yes"].contains(environment["SPCTL_TLS"]?.lowercased() ?? "")
        return Target(
            server: resolvedServer, token: resolvedToken,
            tls: tlsAsked || (serverIsTheContexts && chosen?.usesTLS == true),
            caFile: caFile ?? (serverIsTheContexts ? chosen?.caFile : nil),
            contextName: name, configPath: path, impersonation: impersonation,
            overridesContext: override != nil || !serverIsTheContexts, contextServer: chosen?.server,
            serverSource: server != nil ? "--server" : environment["SPCTL_SERVER"] != nil ? "SPCTL_SERVER" : "context \"\(name ?? "")\"")
    }

    /// What to check when the server could not be reached: that it runs, and, since a TLS
    /// handshake with a plaintext server (or the other way round) fails the same way, that it
    /// speaks what this command does.
    var unreachableHint: String {
        let security = tls
            ? "This command connected with TLS (from --tls, --ca-file, SPCTL_TLS, SPCTL_CA_FILE or the context): a plaintext server needs none "
                + "(`spctl config set-context NAME --tls false` for a context's), and one whose certificate a private authority signed needs --ca-file."
            : "This command connected in plaintext: for a server started with --tls-cert, pass --tls (or --ca-file)."
        return "is platform-server running at \(server) (from \(serverSource))? Check it, or `spctl config current-context`. \(security)"
    }

    /// What to do when the platform wanted a token and this target sent none.
    var missingTokenHint: String? {
        guard token == nil else { return nil }
        if let contextName, let contextServer, contextServer != server {
            return "\(server) is not the server of context \"\(contextName)\" (\(contextServer)), so its token was not sent; "
                + "pass --token or set SPCTL_TOKEN, or run `spctl login --server \(server)`"
        }
        return "no token was sent; pass --token, set SPCTL_TOKEN, or run `spctl login`"
    }

    func connect<Result: Sendable>(_ body: (ClientConnection.Client, Metadata) async throws -> Result) async throws -> Result {
        try await ClientConnection.with(server: server, tls: tls, caFile: caFile) { client in
            try await body(client, metadata)
        }
    }

    /// Whether `error` says the impersonation session whose token this target used is over:
    /// stopped, revoked, expired, or gone with its tenant.
    func impersonationEnded(by error: RPCError) -> Bool {
        guard impersonation != nil, error.code == .unauthenticated else { return false }
        return ["impersonation_expired", "impersonation_ended", "invalid_token"].contains(error.errorInfoReason)
    }
}
