import Foundation
import RPCRuntime
import ServiceProAPI
import Synchronization

/// The API keys this replica has authenticated, so that a call with a known key does not read
/// `api_keys` again.
///
/// Revocation still takes effect on the next call:
/// - A change made through this replica (revoking a key, deleting a tenant, purging its data)
///   forgets the keys it touched as soon as its transaction has committed.
/// - On PostgreSQL, a trigger announces every change to what authentication reads of a key
///   (its tenant, role, secret, revocation) and every deletion, whoever makes it, and
///   ``ApiKeyChangeFeed`` forgets the changed keys as the announcement arrives, milliseconds
///   later. Caching is on only while that feed listens: announcements sent while it does not are
///   lost, so until it listens again every call reads the table.
/// - Whatever the feed misses (a connection that died without saying so, a change made to a
///   SQLite file by hand), no key is served from the cache for longer than ``maxAge``.
///
/// A lookup that read a key before a change and finishes after it must not put the old row back.
/// Every forget advances a generation, and a row read is kept only if no forget happened since
/// the read began.
public final class ApiKeyCache: Sendable {
    struct Entry: Sendable {
        let principal: Principal
        let secretHash: Data
    }

    /// Taken before reading a key from the store, handed back with what was read.
    struct Ticket: Sendable {
        fileprivate let generation: UInt64
        fileprivate let takenAt = ContinuousClock.now
    }

    private struct Kept {
        let entry: Entry
        /// When the read began: the entry's age counts from there.
        let readAt: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Kept] = [:]
        var generation: UInt64 = 0
        var enabled: Bool
    }

    /// Beyond this many keys the cache starts over, which bounds its memory whatever callers send.
    static let capacity = 10_000

    /// How long a key read from the store is served from the cache, at most.
    let maxAge: Duration
    private let state: Mutex<State>

    /// `enabled` is for a store only this process writes (SQLite); on PostgreSQL the cache starts
    /// off and ``ApiKeyChangeFeed`` turns it on once it listens.
    public init(enabled: Bool, maxAge: Duration = .seconds(60)) {
        self.maxAge = maxAge
        state = Mutex(State(enabled: enabled))
    }

    func entry(keyID: String) -> Entry? {
        state.withLock { state in
            guard state.enabled, let kept = state.entries[keyID] else { return nil }
            return ContinuousClock.now - kept.readAt < maxAge ? kept.entry : nil
        }
    }

    /// Nil while caching is off: what is read then is not kept.
    func ticket() -> Ticket? {
        state.withLock { $0.enabled ? Ticket(generation: $0.generation) : nil }
    }

    func remember(_ entry: Entry, keyID: String, readWith ticket: Ticket?) {
        guard let ticket else { return }
        state.withLock { state in
            guard state.enabled, state.generation == ticket.generation else { return }
            if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[keyID] = Kept(entry: entry, readAt: ticket.takenAt)
        }
    }

    public func forget(keyID: String) {
        state.withLock { state in
            state.entries[keyID] = nil
            state.generation &+= 1
        }
    }

    /// Forgets keys revoked together.
    func forget(_ apiKeys: [ApiKey]) {
        for key in apiKeys {
            if let keyID = ResourceName.id(of: key.name, after: "apiKeys") { forget(keyID: keyID) }
        }
    }

    public func forget(tenantID: String) {
        state.withLock { state in
            state.entries = state.entries.filter { $0.value.entry.principal.tenantID != tenantID }
            state.generation &+= 1
        }
    }

    public func forgetAll() {
        state.withLock { state in
            state.entries.removeAll()
            state.generation &+= 1
        }
    }

    /// Empty and off, until ``enable()``: changes made elsewhere would go unnoticed meanwhile.
    func disable() {
        state.withLock { state in
            state.entries.removeAll()
            state.generation &+= 1
            state.enabled = false
        }
    }

    /// On again, from empty: whatever was announced while it was off is forgotten with the rest.
    func enable() {
        state.withLock { state in
            state.entries.removeAll()
            state.generation &+= 1
            state.enabled = true
        }
    }

    var isEnabled: Bool { state.withLock { $0.enabled } }

    /// How many keys are cached.
    var count: Int { state.withLock { $0.entries.count } }
}
