#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One server per SQLite store: an exclusive `flock` on `<store>.lock`, held from open to close.
/// A second server on the same file would contend for SQLite's single writer, and this process
/// assumes it sees every change (the API-key cache does). The kernel drops the lock when the
/// process ends, so a crash leaves nothing stale behind.
final class StoreFileLock: Sendable {
    struct Held: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "another platform-server is using the store at \(path); stop it, or give this one another --home"
        }
    }

    struct CannotOpen: Error, CustomStringConvertible {
        let path: String
        let code: Int32
        var description: String { "cannot open \(path): \(String(cString: strerror(code))); check that --home is writable" }
    }

    private let descriptor: Int32

    init(claiming storePath: String) throws {
        let descriptor = open(storePath + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CannotOpen(path: storePath + ".lock", code: errno)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            _ = close(descriptor)
            throw Held(path: storePath)
        }
        self.descriptor = descriptor
    }

    /// Call once, when the store is closed. Unlocked before it is closed: a child process forked
    /// meanwhile (a test's spctl, say) holds a copy of the descriptor until it runs its program,
    /// and closing ours alone would leave the store locked until then.
    func release() {
        _ = flock(descriptor, LOCK_UN)
        _ = close(descriptor)
    }
}
