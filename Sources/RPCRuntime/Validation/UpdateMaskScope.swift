import SwiftProtobuf

extension FieldCheck {
    /// The violations of an update's resource, each kept only if the update changes its field:
    /// as AIP-134 has it, fields outside `update_mask` are ignored, so a resource read, edited in
    /// one field and sent back whole is not refused for another field it holds. The resource's
    /// `name` and `etag`, which say what is updated and guard the write whatever the mask, are
    /// always checked.
    ///
    /// `resourcePath` is the resource's path with its trailing dot (`customer.`); a mask path
    /// covers its field and everything below it (`contact` covers `contact.email`, `lines`
    /// covers `lines[2].description`).
    public static func withinMask(
        _ resourceViolations: [FieldViolation], _ mask: Google_Protobuf_FieldMask, resourcePath: String,
        _ violations: inout [FieldViolation]
    ) {
        for violation in resourceViolations {
            guard violation.field.hasPrefix(resourcePath) else {
                violations.append(violation)
                continue
            }
            let field = violation.field.dropFirst(resourcePath.count)
            let covered = field == "name" || field == "etag" || mask.paths.contains { path in
                field == path || field.hasPrefix(path + ".") || field.hasPrefix(path + "[")
            }
            if covered { violations.append(violation) }
        }
    }
}
