import SwiftProtobuf

/// A List request: its page size and token, and the filters the token is bound to. Each List
/// request type conforms beside its handler.
protocol PagedListRequest: SwiftProtobuf.Message {
    var pageSize: Int32 { get set }
    var pageToken: String { get set }
}

/// The page a List request asks for: how many rows, and after which one.
struct PageRequest: Sendable {
    let size: Int
    let cursor: PageCursor?
    /// Of the listing and its filters: a token only resumes the listing it came from.
    let fingerprint: String

    init<Request: PagedListRequest>(_ request: Request) throws {
        size = try PageCursor.pageSize(request.pageSize)
        var filters = request
        filters.pageSize = 0
        filters.pageToken = ""
        // The kind too: two listings' requests with the same filters serialize alike.
        let kind = Request.protoMessageName.split(separator: ".").last.map(String.init) ?? Request.protoMessageName
        let filtersDigest = try PageCursor.fingerprint(of: filters)
        fingerprint = "\(kind):\(filtersDigest)"
        cursor = try PageCursor.decode(request.pageToken, filter: fingerprint)
    }
}

/// One page of a listing.
struct ListPage<Item: Sendable>: Sendable {
    var items: [Item]
    /// Empty on the last page.
    var nextPageToken: String
}
