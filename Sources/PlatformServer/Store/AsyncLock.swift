import Synchronization

/// A FIFO lock for async code, held by one exclusive holder or by any number of shared ones;
/// waiters suspend instead of blocking a thread. A request never passes an earlier waiter, so a
/// stream of shared holders cannot starve an exclusive one.
final class AsyncLock: Sendable {
    enum Mode: Sendable {
        case exclusive
        case shared
    }

    private struct State {
        var exclusive = false
        var shared = 0
        var waiters: [(mode: Mode, continuation: CheckedContinuation<Void, Never>)] = []

        func admits(_ mode: Mode) -> Bool {
            switch mode {
            case .exclusive: !exclusive && shared == 0
            case .shared: !exclusive
            }
        }

        mutating func enter(_ mode: Mode) {
            switch mode {
            case .exclusive: exclusive = true
            case .shared: shared += 1
            }
        }
    }

    private let state = Mutex(State())

    /// How many requests wait; for tests and diagnostics.
    var waiting: Int { state.withLock { $0.waiters.count } }

    func withLock<Result: Sendable>(_ mode: Mode = .exclusive, _ body: () async throws -> Result) async throws -> Result {
        await acquire(mode)
        defer { release(mode) }
        return try await body()
    }

    private func acquire(_ mode: Mode) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                guard state.waiters.isEmpty, state.admits(mode) else {
                    state.waiters.append((mode, continuation))
                    return false
                }
                state.enter(mode)
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    private func release(_ mode: Mode) {
        let admitted = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            switch mode {
            case .exclusive: state.exclusive = false
            case .shared: state.shared -= 1
            }
            var admitted: [CheckedContinuation<Void, Never>] = []
            while let next = state.waiters.first, state.admits(next.mode) {
                state.enter(next.mode)
                admitted.append(state.waiters.removeFirst().continuation)
            }
            return admitted
        }
        for continuation in admitted { continuation.resume() }
    }
}
