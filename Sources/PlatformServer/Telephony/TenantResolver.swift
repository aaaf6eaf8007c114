import Foundation
import RPCRuntime
import Synchronization
import ServiceProAPI

/// Which tenant an inbound text or call belongs to (product plan 4.1), for SMS and voice alike:
/// MessagingServiceSid → tenant, else the To number → phone config, else the root tenant.
///
/// Lookups are dictionary reads of an in-memory index. The index reloads when this replica
/// changes a phone config. Changes made elsewhere reach it through ``PhoneConfigChangeFeed`` on
/// PostgreSQL, milliseconds after they commit; while no feed is heard (SQLite, or the feed's
/// connection is down) the index is reloaded at most `maxAge` after it was read. While one is,
/// the index is still reloaded after `followedMaxAge`, in case the feed's connection died
/// without anyone noticing.
///
/// One load at a time: callers that find the index stale wait for the load in flight instead of
/// each reading every config. A caller cancelled meanwhile still waits for that load to end.
public final class TenantResolver: Sendable {
    public struct Resolution: Sendable {
        public var tenantID: String
        /// The matched config; the root's main line for a fallback.
        public var phoneConfig: StoredPhoneConfig?
        public var method: ResolutionMethod

        public var ivrMode: IvrMode { phoneConfig?.config.ivrMode ?? .simple }
    }

    private struct Index: Sendable {
        var byMessagingService: [String: StoredPhoneConfig] = [:]
        var byNumber: [String: StoredPhoneConfig] = [:]
        var rootLine: StoredPhoneConfig?
        var loadedAt: ContinuousClock.Instant?
    }

    private struct Load {
        let generation: UInt64
        let task: Task<Index, any Error>
    }

    private struct State {
        var index = Index()
        /// Advanced by every invalidation and every change of `followingChanges`: a load that
        /// began before one is not kept, or it would put back the configs the change replaced.
        var generation: UInt64 = 0
        var load: Load?
        /// While a feed announces every change, the index is good until the next announcement.
        var followingChanges = false

        /// The next lookup loads, and a load already in flight is not kept.
        mutating func markStale() {
            index.loadedAt = nil
            generation &+= 1
        }
    }

    private let database: any Database
    private let maxAge: Duration
    private let followedMaxAge: Duration
    private let state = Mutex(State())

    public init(database: any Database, maxAge: Duration = .seconds(5), followedMaxAge: Duration = .seconds(60)) {
        self.database = database
        self.maxAge = maxAge
        self.followedMaxAge = followedMaxAge
    }

    public func resolve(messagingServiceSID: String, to: String) async throws -> Resolution {
        let index = try await current()
        let sid = FieldCheck.trimmed(messagingServiceSID)
        let numbered = index.byNumber[FieldCheck.trimmed(to)]
        if !sid.isEmpty, let config = index.byMessagingService[sid] {
            // The service decides the tenant. A service's sender pool holds several numbers, so
            // the line is the one texted when it is the same tenant's: its own auto-reply and log.
            let line = numbered.flatMap { $0.tenantID == config.tenantID ? $0 : nil } ?? config
            return Resolution(tenantID: config.tenantID, phoneConfig: line, method: .messagingServiceSid)
        }
        if let config = numbered {
            return Resolution(tenantID: config.tenantID, phoneConfig: config, method: .toNumber)
        }
        return Resolution(tenantID: TenantRecords.rootID, phoneConfig: index.rootLine, method: .fallbackRoot)
    }

    /// The platform's lines as the index has them now, to ask inside a transaction. Taken before
    /// the transaction opens: a reload inside one would wait for the store's writer that the
    /// transaction holds (SQLite), or for a connection of the pool it helps to exhaust.
    public func lines() async throws -> PlatformLines {
        PlatformLines(byNumber: try await current().byNumber)
    }

    /// The numbers the platform's lines answer, at one moment.
    public struct PlatformLines: Sendable {
        fileprivate let byNumber: [String: StoredPhoneConfig]

        /// Whether one of the lines has `number`: a text from it is the platform's own, and one
        /// sent to it would come back in as a new text.
        public func answers(_ number: String) -> Bool {
            byNumber[FieldCheck.trimmed(number)] != nil
        }
    }

    /// Reloads on the next lookup: called after a phone config changed, here or anywhere.
    public func invalidate() {
        state.withLock { $0.markStale() }
    }

    /// Whether a feed now announces every change. When that changes the index is reloaded:
    /// changes made while no one listened were not announced.
    public func followChanges(_ following: Bool) {
        state.withLock { state in
            guard state.followingChanges != following else { return }
            state.followingChanges = following
            state.markStale()
        }
    }

    /// Whether a feed is heard, so that changes elsewhere reach this index at once.
    public var isFollowingChanges: Bool { state.withLock(\.followingChanges) }

    private enum Lookup {
        case ready(Index)
        case loading(Load)
    }

    private func current() async throws -> Index {
        let lookup = state.withLock { state -> Lookup in
            if let loadedAt = state.index.loadedAt, ContinuousClock.now - loadedAt < (state.followingChanges ? followedMaxAge : maxAge) {
                return .ready(state.index)
            }
            if let load = state.load, load.generation == state.generation { return .loading(load) }
            let generation = state.generation
            let load = Load(generation: generation, task: Task { try await self.load(generation: generation) })
            state.load = load
            return .loading(load)
        }
        switch lookup {
        case .ready(let index): return index
        case .loading(let load): return try await load.task.value
        }
    }

    /// Reads every config into a new index, which replaces the current one unless a change came
    /// in meanwhile (callers still get it: they asked before the change).
    private func load(generation: UInt64) async throws -> Index {
        do {
            let fresh = try await readIndex()
            finishLoad(generation, keeping: fresh)
            return fresh
        } catch {
            finishLoad(generation, keeping: nil)
            throw error
        }
    }

    private func finishLoad(_ generation: UInt64, keeping fresh: Index?) {
        state.withLock { state in
            if let fresh, state.generation == generation { state.index = fresh }
            // One load per generation at a time, so the one in flight is this one.
            if state.load?.generation == generation { state.load = nil }
        }
    }

    private func readIndex() async throws -> Index {
        let loadedAt = ContinuousClock.now
        // A read, beside the writers: a resolution never waits for a write in progress.
        let configs = try await database.read(.platform) { tx in try await PhoneConfigRecords.all(tx) }
        var index = Index(loadedAt: loadedAt)
        for config in configs {
            if !config.config.messagingServiceSid.isEmpty { index.byMessagingService[config.config.messagingServiceSid] = config }
            if !config.config.phoneNumber.isEmpty { index.byNumber[config.config.phoneNumber] = config }
            if config.tenantID == TenantRecords.rootID, config.id == PhoneConfigRecords.rootLineID || index.rootLine == nil {
                index.rootLine = config
            }
        }
        return index
    }
}
