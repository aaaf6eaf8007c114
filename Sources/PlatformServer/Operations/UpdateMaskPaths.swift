import RPCRuntime
import SwiftProtobuf

/// The paths of an update's `update_mask`, each one of the fields the resource lets an update
/// change; anything else is INVALID_ARGUMENT naming `update_mask`.
struct UpdateMaskPaths: Sendable {
    let paths: Set<String>

    init(_ mask: Google_Protobuf_FieldMask, updatable: Set<String>) throws {
        guard !mask.paths.isEmpty else {
            throw ServiceError.invalidArgument(field: "update_mask", "must name at least one field")
        }
        for path in mask.paths where !updatable.contains(path) {
            throw ServiceError.invalidArgument(
                field: "update_mask", "\"\(path)\" is not an updatable field; use one of \(updatable.sorted().joined(separator: ", "))")
        }
        paths = Set(mask.paths)
    }

    func contains(_ path: String) -> Bool { paths.contains(path) }

    /// For the update's audit event.
    var auditDetails: [String: String] { ["update_mask": paths.sorted().joined(separator: ",")] }
}

extension Etag {
    /// ABORTED when the caller sent an etag and it is not `current`'s: the resource changed since
    /// the caller read it. An empty etag skips the check.
    static func requireCurrent(_ sent: String, current: String, of name: String) throws {
        guard sent.isEmpty || sent == current else {
            // Etags are quoted, as in HTTP; one sent without its quotes matches none.
            let unquoted = sent.hasPrefix("\"") ? "" : " (an etag is sent as read, quotes included, e.g. \(current))"
            throw ServiceError.aborted(message: "\(name) changed since it was read (etag \(current)); get it again and retry\(unquoted)")
        }
    }
}
