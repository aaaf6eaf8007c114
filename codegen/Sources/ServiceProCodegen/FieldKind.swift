import SwiftProtobufPluginLibrary

extension FieldDescriptor {
    /// An integer or floating-point field: what the range rules apply to, and what spctl's
    /// tables print as 0 when JSON leaves it out.
    var isNumber: Bool {
        switch type {
        case .int32, .int64, .uint32, .uint64, .sint32, .sint64, .fixed32, .fixed64, .sfixed32, .sfixed64, .float, .double:
            return true
        default:
            return false
        }
    }

    var isInteger: Bool { isNumber && ![.float, .double].contains(type) }

    var isDuration: Bool { type == .message && messageType.fullName == "google.protobuf.Duration" }
}
