import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime
import SwiftProtobuf

/// Options every command that calls the platform shares: where to connect, as whom, and how to
/// print the answer. Generated commands also take the request as JSON (``RequestJSONOptions``).
struct CallOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table or json.")
    var output: OutputFormat = .table

    @Option(name: .customLong("server"), help: "host:port of the platform (env SPCTL_SERVER); overrides the context.")
    var server: String?

    @Option(name: .customLong("token"), help: "Bearer token (env SPCTL_TOKEN); overrides the context.")
    var token: String?

    @Option(name: .customLong("context"), help: "Use this context instead of the current one.")
    var context: String?

    @Flag(name: .customLong("tls"), help: "Connect with TLS (env SPCTL_TLS=1). A --server or SPCTL_SERVER given here uses TLS only when asked.")
    var tls = false

    @Option(name: .customLong("ca-file"), help: "PEM file of the certificate authority to trust (env SPCTL_CA_FILE); implies --tls.")
    var caFile: String?

    // Longer than the platform itself allows a call's slowest work (buying a number, a plan
    // change at Stripe), so a slow answer is waited for and only a stuck one given up on.
    @Option(name: .customLong("timeout"), help: "Seconds to wait for each answer from the platform (not for a download's whole stream); 0 waits as long as it takes.")
    var timeout: Double = 120

    func validate() throws {
        guard timeout >= 0, timeout <= Self.longestTimeout else {
            throw ValidationError("--timeout must be a number of seconds from 0 to \(Int(Self.longestTimeout)) (a day); 0 waits as long as it takes")
        }
    }

    /// The longest `--timeout`: a day, far past any answer's wait, and far inside what a
    /// deadline can hold.
    static let longestTimeout: Double = 86_400

    /// The wait `--timeout` allows a call; nil for none.
    private var deadline: CallDeadline? {
        timeout > 0 ? CallDeadline(timeout: .milliseconds(Int64(timeout * 1_000))) : nil
    }

    func unary<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ request: Request,
        _ call: @escaping @Sendable (ClientConnection.Client, Request, Metadata) async throws -> Response
    ) async throws {
        let response = try await answer { client, metadata in try await call(client, request, metadata) }
        try OutputPrinter(format: output).print(response)
        if let notice = SecretNotice.notice(for: response) { StandardError.say("note: \(notice)") }
    }

    func stream<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
        _ request: Request,
        _ call: @Sendable (ClientConnection.Client, Request, Metadata, @escaping @Sendable (Response) throws -> Void) async throws -> Void
    ) async throws {
        let printer = OutputPrinter(format: output)
        try await connected { client, metadata in
            try await call(client, request, metadata) { try printer.print($0) }
        }
    }

    /// One call and its answer, within `--timeout`, connected and reported as `connected` does.
    func answer<Result: Sendable>(_ body: @escaping @Sendable (ClientConnection.Client, Metadata) async throws -> Result) async throws -> Result {
        try await connected { client, metadata in
            guard let deadline else { return try await body(client, metadata) }
            return try await deadline.run { try await body(client, metadata) }
        }
    }

    /// Connects with the resolved context and reports RPC errors the spctl way. While the context
    /// impersonates a tenant, the banner says so first; once the platform says the session is
    /// over, the context goes back to its own credential.
    func connected<Result: Sendable>(_ body: (ClientConnection.Client, Metadata) async throws -> Result) async throws -> Result {
        let target = try Target.resolve(server: server, token: token, context: context, tls: tls, caFile: caFile)
        if let impersonation = target.impersonation {
            ImpersonationNotice.show(impersonation)
        }
        do {
            return try await target.connect(body)
        } catch let error as RPCError {
            let hint: String? = switch error.code {
            case .unauthenticated: target.missingTokenHint
            // Not reached at all: an answer the server gave says why in its ErrorInfo.
            case .unavailable where error.errorInfoReason.isEmpty: target.unreachableHint
            case .deadlineExceeded: """
                \(target.server) did not answer within \(String(format: "%g", timeout)) s: it may be overloaded or stuck, and what was \
                asked may still be done. Check before asking again (a create given --request-id is safe to repeat), or wait longer with --timeout.
                """
            default: nil
            }
            ErrorReport.print(error, hint: hint)
            if target.impersonationEnded(by: error), let name = target.contextName {
                try ImpersonationNotice.drop(context: name, configPath: target.configPath)
                StandardError.say("the impersonation session is over; context \"\(name)\" uses its own credential again")
            }
            throw ExitCode(1)
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}
