import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime

/// Where a command connects and with which token: flags, then SPCTL_SERVER / SPCTL_TOKEN, then
/// the chosen or current context.
struct Target {
    var server: String
    var token: String?
    var tls: Bool
    var caFile: String?
    var contextName: String?

    var metadata: Metadata { token.map(ClientConnection.bearer) ?? [:] }

    static func resolve(
        server: String?,
        token: String?,
        context: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Target {
        // An empty variable counts as unset, as shells make it easy to export one by accident.
        let environment = environment.filter { !$0.value.isEmpty }
        let contexts = try ClientContexts.load(from: ClientContexts.defaultPath(environment: environment))
        let name = context ?? contexts.currentContext
        let chosen = name.flatMap { contexts.contexts[$0] }
        if let context, chosen == nil {
            throw ValidationError("no context named \"\(context)\"; see `spctl config get-contexts`")
        }
        let resolvedServer = server ?? environment["SPCTL_SERVER"] ?? chosen?.server
        guard let resolvedServer else {
            throw ValidationError("no server: start platform-server once (it creates a context), run `spctl login --server host:port --token ...`, or pass --server")
        }
        let resolvedToken = try token ?? environment["SPCTL_TOKEN"] ?? chosen?.resolvedToken()
        return Target(server: resolvedServer, token: resolvedToken, tls: chosen?.tls ?? false, caFile: chosen?.caFile, contextName: name)
    }
}
