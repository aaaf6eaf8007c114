import Crypto
import Foundation
import RPCRuntime
import SwiftProtobuf

/// An opaque `page_token`: the position of the last row served in its listing's order (its value
/// of each sort column, the id last; see ``ListOrder``), plus a fingerprint of the listing and its
/// filters so a token cannot be replayed against a different query.
struct PageCursor: Codable, Equatable {
    var position: [String]
    var filter: String

    static let defaultPageSize = 50
    static let maxPageSize = 1000

    /// A short digest of a listing's filters: the request with its paging fields cleared.
    static func fingerprint(of unpagedRequest: some SwiftProtobuf.Message) throws -> String {
        let bytes: [UInt8] = try unpagedRequest.serializedBytes()
        return SHA256.hash(data: bytes).prefix(8).hex
    }

    /// Rows a page serves: the default for 0, at most the maximum. A listing fetches one more, to
    /// know whether another page follows.
    static func pageSize(_ requested: Int32) throws -> Int {
        guard requested >= 0 else { throw ServiceError.invalidArgument(field: "page_size", "must not be negative") }
        return requested == 0 ? defaultPageSize : min(Int(requested), maxPageSize)
    }

    static func decode(_ token: String, filter: String) throws -> PageCursor? {
        guard !token.isEmpty else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
              let cursor = try? JSONDecoder().decode(PageCursor.self, from: data),
              cursor.filter == filter,
              // A crafted one could carry what no store keeps, and PostgreSQL refuses to compare.
              !cursor.position.contains(where: { $0.utf8.contains(0) })
        else { throw invalid }
        return cursor
    }

    /// A token that does not belong to the listing it came with.
    static var invalid: ServiceError {
        ServiceError.invalidArgument(field: "page_token", "is not a token from this listing with these filters")
    }

    func encoded() -> String {
        let data = (try? JSONEncoder().encode(self)) ?? Data()
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
