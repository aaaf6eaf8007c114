@testable import PlatformServer
import Synchronization
import Testing

/// Natural batching: what arrives while a batch is written goes in the next one, each caller
/// gets its own result, and a bad item fails only its caller.
@Suite("Write batcher")
struct WriteBatcherTests {
    /// A write that records each batch and, while `gate` is shut, waits before writing.
    final class Writes: Sendable {
        let batches = Mutex<[[Int]]>([])
        let gate = Gate()
        let failing: Set<Int>

        init(failing: Set<Int> = []) { self.failing = failing }

        func write(_ items: [Int]) async throws -> [Int] {
            batches.withLock { $0.append(items) }
            await gate.passed()
            if let bad = items.first(where: failing.contains) { throw BadItem(item: bad) }
            return items.map { $0 * 10 }
        }

        var recorded: [[Int]] { batches.withLock { $0 } }
    }

    actor Gate {
        private var isOpen = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func passed() async {
            if isOpen { return }
            await withCheckedContinuation { waiters.append($0) }
        }

        func open() {
            isOpen = true
            waiters.forEach { $0.resume() }
            waiters = []
        }
    }

    struct BadItem: Error, Equatable { let item: Int }

    /// Submits 0 and, while its write waits at the gate, `queued`; opens the gate once all of
    /// `queued` wait, and returns each item's result.
    static func run(_ writes: Writes, maximumBatch: Int = 100, queued: [Int]) async throws -> [Int: Result<Int, BadItem>] {
        let batcher = WriteBatcher<String, Int, Int>(maximumBatch: maximumBatch) { _, items in try await writes.write(items) }
        return await withTaskGroup(of: (Int, Result<Int, BadItem>).self) { group in
            for item in [0] + queued {
                group.addTask {
                    do { return (item, .success(try await batcher.submit(item, for: "acme"))) }
                    catch { return (item, .failure(error as! BadItem)) }
                }
                if item == 0 {
                    while writes.recorded.isEmpty { await Task.yield() }
                }
            }
            while await batcher.waitingCount(for: "acme") < queued.count { await Task.yield() }
            await writes.gate.open()
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
    }

    @Test("an item alone is written at once; those that arrive meanwhile go together in the next batch")
    func coalesces() async throws {
        let writes = Writes()
        let results = try await Self.run(writes, queued: Array(1...6))
        #expect(writes.recorded.count == 2)
        #expect(writes.recorded.first == [0])
        #expect(writes.recorded.last?.sorted() == Array(1...6))
        #expect(results.mapValues { try? $0.get() } == Dictionary(uniqueKeysWithValues: (0...6).map { ($0, $0 * 10) }))
    }

    @Test("a batch holds at most the maximum, in the order items arrived")
    func boundedBatches() async throws {
        let writes = Writes()
        let results = try await Self.run(writes, maximumBatch: 2, queued: Array(1...5))
        #expect(writes.recorded.map(\.count) == [1, 2, 2, 1])
        #expect(writes.recorded.dropFirst().flatMap { $0 }.sorted() == Array(1...5))
        #expect(results.count == 6)
        #expect(results.values.allSatisfy { (try? $0.get()) != nil })
    }

    @Test("a failed batch is written again an item at a time: a bad item fails only its own caller")
    func badItemFailsAlone() async throws {
        let writes = Writes(failing: [3])
        let results = try await Self.run(writes, queued: [1, 2, 3, 4])
        #expect(results[3] == .failure(BadItem(item: 3)))
        for item in [0, 1, 2, 4] {
            #expect(results[item] == .success(item * 10))
        }
        #expect(writes.recorded.count == 2 + 4, "the batch of four, then each of them alone")
        #expect(writes.recorded.suffix(4).allSatisfy { $0.count == 1 })
    }

    @Test("keys are batched apart: one key's write in progress does not hold another's")
    func keysIndependent() async throws {
        let writes = Writes()
        let batcher = WriteBatcher<String, Int, Int>(maximumBatch: 100) { key, items in
            key == "slow" ? try await writes.write(items) : items.map { -$0 }
        }
        let slow = Task { try await batcher.submit(1, for: "slow") }
        while writes.recorded.isEmpty { await Task.yield() }
        #expect(try await batcher.submit(2, for: "fast") == -2)
        await writes.gate.open()
        #expect(try await slow.value == 10)
    }
}
