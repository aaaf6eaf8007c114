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
}
