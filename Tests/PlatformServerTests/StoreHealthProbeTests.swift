import Foundation
import Logging
import PlatformTestSupport
import Synchronization
import Testing

@testable import PlatformServer

@Suite("Store health probe")
struct StoreHealthProbeTests {
    @Test("health checks follow whether the store answers")
    func followsTheStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await SQLiteDatabase.open(path: directory.appendingPathComponent("store.sqlite").path, logger: Logger(label: "test"))
        let reports = Mutex<[Bool]>([])
        var logger = Logger(label: "test.probe")
        logger.logLevel = .critical
        let probe = StoreHealthProbe(
            database: database, report: { answered in reports.withLock { $0.append(answered) } }, logger: logger,
            interval: .milliseconds(20), timeout: .seconds(2))
        #expect(await probe.storeAnswers())
        let running = Task { try await probe.run() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(reports.withLock { $0 }.isEmpty, "an answering store changes nothing")
        try await database.close()
        try await poll("the probe reports the store gone", within: .seconds(5)) { reports.withLock { $0 } == [false] }
        #expect(await !probe.storeAnswers())
        running.cancel()
        _ = await running.result
    }

    @Test("a store that never answers, and ignores cancellation, is reported within the timeout, not when it gives up")
    func silentStore() async throws {
        let reports = Mutex<[Bool]>([])
        var logger = Logger(label: "test.probe")
        logger.logLevel = .critical
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("silent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let silent = SilentDatabase(try await SQLiteDatabase.open(path: directory.appendingPathComponent("store.sqlite").path, logger: logger))
        let probe = StoreHealthProbe(
            database: silent, report: { answered in reports.withLock { $0.append(answered) } }, logger: logger,
            interval: .milliseconds(50), timeout: .milliseconds(200))
        let took = await ContinuousClock().measure { #expect(await !probe.storeAnswers()) }
        #expect(took < .seconds(10), "\(took)")
        let running = Task { try await probe.run() }
        try await poll("the probe reports the store gone", within: .seconds(10)) { reports.withLock { $0 } == [false] }
        // Passes go on, each with a read of its own, while the reads before it are still out.
        try await poll("passes go on", within: .seconds(10)) { silent.reads.withLock { $0 } >= 4 }
        // Later reads answer (a failover's new primary, on new connections) while the first
        // ones are still out: the probe says so without waiting for them.
        silent.answerLaterReads()
        try await poll("the probe reports the store back", within: .seconds(10)) { reports.withLock { $0 } == [false, true] }
        silent.answer()
        running.cancel()
        _ = await running.result
        try await silent.close()
    }
}

/// A store whose reads wait, cancelled or not, until `answer()`, then go to `store`: a PostgreSQL
/// server gone silent, as postgres-nio's queries in flight ignore cancellation.
private final class SilentDatabase: Database {
    let store: any Database
    let reads = Mutex(0)
    private let waiting = Mutex<[CheckedContinuation<Void, Never>]?>([])
    private let held = Mutex<[CheckedContinuation<Void, Never>]>([])

    init(_ store: any Database) { self.store = store }

    var dialect: SQLDialect { store.dialect }

    /// Every read still out answers.
    func answer() {
        let resumed = waiting.withLock { waiting in defer { waiting = nil }; return waiting ?? [] }
            + held.withLock { held in defer { held = [] }; return held }
        for continuation in resumed { continuation.resume() }
    }

    /// Reads from now on answer at once; those out stay out until `answer()`.
    func answerLaterReads() {
        let out = waiting.withLock { waiting in defer { waiting = nil }; return waiting ?? [] }
        held.withLock { $0 += out }
    }

    func read<Result: Sendable>(_ scope: DataScope, _ body: @Sendable (any SQLTransaction) async throws -> Result) async throws -> Result {
        reads.withLock { $0 += 1 }
        await withCheckedContinuation { continuation in
            let answered = waiting.withLock { waiting in
                waiting?.append(continuation)
                return waiting == nil
            }
            if answered { continuation.resume() }
        }
        return try await store.read(scope, body)
    }

    func transaction<Result: Sendable>(_ scope: DataScope, _ body: @Sendable (any SQLTransaction) async throws -> Result) async throws -> Result {
        try await store.transaction(scope, body)
    }

    func snapshot<Result: Sendable>(_ scope: DataScope, _ body: @Sendable (any SQLTransaction) async throws -> Result) async throws -> Result {
        try await store.snapshot(scope, body)
    }

    func close() async throws { try await store.close() }
}
