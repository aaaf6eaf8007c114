import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCProtobuf
import Logging
import NIOCore
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SQLiteNIO
import Synchronization
import Testing
import TwilioBridge

/// The spool keeps order per line, so one tenant whose texts outrun the platform's store
/// (`inbound_backlog`) holds up no one else's.
@Suite("Twilio bridge spool lines")
struct SpoolLineTests {
    static let busyNumber = "+19185550101"
    static let busyService = "MG" + String(repeating: "b", count: 32)
    static let quietNumber = "+19185550202"

    static func sms(_ number: Int, to: String, service: String = "", from: String = "+15550001111") -> [(String, String)] {
        [("MessageSid", "SM" + String(format: "%032x", number)), ("From", from), ("To", to), ("MessagingServiceSid", service),
         ("Body", "text \(number)"), ("NumMedia", "0")]
    }

    @Test("a backlogged tenant's texts wait in the spool, in order, while other lines' texts go straight through")
    func backlogHoldsOnlyItsLines() async throws {
        try await BackloggedPlatform.with(busy: [Self.busyNumber, Self.busyService]) { platform, client in
            try await TestBridge.with(platform: client, spoolPath: BridgeWebhookTests.spoolPath()) { bridge in
                #expect(try await bridge.post("/sms", Self.sms(1, to: Self.busyNumber)).body.hasSuffix("<Response/>"))
                #expect(await bridge.spool.count() == 1, "refused for the backlog: kept for later")
                #expect(try await bridge.post("/sms", Self.sms(1, to: Self.busyNumber)).body.hasSuffix("<Response/>"))
                #expect(await bridge.spool.count() == 1, "Twilio's retry is spooled once")

                let quiet = try await bridge.post("/sms", Self.sms(2, to: Self.quietNumber))
                #expect(quiet.body.contains("<Message>stored text 2</Message>"), "not held behind the busy line: \(quiet.body)")
                #expect(try await bridge.post("/sms", Self.sms(3, to: Self.busyNumber, from: "+15550003333")).body.hasSuffix("<Response/>"))
                #expect(try await bridge.post("/sms", Self.sms(5, to: Self.quietNumber, service: Self.busyService)).body.hasSuffix("<Response/>"))
                #expect(await bridge.spool.count() == 3, "behind their lines' first texts, or refused")

                // Spooled behind the busy lines' texts (say, while the platform was away): the
                // drainer passes over both busy lines and replays this one.
                try await bridge.spool.append(.with {
                    $0.messageSid = "SM" + String(format: "%032x", 4); $0.from = "+15550002222"; $0.to = Self.quietNumber
                })
                try await poll("the drainer to replay the quiet line") { await bridge.spool.count() == 3 }
                #expect(platform.stored == [2, 4])
                #expect(!platform.attempted.contains(3), "a line's later text waits for its first")

                platform.clearBacklog()
                try await poll("the spool to drain") { await bridge.spool.count() == 0 }
                #expect(platform.stored == [2, 4, 1, 3, 5], "the busy lines' texts in the order they came")
            }
        }
    }

    @Test("a text whose line waits, but that the spool cannot take, is delivered out of turn rather than lost")
    func unspoolableTextIsDelivered() async throws {
        try await BackloggedPlatform.with(busy: [Self.busyNumber]) { platform, client in
            try await TestBridge.with(platform: client, spoolPath: BridgeWebhookTests.spoolPath()) { bridge in
                _ = try await bridge.post("/sms", Self.sms(1, to: Self.busyNumber))
                #expect(await bridge.spool.count() == 1)
                try await bridge.spool.close()  // the disk is gone, say
                platform.clearBacklog()
                let late = try await bridge.post("/sms", Self.sms(2, to: Self.busyNumber))
                #expect(late.body.contains("<Message>stored text 2</Message>"), "\(late.body)")
                // A replay pass that read text 1 just before the spool closed may store it too.
                #expect(platform.stored.contains(2) && platform.stored.allSatisfy { [1, 2].contains($0) }, "\(platform.stored)")
            }
        }
    }

    @Test("a text the platform fails on, every time, holds up only its own line")
    func failingTextHoldsOnlyItsLine() async throws {
        try await BackloggedPlatform.with(busy: [], failing: [1]) { platform, client in
            try await TestBridge.with(platform: client, spoolPath: BridgeWebhookTests.spoolPath()) { bridge in
                // Spooled while the platform was away: the first text fails on every replay.
                for (number, to) in [(1, Self.busyNumber), (2, Self.busyNumber), (3, Self.quietNumber)] {
                    try await bridge.spool.append(.with {
                        $0.messageSid = "SM" + String(format: "%032x", number); $0.from = "+15550001111"; $0.to = to
                    })
                }
                try await poll("the drainer to replay the other line") { await bridge.spool.count() == 2 }
                #expect(platform.stored == [3])
                #expect(!platform.attempted.contains(2), "the failing line keeps its order")

                platform.stopFailing()
                try await poll("the spool to drain") { await bridge.spool.count() == 0 }
                #expect(platform.stored == [3, 1, 2])
            }
        }
    }

    @Test("a text the platform cannot finish now holds up only its line, and call statuses replay meanwhile, past any number that fail")
    func delayedTextHoldsOnlyItsLine() async throws {
        try await BackloggedPlatform.with(busy: [], aborting: [1]) { platform, client in
            try await TestBridge.with(platform: client, spoolPath: BridgeWebhookTests.spoolPath()) { bridge in
                for (number, to) in [(1, Self.busyNumber), (2, Self.busyNumber), (3, Self.quietNumber)] {
                    try await bridge.spool.append(.with {
                        $0.messageSid = "SM" + String(format: "%032x", number); $0.from = "+15550001111"; $0.to = to
                    })
                }
                // More statuses that fail every time than one page of them, then one that goes through.
                for number in 0..<120 {
                    try await bridge.spool.appendStatus(.call(.with { $0.callSid = BackloggedPlatform.failingCallPrefix + String(format: "%031x", number) }))
                }
                let voicemail = "CA" + String(repeating: "7", count: 32)
                try await bridge.spool.appendStatus(.call(.with { $0.callSid = voicemail; $0.recordingURL = "https://api.twilio.com/recordings/RE1" }))

                // The voicemail leaves the spool just after the platform records it; the failing
                // ones before it, more than a page of them, are kept for a later pass.
                // A pass makes 120 failing calls before the voicemail's: on a machine busy with
                // the rest of the suite that takes a while.
                try await poll("the drainer to replay the other line and the voicemail", within: .seconds(30)) {
                    let waitingStatuses = try await bridge.spool.statusCount()
                    return await bridge.spool.count() == 2 && platform.recordedStatuses == [voicemail] && waitingStatuses == 120
                }
                #expect(platform.stored == [3])
                #expect(!platform.attempted.contains(2), "the delayed line keeps its order")

                platform.stopFailing()
                try await poll("the spool to drain") { await bridge.spool.count() == 0 }
                #expect(platform.stored == [3, 1, 2])
            }
        }
    }

    @Test("a spool from before delivery reports were kept still replays the call statuses it holds")
    func olderStatusTable() async throws {
        let path = BridgeWebhookTests.spoolPath()
        let logger = Logger(label: "test.spool")
        let old = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await old.query("CREATE TABLE spooled_call_statuses (sequence INTEGER PRIMARY KEY AUTOINCREMENT, request BLOB NOT NULL)", [])
        let voicemail = RecordCallStatusRequest.with { $0.callSid = "CA" + String(repeating: "9", count: 32); $0.recordingURL = "https://api.twilio.com/recordings/RE9" }
        _ = try await old.query("INSERT INTO spooled_call_statuses (request) VALUES (?)", [.blob(ByteBuffer(bytes: try voicemail.serializedBytes() as [UInt8]))])
        try await old.close()

        let spool = try await MessageSpool.open(path: path, logger: logger)
        let waiting = try await spool.oldestStatuses()
        #expect(waiting.map(\.status) == [.call(voicemail)])
        try await spool.close()
        // Moved, not copied: the old table is gone.
        let file = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let oldTable = try await file.query("SELECT name FROM sqlite_master WHERE name = 'spooled_call_statuses'", [])
        try await file.close()
        #expect(oldTable.isEmpty)
    }

    @Test("a spool from before texts were kept per line gets its lines from the texts it holds")
    func olderSpoolFile() async throws {
        let path = BridgeWebhookTests.spoolPath()
        let logger = Logger(label: "test.spool")
        let old = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await old.query("CREATE TABLE spooled_messages (sequence INTEGER PRIMARY KEY AUTOINCREMENT, message_sid TEXT NOT NULL UNIQUE, request BLOB NOT NULL)", [])
        let waiting = HandleInboundMessageRequest.with { $0.messageSid = "SM" + String(repeating: "5", count: 32); $0.from = "+15550001111"; $0.to = Self.busyNumber }
        _ = try await old.query("INSERT INTO spooled_messages (message_sid, request) VALUES (?, ?)", [.text(waiting.messageSid), .blob(ByteBuffer(bytes: try waiting.serializedBytes() as [UInt8]))])
        try await old.close()

        let spool = try await MessageSpool.open(path: path, logger: logger)
        #expect(await spool.count() == 1)
        #expect(await spool.holdsLine(of: .with { $0.from = "+15550009999"; $0.to = Self.busyNumber }))
        #expect(await !spool.holdsLine(of: .with { $0.from = "+15550001111"; $0.to = Self.quietNumber }))
        let oldest = try #require(try await spool.oldest())
        #expect(oldest.line == Self.busyNumber)
        try await spool.remove(sequence: oldest.sequence)
        #expect(await spool.count() == 0)
        #expect(await !spool.holdsLine(of: waiting))
        try await spool.close()
    }
}

/// A platform on the in-process transport whose texts to the `busy` lines are refused as a
/// tenant's backlog is, until cleared; it answers every other text with "stored text N" and remembers
/// the order it stored them in (N is the MessageSid's number).
final class BackloggedPlatform: Sendable {
    private let state = Mutex((
        backlogged: true, stored: [Int](), attempted: [Int](), failing: Set<Int>(), aborting: Set<Int>(), statuses: [String]()))
    let busy: Set<String>
    /// Call statuses whose CallSid starts so are failed with INTERNAL, every time.
    static let failingCallPrefix = "CAF"

    init(busy: Set<String>, failing: Set<Int>, aborting: Set<Int>) {
        self.busy = busy
        state.withLock { $0.failing = failing; $0.aborting = aborting }
    }

    var stored: [Int] { state.withLock { $0.stored } }
    var attempted: [Int] { state.withLock { $0.attempted } }
    /// The CallSids of the call statuses it recorded, in order.
    var recordedStatuses: [String] { state.withLock { $0.statuses } }
    func clearBacklog() { state.withLock { $0.backlogged = false } }
    func stopFailing() { state.withLock { $0.failing = []; $0.aborting = [] } }

    /// `failing`: the texts it fails on with INTERNAL, as a bug in handling them would;
    /// `aborting`: those it answers ABORTED, as a text that keeps losing a race for a row would.
    static func with<Result: Sendable>(
        busy: Set<String>, failing: Set<Int> = [], aborting: Set<Int> = [],
        _ body: (BackloggedPlatform, PlatformClient<InProcessTransport.Client>) async throws -> Result
    ) async throws -> Result {
        let platform = BackloggedPlatform(busy: busy, failing: failing, aborting: aborting)
        let transport = InProcessTransport()
        let server = GRPCServer(transport: transport.server, services: [Service(platform: platform)])
        let serving = Task { try await server.serve() }
        defer { serving.cancel() }
        return try await body(platform, PlatformClient(transport: transport.client, bridgeToken: "any"))
    }

    private func handle(_ request: HandleInboundMessageRequest) throws -> HandleInboundMessageResponse {
        let number = Int(request.messageSid.dropFirst(2), radix: 16) ?? -1
        let (refused, failed, aborted) = state.withLock { state in
            state.attempted.append(number)
            if state.aborting.contains(number) { return (false, false, true) }
            if state.failing.contains(number) { return (false, true, false) }
            guard !(state.backlogged && (busy.contains(request.to) || busy.contains(request.messagingServiceSid))) else { return (true, false, false) }
            state.stored.append(number)
            return (false, false, false)
        }
        if aborted {
            throw RPCError(code: .aborted, message: "the text's row changed concurrently")
        }
        if failed {
            throw RPCError(code: .internalError, message: "internal error")
        }
        if refused {
            throw ServiceError(code: .unavailable, reason: "inbound_backlog", message: "texts are arriving faster than they are stored")
        }
        return .with { $0.replies = [.with { $0.body = "stored text \(number)" }] }
    }

    private func record(_ status: RecordCallStatusRequest) throws {
        guard !status.callSid.hasPrefix(Self.failingCallPrefix) else { throw RPCError(code: .internalError, message: "internal error") }
        state.withLock { $0.statuses.append(status.callSid) }
    }

    private struct Service: RegistrableRPCService {
        let platform: BackloggedPlatform

        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            router.registerHandler(
                forMethod: InboundService.Method.HandleInboundMessage.descriptor,
                deserializer: ProtobufDeserializer<HandleInboundMessageRequest>(),
                serializer: ProtobufSerializer<HandleInboundMessageResponse>()
            ) { [platform] request, _ in
                let response = try platform.handle(try await ServerRequest(stream: request).message)
                return StreamingServerResponse(single: ServerResponse(message: response))
            }
            router.registerHandler(
                forMethod: InboundService.Method.RecordCallStatus.descriptor,
                deserializer: ProtobufDeserializer<RecordCallStatusRequest>(),
                serializer: ProtobufSerializer<PhoneCall>()
            ) { [platform] request, _ in
                let status = try await ServerRequest(stream: request).message
                try platform.record(status)
                return StreamingServerResponse(single: ServerResponse(message: PhoneCall()))
            }
        }
    }
}
