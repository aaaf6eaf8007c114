import ServiceProAPI
import SwiftProtobuf

/// The fields an UpdateCustomer may change.
struct CustomerUpdateMask: Sendable {
    static let fields: Set<String> = ["display_name", "phone_number", "email", "notes", "external_id"]

    let paths: UpdateMaskPaths

    init(_ mask: Google_Protobuf_FieldMask) throws {
        paths = try UpdateMaskPaths(mask, updatable: Self.fields)
    }

    func contains(_ path: String) -> Bool { paths.contains(path) }

    func apply(from source: Customer, to target: inout Customer) {
        for path in paths.paths {
            switch path {
            case "display_name": target.displayName = source.displayName
            case "phone_number": target.phoneNumber = source.phoneNumber
            case "email": target.email = source.email
            case "notes": target.notes = source.notes
            case "external_id": target.externalID = source.externalID
            default: break
            }
        }
    }
}
