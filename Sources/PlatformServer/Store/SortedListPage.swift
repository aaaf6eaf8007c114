/// A page of a listing sorted in memory whose items change while it is paged (a tenant's
/// catalog, edited as it is read): the token is the position of the last item served, as
/// ``ListOrder``'s are, so an item deleted between pages stops nothing, and none is served twice.
/// Unlike ``FixedListPage``, whose token names the next item and is refused once that is gone.
///
/// ```swift
/// let page = try SortedListPage(of: items, at: { [$0.rank, $0.key] }, request)
/// ```
enum SortedListPage {
    /// `position` gives each item its place in `all`'s order, compared element by element as
    /// strings: numbers in it must be padded to one width (``padded(_:)``).
    static func of<Item: Sendable>(
        _ all: [Item], at position: (Item) -> [String], _ request: some PagedListRequest
    ) throws -> ListPage<Item> {
        let page = try PageRequest(request)
        let sorted = all.map { (position: position($0), item: $0) }.sorted { $0.position.lexicographicallyPrecedes($1.position) }
        let after = page.cursor.map { cursor in sorted.drop { !cursor.position.lexicographicallyPrecedes($0.position) } } ?? sorted[...]
        let served = after.prefix(page.size)
        let next = served.count < after.count ? served.last.map { PageCursor(position: $0.position, filter: page.fingerprint).encoded() } : nil
        return ListPage(items: served.map(\.item), nextPageToken: next ?? "")
    }

    /// `number` as a position element that sorts as numbers do: non-negative, twenty digits.
    static func padded(_ number: Int64) -> String {
        let digits = String(max(number, 0))
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}
