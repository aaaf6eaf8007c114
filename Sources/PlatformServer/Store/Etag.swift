import Foundation
import RPCRuntime

/// Etags are the row's revision, quoted as in HTTP. A caller that sends one back says "change it
/// only as I read it": a resource changed since is ABORTED (`etag_mismatch`), and so is a write
/// that lost a race for the row.
enum Etag {
    static func make(revision: Int64) -> String { "\"\(revision)\"" }

    static func revision(_ etag: String) -> Int64? {
        Int64(etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"W/")))
    }

    /// ABORTED when the caller sent an etag and it is not `current`: `name` changed since the
    /// caller read it. An empty etag skips the check.
    static func requireCurrent(_ sent: String, current: String, of name: String) throws {
        guard sent.isEmpty || sent == current else {
            // Etags are quoted, as in HTTP; one sent without its quotes matches none.
            let unquoted = sent.contains("\"") ? "" : " (an etag is sent as read, quotes included, e.g. \(current))"
            throw ServiceError.aborted(message: "\(name) changed since it was read (etag \(current)); get it again and retry\(unquoted)")
        }
    }

    /// The write of `name` found its row at another revision than it read: another writer got
    /// there first.
    static func concurrentChange(of name: String) -> ServiceError {
        ServiceError.aborted(message: "\(name) changed concurrently; get it again and retry")
    }
}
