import Synchronization

/// Where to send callers when the platform cannot answer: the forward number the platform last
/// gave for the number they called; for a number the bridge has not heard of, the bridge's
/// platform-wide fallback; else nowhere (the caller leaves a voicemail). A line the platform said
/// forwards nowhere is not given the platform-wide number: that would put one business's callers
/// through to another.
public final class VoiceFallback: Sendable {
    private struct Memory {
        /// By called number; "" for a line the platform said has none.
        var lastKnown: [String: String]
        /// Called numbers whose forward number the spool's file does not hold yet.
        var unsaved: Set<String> = []
        /// When a reply last gave each called number's forward number: a list read before then
        /// is older news for that number.
        var heard: [String: ContinuousClock.Instant] = [:]
    }

    private let memory: Mutex<Memory>
    private let platformWide: String?

    /// `lastKnown`: the forward numbers a bridge kept before it restarted, by called number ("" for
    /// none).
    public init(platformWideNumber: String?, lastKnown: [String: String] = [:]) {
        self.platformWide = platformWideNumber.flatMap { $0.isEmpty ? nil : $0 }
        self.memory = Mutex(Memory(lastKnown: lastKnown))
    }

    /// Remembers the forward number from a successful reply for calls to `calledNumber`, an empty
    /// one (the line has none) too. True when the spool's file should be told: the number
    /// changed, or an earlier write of it did not land (`saved`).
    @discardableResult
    public func remember(forwardNumber: String, for calledNumber: String) -> Bool {
        guard !calledNumber.isEmpty else { return false }
        return memory.withLock { memory in
            memory.heard[calledNumber] = .now
            if memory.lastKnown[calledNumber] != forwardNumber {
                memory.lastKnown[calledNumber] = forwardNumber
                memory.unsaved.insert(calledNumber)
            }
            return memory.unsaved.contains(calledNumber)
        }
    }

    /// The spool's file now holds `forwardNumber` for `calledNumber` ("" for none). Unless that
    /// is still what is known (two replies' writes can land out of order), the next reply
    /// writes again.
    public func saved(forwardNumber: String, for calledNumber: String) {
        memory.withLock { memory in
            if memory.lastKnown[calledNumber] == forwardNumber {
                memory.unsaved.remove(calledNumber)
            } else {
                memory.unsaved.insert(calledNumber)
            }
        }
    }

    /// Takes the platform's list of every line's forward number (`ListFallbackRoutes`), read from
    /// `readStart` on, in place of what was known: a line changed, moved to another tenant or
    /// removed since its last call is then rung as it is now. A number a reply gave after the
    /// read began keeps that reply's answer, the newer one. Returns what is known now, for the
    /// spool's file; until `saved(_:)` says the file holds it, every number counts as unsaved.
    public func adopt(_ forwardNumbers: [String: String], readSince readStart: ContinuousClock.Instant) -> [String: String] {
        memory.withLock { memory in
            var known = forwardNumbers
            for (number, heard) in memory.heard where heard >= readStart {
                known[number] = memory.lastKnown[number]
            }
            memory.lastKnown = known
            memory.heard = memory.heard.filter { $0.value >= readStart }
            memory.unsaved = Set(known.keys)
            return known
        }
    }

    /// The spool's file now holds `forwardNumbers`, all of them: the numbers still known so
    /// are saved.
    public func saved(_ forwardNumbers: [String: String]) {
        memory.withLock { memory in
            memory.unsaved = memory.unsaved.filter { memory.lastKnown[$0] != forwardNumbers[$0] }
        }
    }

    public func forwardNumber(for calledNumber: String) -> String? {
        guard let known = memory.withLock({ $0.lastKnown[calledNumber] }) else { return platformWide }
        return known.isEmpty ? nil : known
    }

    /// Whom to ring for a caller of `calledNumber` now: the forward number, unless that is the
    /// number a dial just rang without an answer (`dialed`), which would only ring it again.
    public func forwardNumber(for calledNumber: String, after dialed: String?) -> String? {
        forwardNumber(for: calledNumber).flatMap { $0 == dialed ? nil : $0 }
    }
}
