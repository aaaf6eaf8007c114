import ArgumentParser
import Foundation
import RPCRuntime

/// `spctl config`: contexts in the XDG config file, as `kubectl config` manages them.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Manage connection contexts (server, token, TLS).",
        subcommands: [GetContexts.self, CurrentContext.self, UseContext.self, SetContext.self, DeleteContext.self, Path.self]
    )

    static var path: String { ClientContexts.defaultPath() }

    struct GetContexts: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get-contexts", abstract: "List contexts; * marks the current one.")

        func run() throws {
            let contexts = try ClientContexts.load(from: ConfigCommand.path)
            guard !contexts.contexts.isEmpty else {
                print("no contexts yet: start platform-server or run `spctl login`")
                return
            }
            for (name, context) in contexts.contexts.sorted(by: { $0.key < $1.key }) {
                let marker = name == contexts.currentContext ? "*" : " "
                let credential = context.tokenFile.map { "token file \($0)" } ?? (context.token == nil ? "no token" : "token")
                let viewing = context.impersonation.map {
                    $0.expireTime <= Date()
                        ? "\timpersonation of \($0.tenantDisplayName) expired at \(ImpersonationNotice.clockTime($0.expireTime))"
                        : "\tviewing as \($0.tenantDisplayName) until \(ImpersonationNotice.clockTime($0.expireTime))"
                } ?? ""
                print("\(marker) \(name)\t\(context.server)\t\(context.usesTLS ? "tls" : "plaintext")\t\(credential)\(viewing)")
            }
        }
    }

    struct CurrentContext: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "current-context", abstract: "Print the current context's name.")

        func run() throws {
            let contexts = try ClientContexts.load(from: ConfigCommand.path)
            guard let name = contexts.currentContext else {
                throw CommandFailure(contexts.contexts.isEmpty
                    ? "no contexts yet: start platform-server once (it adds one), or run `spctl login --server host:port --token ...`"
                    : "no current context; use `spctl config use-context NAME` (see `spctl config get-contexts`)")
            }
            print(name)
        }
    }

    struct UseContext: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "use-context", abstract: "Make a context the current one.")
        @Argument(help: "The context's name.") var name: String

        func run() throws {
            var contexts = try ClientContexts.load(from: ConfigCommand.path)
            guard contexts.contexts[name] != nil else {
                throw CommandFailure("no context named \"\(name)\"; see `spctl config get-contexts`")
            }
            contexts.currentContext = name
            try contexts.save(to: ConfigCommand.path)
            print("switched to context \"\(name)\"")
        }
    }

    struct SetContext: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-context", abstract: "Create or change a context.")
        @Argument(help: "The context's name.") var name: String
        @Option(help: "host:port of the platform.") var server: String?
        @Option(help: "Bearer token to store in the config file.") var token: String?
        @Option(name: .customLong("token-file"), help: "File holding the bearer token.") var tokenFile: String?
        @Option(help: "Use TLS (true/false).") var tls: Bool?
        @Option(name: .customLong("ca-file"), help: "PEM bundle to trust for TLS; implies --tls true.") var caFile: String?

        func run() throws {
            if tls == false, caFile != nil {
                throw ValidationError("--ca-file is for TLS; drop it, or drop --tls false")
            }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw ValidationError("cannot read --ca-file \(caFile); give the path of the PEM bundle to trust")
            }
            var contexts = try ClientContexts.load(from: ConfigCommand.path)
            var context = contexts.contexts[name] ?? .init(server: server ?? "127.0.0.1:50051")
            if server != nil || token != nil || tokenFile != nil {
                try ImpersonationNotice.refuseWhileImpersonating(context, name: name, before: "change its server or token")
            }
            if let server { context.server = server }
            if let token { context.token = token; context.tokenFile = nil }
            if let tokenFile { context.tokenFile = CLIValue.absolutePath(tokenFile); context.token = nil }
            if let tls {
                context.tls = tls
                // A CA file means TLS: without TLS, the context keeps none.
                if !tls { context.caFile = nil }
            }
            if let caFile {
                context.caFile = CLIValue.absolutePath(caFile)
                context.tls = true
            }
            contexts.contexts[name] = context
            if contexts.currentContext == nil { contexts.currentContext = name }
            try contexts.save(to: ConfigCommand.path)
            print("context \"\(name)\" saved")
        }
    }

    struct DeleteContext: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete-context", abstract: "Remove a context.")
        @Argument(help: "The context's name.") var name: String

        func run() throws {
            var contexts = try ClientContexts.load(from: ConfigCommand.path)
            try ImpersonationNotice.refuseWhileImpersonating(contexts.contexts[name], name: name, before: "delete it")
            guard contexts.contexts.removeValue(forKey: name) != nil else {
                throw CommandFailure("no context named \"\(name)\"; see `spctl config get-contexts`")
            }
            if contexts.currentContext == name { contexts.currentContext = nil }
            try contexts.save(to: ConfigCommand.path)
            print("context \"\(name)\" deleted")
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "path", abstract: "Print the config file's path.")
        func run() { print(ConfigCommand.path) }
    }
}
