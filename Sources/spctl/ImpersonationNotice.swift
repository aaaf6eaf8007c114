import Foundation
import RPCRuntime
import Synchronization

/// What spctl tells the operator about a context's impersonation session, on stderr so that
/// output meant for pipes stays clean, and how it takes a session out of a context.
enum ImpersonationNotice {
    /// Printed before the calls a command makes with a session's token, so nobody forgets whose
    /// data they are changing.
    static func banner(_ impersonation: ClientContexts.Impersonation, now: Date = Date()) -> String {
        let minutes = max(1, Int((impersonation.expireTime.timeIntervalSince(now) / 60).rounded(.up)))
        return "viewing as \(impersonation.tenantDisplayName) — \(minutes) min left; spctl impersonate stop to exit"
    }

    private static let shown = Atomic(false)

    /// The banner on stderr, once per command however many calls it makes (`export start
    /// --wait` asks every half second).
    static func show(_ impersonation: ClientContexts.Impersonation) {
        guard !shown.exchange(true, ordering: .relaxed) else { return }
        StandardError.say(banner(impersonation))
    }

    /// Refuses to overwrite or remove context `name` while it holds a live session: the session
    /// would go on at the platform, for up to an hour, with its token thrown away.
    static func refuseWhileImpersonating(_ context: ClientContexts.Context?, name: String, before action: String, now: Date = Date()) throws {
        guard let session = context?.impersonation, session.expireTime > now else { return }
        throw CommandFailure(
            "context \"\(name)\" is impersonating \(session.tenantDisplayName) until \(clockTime(session.expireTime)); "
                + "end it with `spctl impersonate stop --context \(name)` before you \(action)")
    }

    /// Local time of day, e.g. `14:05`.
    static func clockTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm"
        return formatter.string(from: date)
    }

    /// Removes the session from the context, which goes back to its own credential.
    static func drop(context name: String, configPath: String) throws {
        var contexts = try ClientContexts.load(from: configPath)
        guard contexts.contexts[name]?.impersonation != nil else { return }
        contexts.contexts[name]?.impersonation = nil
        try contexts.save(to: configPath)
    }
}
