import Foundation
import SwiftProtobuf

extension Date {
    /// The time as the store gives it back: to the microsecond (see `Date.sqlValue`).
    var asStored: Date {
        guard case .integer(let microseconds) = sqlValue else { return self }
        return Date(microsecondsSince1970: microseconds)
    }
}

extension Google_Protobuf_Timestamp {
    /// The time as the store gives it back, so that a client sending back what it read, or a
    /// time to the nanosecond, compares equal to what is stored.
    var asStored: Google_Protobuf_Timestamp { Google_Protobuf_Timestamp(date: date.asStored) }
}
