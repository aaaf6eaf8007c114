/// Natural batching (group commit) for the hottest work: the platform's inserts of inbound texts,
/// the bridge's calls that carry them. Items that arrive for a key while a batch for that key is
/// being written wait, and go together in the next batch. Under load, many items share one
/// statement and one commit, or one RPC. An item that arrives alone is written at once: no timer,
/// no added latency.
///
/// Each caller still waits for its own item to be written, and gets its own result or error.
/// Writes must be idempotent: a batch whose outcome is unknown (a lost reply) fails, and its
/// callers' retries write the items again.
public actor NaturalBatcher<Key: Hashable & Sendable, Item: Sendable, Output: Sendable> {
    /// Writes `items` together: one output per item, in their order.
    public typealias Write = @Sendable (Key, [Item]) async throws -> [Output]

    private struct Waiter {
        let item: Item
        let continuation: CheckedContinuation<Output, any Error>
    }

    private let maximumBatch: Int
    private let maximumWaiting: Int
    private let mayBeOneItemsFault: @Sendable (any Error) -> Bool
    private let write: Write
    private var waiting: [Key: [Waiter]] = [:]
    /// Keys whose batches are being written; at most one batch per key at a time.
    private var writing: Set<Key> = []

    /// - Parameters:
    ///   - maximumBatch: the most items one write gets (a statement's bind limit).
    ///   - maximumWaiting: the most items that may wait for one key. When the store falls that far
    ///     behind, more callers would only wait longer than anyone waits for them; `submit`
    ///     refuses them at once (``NaturalBatcherBacklog``). With the batch being written, a key
    ///     holds at most `maximumWaiting + maximumBatch` items.
    ///   - mayBeOneItemsFault: whether a failed batch's error may come from one of its items (the
    ///     store refused the statement, or the platform the request, for something in it). Then
    ///     each item is written again on its own, so a bad item fails only its caller. Any other
    ///     error (the connection, the pool) would fail each item alike, and fails them all at once.
    public init(maximumBatch: Int, maximumWaiting: Int, mayBeOneItemsFault: @escaping @Sendable (any Error) -> Bool, write: @escaping Write) {
        precondition(maximumBatch >= 1, "a batch holds at least one item")
        precondition(maximumWaiting >= maximumBatch, "a full batch can wait")
        self.maximumBatch = maximumBatch
        self.maximumWaiting = maximumWaiting
        self.mayBeOneItemsFault = mayBeOneItemsFault
        self.write = write
    }

    /// Writes `item` with whatever else arrives for `key` meanwhile, and returns its output.
    ///
    /// A caller cancelled meanwhile still waits for its item's batch. Withdrawing waiting items
    /// on cancellation (`withTaskCancellationHandler`) cost up to a sixth of the inbound texts'
    /// throughput on PostgreSQL (1–20% in 9 alternated pairs), and the store's own timeouts
    /// already end the wait.
    public func submit(_ item: Item, for key: Key) async throws -> Output {
        let queued = waitingCount(for: key)
        guard queued < maximumWaiting else { throw NaturalBatcherBacklog(waiting: queued) }
        return try await withCheckedThrowingContinuation { continuation in
            waiting[key, default: []].append(Waiter(item: item, continuation: continuation))
            if writing.insert(key).inserted {
                Task { await drain(key) }
            }
        }
    }

    /// How many items for `key` wait for the next batch.
    public func waitingCount(for key: Key) -> Int {
        waiting[key]?.count ?? 0
    }

    /// Writes the key's waiting items, a batch at a time, until none are left. The actor is free
    /// while a batch is written, so new arrivals join the queue for the next one.
    private func drain(_ key: Key) async {
        while let queued = waiting.removeValue(forKey: key) {
            if queued.count > maximumBatch {
                waiting[key] = Array(queued.dropFirst(maximumBatch))
            }
            await write(Array(queued.prefix(maximumBatch)), for: key)
        }
        writing.remove(key)
    }

    private func write(_ batch: [Waiter], for key: Key) async {
        do {
            let outputs = try await write(key, batch.map(\.item))
            guard outputs.count == batch.count else {
                throw NaturalBatcherError(message: "a batch write returned \(outputs.count) results for \(batch.count) items")
            }
            for (waiter, output) in zip(batch, outputs) {
                waiter.continuation.resume(returning: output)
            }
        } catch where batch.count > 1 && mayBeOneItemsFault(error) {
            for waiter in batch {
                await write([waiter], for: key)
            }
        } catch {
            for waiter in batch {
                waiter.continuation.resume(throwing: error)
            }
        }
    }
}

struct NaturalBatcherError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// `submit` refused an item: `waiting` items already wait for its key.
public struct NaturalBatcherBacklog: Error, CustomStringConvertible {
    public let waiting: Int
    public var description: String { "\(waiting) items are already waiting for their batch" }
}
