import Foundation
import RPCRuntime
import Synchronization
import ServiceProAPI

/// Which tenant an inbound text or call belongs to (product plan 4.1), for SMS and voice alike:
/// MessagingServiceSid → tenant, else the To number → phone config, else the root tenant.
///
/// Lookups are dictionary reads of an in-memory index. The index reloads when this replica
/// changes a phone config, and at most `maxAge` after another replica did.
public final class TenantResolver: Sendable {
    public struct Resolution: Sendable {
        public var tenantID: String
        /// The matched config; the root's main line for a fallback.
        public var phoneConfig: StoredPhoneConfig?
        public var method: ResolutionMethod

        public var ivrMode: IvrMode { phoneConfig?.config.ivrMode ?? .simple }
    }

    private struct Index {
        var byMessagingService: [String: StoredPhoneConfig] = [:]
        var byNumber: [String: StoredPhoneConfig] = [:]
        var rootLine: StoredPhoneConfig?
        var loadedAt: ContinuousClock.Instant?
    }

    private struct State {
        var index = Index()
        /// Advanced by every invalidation: a load that began before one is not kept, or it would
        /// put back the configs the change replaced.
        var generation: UInt64 = 0
    }

    private let database: any Database
    private let maxAge: Duration
    private let state = Mutex(State())

    public init(database: any Database, maxAge: Duration = .seconds(5)) {
        self.database = database
        self.maxAge = maxAge
    }

    public func resolve(messagingServiceSID: String, to: String) async throws -> Resolution {
        let index = try await current()
        let sid = FieldCheck.trimmed(messagingServiceSID)
        if !sid.isEmpty, let config = index.byMessagingService[sid] {
            return Resolution(tenantID: config.tenantID, phoneConfig: config, method: .messagingServiceSid)
        }
        if let config = index.byNumber[FieldCheck.trimmed(to)] {
            return Resolution(tenantID: config.tenantID, phoneConfig: config, method: .toNumber)
        }
        return Resolution(tenantID: TenantRecords.rootID, phoneConfig: index.rootLine, method: .fallbackRoot)
    }

    /// Reloads now: called after this replica changes a phone config.
    public func invalidate() async {
        state.withLock { state in
            state.index.loadedAt = nil
            state.generation &+= 1
        }
    }

    private func current() async throws -> Index {
        let (snapshot, generation) = state.withLock { ($0.index, $0.generation) }
        if let loadedAt = snapshot.loadedAt, ContinuousClock.now - loadedAt < maxAge { return snapshot }
        let configs = try await database.transaction(.platform) { tx in try await PhoneConfigRecords.all(tx) }
        var fresh = Index(loadedAt: .now)
        for config in configs {
            if !config.config.messagingServiceSid.isEmpty { fresh.byMessagingService[config.config.messagingServiceSid] = config }
            if !config.config.phoneNumber.isEmpty { fresh.byNumber[config.config.phoneNumber] = config }
            if config.tenantID == TenantRecords.rootID, config.id == PhoneConfigRecords.rootLineID || fresh.rootLine == nil {
                fresh.rootLine = config
            }
        }
        state.withLock { state in
            if state.generation == generation { state.index = fresh }
        }
        return fresh
    }
}
