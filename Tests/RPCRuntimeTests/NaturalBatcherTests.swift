@testable import RPCRuntime
import Synchronization
import Testing

/// Natural batching: what arrives while a batch is written goes in the next one, each caller
/// gets its own result, and a bad item fails only its caller.
@Suite("Natural batcher", .timeLimit(.minutes(1)))
struct NaturalBatcherTests {
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

    enum Outcome: Equatable {
        case stored(Int), failed(BadItem), other(String)

        init(_ body: () async throws -> Int) async {
            do { self = .stored(try await body()) }
            catch let error as BadItem { self = .failed(error) }
            catch { self = .other("\(error)") }
        }
    }

    static func batcher(_ writes: Writes, maximumBatch: Int = 100, maximumWaiting: Int = 1_000, blameItems: Bool = true) -> NaturalBatcher<String, Int, Int> {
        NaturalBatcher(maximumBatch: maximumBatch, maximumWaiting: maximumWaiting, mayBeOneItemsFault: { _ in blameItems }) { _, items in
            try await writes.write(items)
        }
    }

    /// Submits 0 and, while its write waits at the gate, each of `queued` in turn (each once the
    /// one before it waits, so they queue in this order); then opens the gate.
    static func run(_ writes: Writes, _ batcher: NaturalBatcher<String, Int, Int>, queued: [Int]) async -> [Int: Outcome] {
        await withTaskGroup(of: (Int, Outcome).self) { group in
            group.addTask { (0, await Outcome { try await batcher.submit(0, for: "acme") }) }
            while writes.recorded.isEmpty { await Task.yield() }
            for (index, item) in queued.enumerated() {
                group.addTask { (item, await Outcome { try await batcher.submit(item, for: "acme") }) }
                while await batcher.waitingCount(for: "acme") <= index { await Task.yield() }
            }
            await writes.gate.open()
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
    }

    @Test("a key's queue is bounded: past its limit an item is refused at once, other keys queue on, and a drained key takes items again")
    func backlogIsBounded() async throws {
        let writes = Writes()
        let batcher = Self.batcher(writes, maximumBatch: 2, maximumWaiting: 2)
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
            group.addTask { (0, await Outcome { try await batcher.submit(0, for: "acme") }) }
            while writes.recorded.isEmpty { await Task.yield() }
            for item in [1, 2] {
                group.addTask { (item, await Outcome { try await batcher.submit(item, for: "acme") }) }
                while await batcher.waitingCount(for: "acme") < item { await Task.yield() }
            }
            await #expect(throws: NaturalBatcherBacklog.self) { try await batcher.submit(3, for: "acme") }
            #expect(await batcher.waitingCount(for: "acme") == 2, "the refused item left no trace")
            group.addTask { (10, await Outcome { try await batcher.submit(10, for: "bravo") }) }
            while writes.recorded.count < 2 { await Task.yield() }
            await writes.gate.open()
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes == [0: .stored(0), 1: .stored(10), 2: .stored(20), 10: .stored(100)])
        #expect(try await batcher.submit(4, for: "acme") == 40)
    }

    @Test("an item alone is written at once; those that arrive meanwhile go together in the next batch")
    func coalesces() async {
        let writes = Writes()
        let results = await Self.run(writes, Self.batcher(writes), queued: Array(1...6))
        #expect(writes.recorded == [[0], [1, 2, 3, 4, 5, 6]])
        #expect(results == Dictionary(uniqueKeysWithValues: (0...6).map { ($0, .stored($0 * 10)) }))
    }

    @Test("a batch holds at most the maximum, in the order items arrived")
    func boundedBatches() async {
        let writes = Writes()
        let results = await Self.run(writes, Self.batcher(writes, maximumBatch: 2), queued: Array(1...5))
        #expect(writes.recorded == [[0], [1, 2], [3, 4], [5]])
        #expect(results == Dictionary(uniqueKeysWithValues: (0...5).map { ($0, .stored($0 * 10)) }))
    }

    @Test("a batch refused for what an item holds is written again an item at a time: the bad item fails only its own caller")
    func badItemFailsAlone() async {
        let writes = Writes(failing: [3])
        let results = await Self.run(writes, Self.batcher(writes), queued: [1, 2, 3, 4])
        #expect(results == [0: .stored(0), 1: .stored(10), 2: .stored(20), 3: .failed(BadItem(item: 3)), 4: .stored(40)])
        #expect(writes.recorded == [[0], [1, 2, 3, 4], [1], [2], [3], [4]])
    }

    @Test("a batch that fails for no item's fault (the connection, say) fails every caller at once, without a write each")
    func storeFailureFailsTheBatch() async {
        let writes = Writes(failing: [3])
        let results = await Self.run(writes, Self.batcher(writes, blameItems: false), queued: [1, 2, 3, 4])
        #expect(results == [0: .stored(0), 1: .failed(BadItem(item: 3)), 2: .failed(BadItem(item: 3)), 3: .failed(BadItem(item: 3)), 4: .failed(BadItem(item: 3))])
        #expect(writes.recorded == [[0], [1, 2, 3, 4]])
    }

    @Test("keys are batched apart: one key's write in progress does not hold another's")
    func keysIndependent() async throws {
        let writes = Writes()
        let batcher = NaturalBatcher<String, Int, Int>(maximumBatch: 100, maximumWaiting: 1_000, mayBeOneItemsFault: { _ in true }) { key, items in
            key == "slow" ? try await writes.write(items) : items.map { -$0 }
        }
        let slow = Task { try await batcher.submit(1, for: "slow") }
        while writes.recorded.isEmpty { await Task.yield() }
        #expect(try await batcher.submit(2, for: "fast") == -2)
        await writes.gate.open()
        #expect(try await slow.value == 10)
    }
}
