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
