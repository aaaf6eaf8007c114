import Synchronization

/// Where to send callers when the platform cannot answer: the forward number the platform last
/// gave for the number they called, else the bridge's platform-wide fallback, else nowhere.
public final class VoiceFallback: Sendable {
    private let lastKnown: Mutex<[String: String]>
    private let platformWide: String?

    /// `lastKnown`: the forward numbers a bridge kept before it restarted, by called number.
    public init(platformWideNumber: String?, lastKnown: [String: String] = [:]) {
        self.platformWide = platformWideNumber.flatMap { $0.isEmpty ? nil : $0 }
        self.lastKnown = Mutex(lastKnown)
    }

    /// Remembers the forward number from a successful reply for calls to `calledNumber`; an
    /// empty one (the tenant removed its forward number) forgets it. True when that changed what
    /// it knew, for the caller to keep.
    @discardableResult
    public func remember(forwardNumber: String, for calledNumber: String) -> Bool {
        guard !calledNumber.isEmpty else { return false }
        let number = forwardNumber.isEmpty ? nil : forwardNumber
        return lastKnown.withLock { known in
            defer { known[calledNumber] = number }
            return known[calledNumber] != number
        }
    }

    public func forwardNumber(for calledNumber: String) -> String? {
        lastKnown.withLock { $0[calledNumber] } ?? platformWide
    }

    /// Whom to ring for a caller of `calledNumber` now: the forward number, unless that is the
    /// number a dial just rang without an answer (`dialed`), which would only ring it again.
    public func forwardNumber(for calledNumber: String, after dialed: String?) -> String? {
        forwardNumber(for: calledNumber).flatMap { $0 == dialed ? nil : $0 }
    }
}
