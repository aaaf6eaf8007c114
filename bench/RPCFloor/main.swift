// rpc-floor: what one unary gRPC call costs on this machine, with nothing behind it.
//
// The webhook bench's e2e path makes one platform RPC per text. This measures the floor under
// that: the Health/Check call over loopback HTTP/2 from one client connection (or
// --connections), as the bridge makes its calls, at the same concurrency. Three servers,
// alternated in rounds:
//   bare        grpc-swift's GRPCServer with the health service and no interceptors
//   pipeline    the platform's RPCServer: call-log and authentication interceptors (Health is an
//               open method, so no key is looked up), logging at the level given
//   in-process  grpc-swift's GRPCServer over the in-process transport, no interceptors
// See docs/benchmarks.md.

import ArgumentParser
import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import Logging
import RPCRuntime
import SwiftProtobuf

struct RPCFloor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc-floor",
        abstract: "Unary gRPC calls with nothing behind them: grpc-swift bare vs the platform's pipeline.")

    @Option(help: "Calls per server per round.")
    var calls = 5000

    @Option(help: "Rounds; each runs both servers, in alternating order.")
    var rounds = 4

    @Option(help: "Concurrent calls, spread over --connections client connections.")
    var concurrency = 64

    @Option(help: "Client connections; calls take them in turn.")
    var connections = 1

    @Option(name: .customLong("log-level"), help: "Log level of the pipeline's call log; info writes one line per call.")
    var logLevel: String = "info"

    @Option(name: .customLong("timeout-ms"), help: "A deadline on every call, as the bridge sets one; 0 for none.")
    var timeoutMilliseconds = 0

    enum DeadlineKind: String, ExpressibleByArgument {
        /// grpc-swift's `CallOptions.timeout`, sent to the server too.
        case grpc
        /// `CallDeadline`, the bridge's: an event-loop timer that cancels the call.
        case timer
    }

    @Option(help: "How --timeout-ms is enforced: grpc (CallOptions.timeout) or timer (CallDeadline, as the bridge does).")
    var deadline = DeadlineKind.timer

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            StandardErrorLogHandler(label: label, logLevel: level)
        }
        let logger = Logger(label: "rpc-floor")
        var results: [String: [Phase]] = ["bare": [], "pipeline": [], "in-process": []]
        for round in 0..<rounds {
            let order = round.isMultiple(of: 2) ? ["bare", "pipeline", "in-process"] : ["in-process", "pipeline", "bare"]
            for kind in order {
                results[kind, default: []].append(try await measure(kind, logger: logger))
            }
        }
        print("rpc-floor: concurrency \(concurrency) on \(connections == 1 ? "one connection" : "\(connections) connections"), \(calls) calls per server in each of \(rounds) rounds, log level \(logLevel), \(timeoutMilliseconds > 0 ? "deadline \(timeoutMilliseconds) ms (\(deadline.rawValue))" : "no deadline")\n")
        print("| server | calls | calls/s | p50 ms | p99 ms | CPU per call | cores busy |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for kind in ["bare", "pipeline", "in-process"] {
            let phases = results[kind]!
            let latencies = phases.flatMap(\.latencies).sorted()
            let seconds = phases.map(\.seconds).reduce(0, +)
            let cpuSeconds = phases.map(\.cpuSeconds).reduce(0, +)
            let rate = Double(latencies.count) / seconds
            func percentile(_ p: Double) -> String {
                String(format: "%.2f", latencies[min(latencies.count - 1, Int((p * Double(latencies.count)).rounded(.up)) - 1)] * 1000)
            }
            let cpuPerCall = String(format: "%.3f", cpuSeconds * 1000 / Double(latencies.count))
            print("| \(kind) | \(latencies.count) | \(Int(rate)) | \(percentile(0.5)) | \(percentile(0.99)) | \(cpuPerCall) ms | \(String(format: "%.2f", cpuSeconds / seconds)) |")
        }
    }

    private var callOptions: CallOptions {
        var options = CallOptions.defaults
        if timeoutMilliseconds > 0, deadline == .grpc { options.timeout = .milliseconds(timeoutMilliseconds) }
        return options
    }

    private var callDeadline: CallDeadline? {
        timeoutMilliseconds > 0 && deadline == .timer ? CallDeadline(timeout: .milliseconds(timeoutMilliseconds)) : nil
    }

    struct Phase {
        var latencies: [Double]
        var seconds: Double
        /// The process's user and system CPU time over the phase, all threads.
        var cpuSeconds: Double
    }

    /// The process's CPU time so far, user and system, all threads.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func measure(_ kind: String, logger: Logger) async throws -> Phase {
        if kind == "in-process" {
            let inProcess = InProcessTransport()
            let bare = GRPCServer(transport: inProcess.server, services: [HealthService(services: [])])
            let task = Task { try await bare.serve() }
            let phase = try await calls(over: inProcess.client)
            bare.beginGracefulShutdown()
            _ = await task.result
            return phase
        }
        if kind == "bare" {
            let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext)
            let bare = GRPCServer(transport: transport, services: [HealthService(services: [])])
            let task = Task { try await bare.serve() }
            let phase = try await calls(port: try await transport.listeningAddress.ipv4!.port)
            bare.beginGracefulShutdown()
            _ = await task.result
            return phase
        }
        let pipeline = try RPCServer(
            configuration: .init(host: "127.0.0.1", port: 0), services: [], descriptors: [],
            authenticator: RefuseAll(), tenantDirectory: NoTenants(), logger: logger)
        let task = Task { try await pipeline.run() }
        let phase = try await calls(port: try await pipeline.listeningPort)
        pipeline.beginGracefulShutdown()
        _ = await task.result
        return phase
    }

    private func calls(port: Int) async throws -> Phase {
        let transports = try (0..<connections).map { _ in
            try HTTP2ClientTransport.Posix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        }
        return try await calls(over: transports)
    }

    private func calls<Transport: ClientTransport>(over transport: Transport) async throws -> Phase {
        try await calls(over: [transport])
    }

    /// Runs the phase with one client per transport, callers taking the clients in turn.
    private func calls<Transport: ClientTransport>(over transports: [Transport]) async throws -> Phase {
        try await withThrowingTaskGroup(of: Void.self) { running in
            let clients = transports.map { GRPCClient(transport: $0) }
            for client in clients { running.addTask { try await client.runConnections() } }
            defer { clients.forEach { $0.beginGracefulShutdown() } }
            return try await calls(through: clients)
        }
    }

    private func calls<Transport: ClientTransport>(through clients: [GRPCClient<Transport>]) async throws -> Phase {
        let descriptor = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: HealthService.serviceName), method: "Check")
        let options = callOptions, callDeadline = callDeadline
        @Sendable func unary(_ client: GRPCClient<Transport>) async throws {
            // An empty message is an empty HealthCheckRequest (the whole server); the response's
            // one field is skipped as unknown.
            _ = try await client.unary(
                request: ClientRequest(message: Google_Protobuf_Empty()),
                descriptor: descriptor,
                serializer: ProtobufSerializer<Google_Protobuf_Empty>(),
                deserializer: ProtobufDeserializer<Google_Protobuf_Empty>(),
                options: options) { try $0.message }
        }
        @Sendable func call(_ client: GRPCClient<Transport>) async throws {
            if let callDeadline { try await callDeadline.run { try await unary(client) } } else { try await unary(client) }
        }
        for warmUp in 0..<200 { try await call(clients[warmUp % clients.count]) }
        let perCaller = calls / concurrency
        let started = ContinuousClock.now
        let cpuStarted = Self.processCPUSeconds()
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for caller in 0..<concurrency {
                let client = clients[caller % clients.count]
                group.addTask {
                    var mine: [Double] = []
                    for _ in 0..<perCaller {
                        let start = ContinuousClock.now
                        try await call(client)
                        let elapsed = ContinuousClock.now - start
                        mine.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = ContinuousClock.now - started
        return Phase(
            latencies: latencies,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            cpuSeconds: Self.processCPUSeconds() - cpuStarted)
    }
}

struct RefuseAll: Authenticator {
    func authenticate(bearerToken: String) async throws -> Principal {
        throw ServiceError.unauthenticated(reason: "invalid_token", message: "no keys here")
    }
}

struct NoTenants: TenantDirectory {
    func access(tenantID: String) async throws -> TenantAccess? { nil }
    func wasDeleted(tenantID: String) async throws -> Bool { false }
}

extension RPCFloor {
    static func launch() async { await main() }
}

await RPCFloor.launch()
