// webhook-bench: the cost of the platform behind an inbound text, as Twilio sees it.
//
// Two paths through one bridge, at the same concurrency, alternated in rounds in one run:
//   static  POST /bench/static-sms  body read, form parse, signature check, spool check, TwiML;
//                                   a fixed reply instead of the platform RPC
//   e2e     POST /sms               the same, plus the RPC: auth, tenant resolution, store insert
// The bridge reaches the platform as twilio-bridge does (--bridge remote: gRPC over loopback
// HTTP/2) or as platform-server --twilio-listen does (--bridge in-process).
// The machine is noisy, so the result that counts is the ratio of the two measured side by side,
// not either absolute number. See docs/benchmarks.md for how to run it and the latest results.

import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PlatformServer
import PostgresNIO
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI
import Synchronization
import TwilioBridge

struct WebhookBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook-bench",
        abstract: "Inbound SMS webhooks end to end vs the bridge's static TwiML baseline.",
        discussion: """
            Starts a platform (SQLite in a temporary home, or a fresh database on the PostgreSQL \
            server of --database-url) and a bridge in-process on loopback, adds a tenant with a \
            number, then posts signed, Twilio-shaped SMS webhooks over keep-alive HTTP/1.1 \
            connections. Build it in release mode: swift build -c release --product webhook-bench
            """)

    // 20,000 a path: a p99 of 5,000 rests on the 50 slowest requests, and one stall of the VM
    // moved the ratio by half a point from run to run; the ratio of longer runs settles.
    @Option(help: "Measured requests per path, split evenly over the rounds.")
    var requests = 20_000

    @Option(help: "Rounds; each runs both paths, in alternating order, to even out machine noise.")
    var rounds = 8

    @Option(help: "Concurrent requests (one keep-alive connection each).")
    var concurrency = 64

    @Option(help: "Unmeasured requests per path before the first round.")
    var warmup = 500

    @Option(help: "Distinct sender numbers; the warm-up meets each once, so measured texts come from known customers.")
    var senders = 500

    @Option(help: "The largest acceptable e2e/static p99 ratio.")
    var target = 3.0

    @Option(
        name: .customLong("database-url"),
        help: "A PostgreSQL URL whose user may create databases; the bench creates a fresh one beside it and drops it afterwards. SQLite in a temporary home when unset.")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "Log level of the platform and bridge, to stderr. info is what platform-server runs with, one line per RPC.")
    var logLevel: String = "info"

    enum BridgeKind: String, ExpressibleByArgument, CaseIterable {
        /// twilio-bridge: its own process, gRPC over HTTP/2 to the platform.
        case remote
        /// platform-server --twilio-listen: the platform's in-process transport.
        case inProcess = "in-process"
    }

    @Option(help: "How the bridge reaches the platform: remote (twilio-bridge, over loopback HTTP/2) or in-process (platform-server --twilio-listen).")
    var bridge: BridgeKind = .remote

    func validate() throws {
        guard requests >= rounds, rounds >= 1, concurrency >= 1, warmup >= 0, senders >= 1, target > 0 else {
            throw ValidationError("--requests must be at least --rounds, and every count positive")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: trace, debug, info, notice, warning, error or critical") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            StandardErrorLogHandler(label: label, logLevel: level)
        }
        let logger = Logger(label: "webhook-bench")
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("webhook-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }

        let store = try await Store.make(databaseURL)
        do {
            try await bench(home: home, store: store, logger: logger)
        } catch {
            await store.drop()
            throw error
        }
        await store.drop()
    }

    private func bench(home: URL, store: Store, logger: Logger) async throws {
        let platform = try await PlatformServer.start(
            .init(home: home.path, host: "127.0.0.1", port: 0, databaseURL: store.url, spctlConfigPath: nil), logger: logger)
        let platformTask = Task { try await platform.run() }
        let platformPort = try await platform.rpcServer.listeningPort
        let platformAddress = "127.0.0.1:\(platformPort)"
        func token(_ file: String) throws -> String {
            try String(contentsOf: home.appendingPathComponent(file), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try await Fixture.addTenant(platform: platformAddress, ownerToken: try token("owner.token"))

        let bridgePort = try await freeLoopbackPort()
        let configuration = BridgeConfiguration(
            host: "127.0.0.1", port: bridgePort, publicURL: Fixture.publicURL, twilioAuthToken: Fixture.authToken,
            spoolPath: home.appendingPathComponent("bridge-spool.sqlite").path, benchmarkStaticRoute: true)
        let bridgeToken = try token("bridge.token")
        let bridgeServices: [any Service]
        let spool: MessageSpool
        switch bridge {
        case .remote:
            let client = try RemotePlatformClient(platform: platformAddress, bridgeToken: bridgeToken)
            let server = try await TwilioBridgeServer.start(configuration: configuration, platform: client, logger: logger)
            (bridgeServices, spool) = (server.services, server.spool)
        case .inProcess:
            let client = PlatformClient(transport: platform.rpcServer.inProcessClient, bridgeToken: bridgeToken)
            let server = try await TwilioBridgeServer.start(configuration: configuration, platform: client, logger: logger)
            (bridgeServices, spool) = (server.services, server.spool)
        }
        let bridgeGroup = ServiceGroup(services: bridgeServices, gracefulShutdownSignals: [], logger: logger)
        let bridgeTask = Task { try await bridgeGroup.run() }

        // The load generator gets its own event loop, not the servers' shared ones, so its
        // callbacks never queue behind server work on the same loop (nor delay it).
        let clientLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loadBefore = Self.loadAverage()
        let outcome: Result<Report, any Error>
        do {
            let connections = try await LoadConnection.open(count: concurrency, port: bridgePort, on: clientLoop)
            defer { connections.forEach { $0.close() } }
            let runner = Runner(connections: connections, bridgePort: bridgePort)
            outcome = .success(try await measure(runner, platform: platform, spool: spool))
        } catch {
            outcome = .failure(error)
        }

        await bridgeGroup.triggerGracefulShutdown()
        _ = await bridgeTask.result
        platform.rpcServer.beginGracefulShutdown()
        _ = await platformTask.result
        try await clientLoop.shutdownGracefully()

        var report = try outcome.get()
        report.loadBefore = loadBefore
        // Unbuffered, so the table is out even if something fails while shutting down.
        let table = report.markdown(target: target, backend: store.url == nil ? "SQLite" : "PostgreSQL", settings: self)
        FileHandle.standardOutput.write(Data((table + "\n").utf8))
        if report.failures > 0 { throw ExitCode.failure }
    }

    /// The 1-minute load average, to tell a quiet run from one that shared the machine.
    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
    }

    /// Warm-up, then the rounds, checking after each e2e phase that every text was stored (and
    /// none spooled: the bridge answers 200 for a spooled text too, which would flatter e2e).
    private func measure(_ runner: Runner, platform: PlatformServer, spool: MessageSpool) async throws -> Report {
        var sent = 0
        func storedCheck() async throws {
            let stored = try await Fixture.storedMessages(platform.database)
            let spooled = await spool.count()
            guard stored == sent, spooled == 0 else {
                throw BenchError("\(sent) texts sent end to end, but \(stored) stored and \(spooled) spooled")
            }
        }

        try await runner.confirmBaselineRoute()
        _ = try await runner.run(.staticTwiML, count: warmup, senders: senders)
        _ = try await runner.run(.endToEnd, count: warmup, senders: senders)
        sent += warmup
        try await storedCheck()

        let floor = try await runner.run(.floor, count: requests / rounds, senders: senders)
        var report = Report(floor: floor)
        for round in 0..<rounds {
            let count = requests / rounds + (round < requests % rounds ? 1 : 0)
            let order: [Runner.Path] = round.isMultiple(of: 2) ? [.staticTwiML, .endToEnd] : [.endToEnd, .staticTwiML]
            var results: [Runner.Path: PhaseResult] = [:]
            for path in order {
                results[path] = try await runner.run(path, count: count, senders: senders)
                if path == .endToEnd {
                    sent += count
                    try await storedCheck()
                }
            }
            report.rounds.append(Round(staticTwiML: results[.staticTwiML]!, endToEnd: results[.endToEnd]!))
        }
        return report
    }
}

// MARK: Fixture

/// The tenant, number and webhook shape the bench uses.
enum Fixture {
    static let authToken = "bench-auth-token-0123456789abcdef"
    /// What Twilio would call; signatures are computed over it, as in production behind a proxy.
    static let publicURL = "https://bridge.example.com"
    static let tenantNumber = "+19185550101"

    static func addTenant(platform: String, ownerToken: String) async throws {
        let owner = ClientConnection.bearer(ownerToken)
        try await ClientConnection.with(server: platform) { client in
            _ = try await TenantService.Client(wrapping: client).createTenant(.with {
                $0.tenantID = "acme"
                $0.tenant = .with { $0.displayName = "Acme Detailing"; $0.industry = "auto_detailing" }
            }, metadata: owner)
            _ = try await PhoneConfigService.Client(wrapping: client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = tenantNumber; $0.ivrMode = .simple; $0.forwardNumber = "+19185559999" }
            }, metadata: owner)
        }
    }

    /// The fields Twilio posts for an inbound text, in its order, with a unique MessageSid.
    static func smsForm(sequence: Int, sender: Int) -> [(String, String)] {
        let sid = "SM" + String(format: "%032x", sequence)
        let from = "+1555" + String(format: "%07d", sender)
        return [
            ("ToCountry", "US"), ("ToState", "OK"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("ToCity", "TULSA"),
            ("FromZip", "74103"), ("SmsSid", sid), ("FromState", "OK"), ("SmsStatus", "received"), ("FromCity", "TULSA"),
            ("Body", "Hi! Do you have any openings Friday afternoon for a full detail?"), ("FromCountry", "US"),
            ("To", tenantNumber), ("ToZip", "74103"), ("NumSegments", "1"),
            ("MessageSid", sid), ("AccountSid", "AC" + String(repeating: "0", count: 32)), ("From", from), ("ApiVersion", "2010-04-01"),
        ]
    }

    static func storedMessages(_ database: any Database) async throws -> Int {
        try await database.transaction(.platform) { tx in
            Int(try await tx.first("SELECT COUNT(*) AS n FROM text_messages")?.int("n") ?? 0)
        }
    }
}

/// Where the platform keeps its data: nil for SQLite in the temporary home, or a database created
/// for this run on the PostgreSQL server named by --database-url, dropped at the end.
struct Store {
    let url: String?
    private let admin: String?
    private let name: String?

    static func make(_ adminURL: String?) async throws -> Store {
        guard let adminURL else { return Store(url: nil, admin: nil, name: nil) }
        guard var components = URLComponents(string: adminURL) else { throw BenchError("--database-url is not a URL") }
        let name = "sp_bench_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try await Self.administer(adminURL, "CREATE DATABASE \(name)")
        components.path = "/" + name
        return Store(url: components.string!, admin: adminURL, name: name)
    }

    func drop() async {
        guard let admin, let name else { return }
        try? await Self.administer(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// CREATE and DROP DATABASE cannot run in a transaction, so not through the platform's store.
    private static func administer(_ url: String, _ sql: String) async throws {
        let components = URLComponents(string: url)!
        let client = PostgresClient(configuration: .init(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres", password: components.password,
            database: String(components.path.dropFirst()), tls: .disable))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: sql))
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A port nothing listens on: bound to learn it, then released for the bridge (whose
/// configuration takes a fixed port).
func freeLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

// MARK: Load

/// The two measured paths and the client's own floor, each as prepared, signed requests.
struct Runner {
    enum Path: Hashable {
        /// `/bench/static-sms`: everything `/sms` does but the platform RPC.
        case staticTwiML
        /// `/sms`: signature, RPC, store, TwiML.
        case endToEnd
        /// A route the bridge does not serve: HTTP server and client only, no body read, no
        /// signature. Shows the load generator's own share and that it is not the bottleneck.
        case floor

        var route: String {
            switch self {
            case .staticTwiML: TwilioCallbackURLs.benchmarkStaticSMSPath
            case .endToEnd: TwilioCallbackURLs.smsPath
            case .floor: "/bench/not-found"
            }
        }

        var expectedStatus: UInt { self == .floor ? 404 : 200 }
    }

    let connections: [LoadConnection]
    let bridgePort: Int
    /// Every request gets a MessageSid never used before, so every e2e request inserts.
    private let sequence = SequenceCounter()
    private let signer = TwilioSignatureVerifier(authToken: Fixture.authToken)

    init(connections: [LoadConnection], bridgePort: Int) {
        self.connections = connections
        self.bridgePort = bridgePort
    }

    /// Signs and encodes `count` requests up front, so the client does no crypto while measuring.
    func prepare(_ path: Path, count: Int, senders: Int) -> [PreparedRequest] {
        (0..<count).map { _ in
            let number = sequence.next()
            let form = Fixture.smsForm(sequence: number, sender: number % senders)
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path.route)
            let body = ByteBuffer(string: FormEncoding.encode(form))
            head.headers.add(name: "Host", value: "127.0.0.1:\(bridgePort)")
            head.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            head.headers.add(name: "X-Twilio-Signature", value: signer.signature(url: Fixture.publicURL + path.route, parameters: form))
            head.headers.add(name: "User-Agent", value: "TwilioProxy/1.1")
            return PreparedRequest(head: head, body: body)
        }
    }

    /// `count` requests over all connections at once, each connection sending its next request
    /// as soon as its previous response has ended.
    func run(_ path: Path, count: Int, senders: Int) async throws -> PhaseResult {
        let requests = prepare(path, count: count, senders: senders)
        let phase = Phase(requests: requests, expectedStatus: path.expectedStatus)
        let started = ContinuousClock.now, cpuStarted = processCPUTime()
        let results = try await withThrowingTaskGroup(of: ConnectionResult.self) { group in
            for connection in connections { group.addTask { try await connection.run(phase) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let elapsed = ContinuousClock.now - started, cpu = processCPUTime() - cpuStarted
        return PhaseResult(latencies: results.flatMap(\.latencies), elapsed: elapsed, cpu: cpu, failures: results.reduce(0) { $0 + $1.failures },
                           firstFailure: results.lazy.compactMap(\.firstFailure).first)
    }

    /// The baseline route must exist (the flag is on) and answer like /sms, or the ratio is meaningless.
    func confirmBaselineRoute() async throws {
        let result = try await run(.staticTwiML, count: 1, senders: 1)
        guard result.failures == 0 else { throw BenchError("\(TwilioCallbackURLs.benchmarkStaticSMSPath): \(result.firstFailure ?? "failed")") }
    }
}

final class SequenceCounter: Sendable {
    private let value = Atomic<Int>(1)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

struct PreparedRequest: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer
}

/// One phase's requests, shared by every connection; each takes the next unsent one.
final class Phase: Sendable {
    let requests: [PreparedRequest]
    let expectedStatus: UInt
    private let next = Atomic<Int>(0)

    init(requests: [PreparedRequest], expectedStatus: UInt) {
        self.requests = requests
        self.expectedStatus = expectedStatus
    }

    func take() -> PreparedRequest? {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < requests.count ? requests[index] : nil
    }
}

struct ConnectionResult: Sendable {
    var latencies: [Duration] = []
    var failures = 0
    var firstFailure: String?
}

/// One keep-alive HTTP/1.1 connection to the bridge, driven from its event loop: the next
/// request is written from the handler that read the previous response's end, so no task hop
/// or scheduling delay of the load generator lands in the latencies.
struct LoadConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<LoadHandler>

    static func open(count: Int, port: Int, on group: any EventLoopGroup) async throws -> [LoadConnection] {
        var connections: [LoadConnection] = []
        for _ in 0..<count {
            connections.append(try await open(port: port, on: group))
        }
        return connections
    }

    /// Connects, retrying briefly while the bridge is still starting.
    static func open(port: Int, on group: any EventLoopGroup) async throws -> LoadConnection {
        var attempt = 0
        while true {
            do {
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            try channel.pipeline.syncOperations.addHandler(LoadHandler())
                        }
                    }
                    .connect(host: "127.0.0.1", port: port).get()
                let handler = try await channel.eventLoop.submit {
                    NIOLoopBound(try channel.pipeline.syncOperations.handler(type: LoadHandler.self), eventLoop: channel.eventLoop)
                }.get()
                return LoadConnection(channel: channel, handler: handler)
            } catch {
                attempt += 1
                guard attempt < 100 else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func run(_ phase: Phase) async throws -> ConnectionResult {
        let done = channel.eventLoop.makePromise(of: ConnectionResult.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.start(phase, done: done) }
        return try await done.futureResult.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}

final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var context: ChannelHandlerContext?
    private var phase: Phase?
    private var done: EventLoopPromise<ConnectionResult>?
    private var result = ConnectionResult()
    private var sentAt = ContinuousClock.now
    private var status: UInt = 0
    private var body = ByteBuffer()

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func start(_ phase: Phase, done: EventLoopPromise<ConnectionResult>) {
        self.phase = phase
        self.done = done
        result = ConnectionResult()
        sendNext()
    }

    private func sendNext() {
        guard let context, let phase, let request = phase.take() else {
            done?.succeed(result)
            done = nil
            phase = nil
            return
        }
        status = 0
        body.clear()
        sentAt = .now
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status.code
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            let latency = ContinuousClock.now - sentAt
            guard let phase else { return }
            result.latencies.append(latency)
            // Both measured paths answer TwiML; a spooled text also gets 200, which the stored
            // count after each e2e phase catches.
            let twiml = phase.expectedStatus != 200 || body.readableBytesView.starts(with: Array(#"<?xml version="1.0" encoding="UTF-8"?><Response"#.utf8))
            if status != phase.expectedStatus || !twiml {
                result.failures += 1
                if result.firstFailure == nil { result.firstFailure = "HTTP \(status): \(String(buffer: body))" }
            }
            sendNext()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done?.fail(error)
        done = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done?.fail(BenchError("the bridge closed a keep-alive connection"))
        done = nil
    }
}

// MARK: Results

struct PhaseResult {
    let latencies: [Duration]
    let elapsed: Duration
    /// This process's CPU time over the phase: client, bridge and platform, not PostgreSQL's.
    let cpu: Duration
    let failures: Int
    let firstFailure: String?

    var summary: Summary { Summary(latencies: latencies, elapsed: elapsed, cpu: cpu) }
}

/// The process's CPU time so far, user and system, all threads.
func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func duration(_ time: timeval) -> Duration { .seconds(time.tv_sec) + .microseconds(time.tv_usec) }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}

struct Summary {
    let count: Int
    let perSecond: Double
    let p50: Duration
    let p99: Duration
    let max: Duration
    let cpuPerRequest: Duration
    /// CPU time over wall time: how many cores the process kept busy.
    let coresBusy: Double

    init(latencies: [Duration], elapsed: Duration, cpu: Duration) {
        let sorted = latencies.sorted()
        count = sorted.count
        perSecond = Double(sorted.count) / elapsed.seconds
        cpuPerRequest = sorted.isEmpty ? .zero : cpu / sorted.count
        coresBusy = cpu.seconds / elapsed.seconds
        // Nearest rank: the smallest latency at least the given share of requests did not exceed.
        func percentile(_ share: Double) -> Duration {
            sorted.isEmpty ? .zero : sorted[Swift.max(0, Int((share * Double(sorted.count)).rounded(.up)) - 1)]
        }
        p50 = percentile(0.50)
        p99 = percentile(0.99)
        max = sorted.last ?? .zero
    }
}

struct Round {
    let staticTwiML: PhaseResult
    let endToEnd: PhaseResult
}

struct Report {
    let floor: PhaseResult
    var rounds: [Round] = []
    /// The 1-minute load average before the measurement (after it, the bench's own load dominates).
    var loadBefore = "?"

    var failures: Int { floor.failures + rounds.reduce(0) { $0 + $1.staticTwiML.failures + $1.endToEnd.failures } }

    /// Every round's requests together; throughput over the summed phase times.
    func overall(_ pick: (Round) -> PhaseResult) -> Summary {
        let phases = rounds.map(pick)
        return Summary(latencies: phases.flatMap(\.latencies), elapsed: phases.reduce(.zero) { $0 + $1.elapsed }, cpu: phases.reduce(.zero) { $0 + $1.cpu })
    }

    func markdown(target: Double, backend: String, settings: WebhookBench) -> String {
        #if DEBUG
        let build = "debug (numbers not representative: build with -c release)"
        #else
        let build = "release"
        #endif
        var lines = [
            "webhook-bench: \(backend), bridge \(settings.bridge.rawValue), \(build), \(ProcessInfo.processInfo.activeProcessorCount) cores, concurrency \(settings.concurrency), "
                + "\(settings.requests) requests per path in \(settings.rounds) rounds after \(settings.warmup) warm-up, log level \(settings.logLevel), "
                + "load average \(loadBefore) before",
            "",
            "| round | path | requests | req/s | p50 ms | p99 ms | max ms | CPU ms/req | cores busy | p99 e2e/static |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        func row(_ round: String, _ path: String, _ summary: Summary, ratio: String = "") -> String {
            "| \(round) | \(path) | \(summary.count) | \(Int(summary.perSecond.rounded())) | \(ms(summary.p50)) | \(ms(summary.p99)) | \(ms(summary.max)) "
                + "| \(String(format: "%.3f", summary.cpuPerRequest.seconds * 1000)) | \(String(format: "%.2f", summary.coresBusy)) | \(ratio) |"
        }
        func ratio(_ e2e: Summary, _ baseline: Summary) -> Double { e2e.p99.seconds / baseline.p99.seconds }
        lines.append(row("floor", "404 (client + HTTP only)", floor.summary))
        for (index, round) in rounds.enumerated() {
            let s = round.staticTwiML.summary, e = round.endToEnd.summary
            let first = index.isMultiple(of: 2) ? "static first" : "e2e first"
            lines.append(row("\(index + 1) (\(first))", "static", s))
            lines.append(row("\(index + 1)", "e2e", e, ratio: String(format: "%.2fx", ratio(e, s))))
        }
        let s = overall { $0.staticTwiML }, e = overall { $0.endToEnd }
        let overallRatio = ratio(e, s)
        lines.append(row("**all**", "**static**", s))
        lines.append(row("**all**", "**e2e**", e, ratio: String(format: "**%.2fx**", overallRatio)))
        lines.append("")
        lines.append(String(
            format: "p99 e2e/static %.2fx, target <= %.1fx: %@  (p50 %.2fx, throughput %.2fx of static, CPU per request %.2fx)",
            overallRatio, target, overallRatio <= target ? "PASS" : "FAIL", e.p50.seconds / s.p50.seconds, e.perSecond / s.perSecond,
            e.cpuPerRequest.seconds / s.cpuPerRequest.seconds))
        if failures > 0 {
            let first = ([floor] + rounds.flatMap { [$0.staticTwiML, $0.endToEnd] }).lazy.compactMap(\.firstFailure).first ?? ""
            lines.append("\(failures) requests failed; first: \(first)")
        }
        return lines.joined(separator: "\n")
    }

    private func ms(_ duration: Duration) -> String { String(format: "%.2f", duration.seconds * 1000) }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension WebhookBench {
    /// In main.swift's top-level code `WebhookBench.main()` resolves to ParsableCommand's
    /// synchronous main, which cannot run an async command and prints the help instead; inside an
    /// async function the async overload wins.
    static func launch() async {
        await main()
    }
}

await WebhookBench.launch()
