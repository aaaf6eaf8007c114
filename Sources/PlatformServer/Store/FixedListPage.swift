import RPCRuntime

/// A page of a list that is fixed while the server runs (plans, industry packs): its page token
/// is simply the name of the first item of the next page.
struct FixedListPage<Item> {
    let items: [Item]
    /// Empty on the last page.
    let nextPageToken: String

    init(of all: [Item], name: (Item) -> String, pageSize: Int32, pageToken: String) throws {
        let size = try PageCursor.pageSize(pageSize)
        var start = 0
        if !pageToken.isEmpty {
            guard let index = all.firstIndex(where: { name($0) == pageToken }) else {
                throw ServiceError.invalidArgument(field: "page_token", "is not a token this method returned")
            }
            start = index
        }
        let end = min(start + size, all.count)
        items = Array(all[start..<end])
        nextPageToken = end < all.count ? name(all[end]) : ""
    }
}
