import ArgumentParser
import RPCRuntime

/// `spctl`: the operators' CLI. Resource commands are generated from the API
/// (`spctl tenants list`, `spctl api-keys create`); config, login and impersonate are written by hand.
public struct SpctlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "spctl",
        abstract: "Operate the ServicePro platform.",
        discussion: """
            Connects to platform-server with the current context (see `spctl config`), or with \
            --server/--token, SPCTL_SERVER/SPCTL_TOKEN. Every RPC is `spctl <resource> <verb>`; \
            `spctl <resource> --help` lists the verbs and flags. Completion: \
            `spctl --generate-completion-script bash|zsh|fish`.
            """,
        version: "0.1.0",
        subcommands: [ConfigCommand.self, LoginCommand.self, ImpersonateCommand.self, TwilioCommand.self, ExportCommand.self, ConciergeCommand.self]
            // The generated concierge group is served inside the hand-written one, beside `new`.
            + GeneratedCommands.all.filter { ObjectIdentifier($0) != ObjectIdentifier(ConciergeCommands.self) }
    )

    public init() {}

    /// ArgumentParser's, but a `CommandFailure`, or a context's token file that cannot be read, is
    /// reported the spctl way: `error: <message>`, exit status 1.
    public static func main() async {
        do {
            var command = try parseAsRoot()
            do {
                if var asyncCommand = command as? any AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            } catch let invalid as ValidationError {
                // A flag found wrong while running (a time, a JSON body) is shown with the usage
                // of the command that took it, as one found while parsing is, not spctl's.
                let usage = usageString(for: type(of: command))
                let path = usage.split(separator: " ").prefix { !["-", "<", "["].contains($0.first) }.joined(separator: " ")
                StandardError.say("Error: \(invalid.message)\nUsage: \(usage)\n  See '\(path) --help' for more information.")
                exit(withError: ExitCode.validationFailure)
            }
        } catch let failure where failure is CommandFailure || failure is ClientContexts.UnreadableTokenFile {
            StandardError.say("error: \(failure)")
            exit(withError: ExitCode(1))
        } catch {
            exit(withError: error)
        }
    }
}
