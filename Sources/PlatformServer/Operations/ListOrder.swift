import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// A List request: its page size and token, and the filters the token is bound to.
protocol PagedListRequest: SwiftProtobuf.Message {
    var pageSize: Int32 { get set }
    var pageToken: String { get set }
}

extension ListCustomersRequest: PagedListRequest {}
extension ListAppointmentsRequest: PagedListRequest {}
extension ListInvoicesRequest: PagedListRequest {}

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

/// The order of a listing: one column, then the id column to break ties, and how a page token
/// resumes it after the last row served (keyset paging, so pages stay stable while rows are added).
struct ListOrder: Sendable {
    enum Direction: Sendable {
        /// A time column, latest first.
        case newestFirst
        /// A time column, earliest first.
        case oldestFirst
        /// A text column, ascending.
        case alphabetical
    }

    let column: String
    let direction: Direction
    let idColumn: String

    /// With `min_update_time`, a partner syncs changes since its last sync: oldest change first,
    /// so a sync that stops part way resumes where it ended.
    static func oldestChangeFirst(_ collection: ResourceCollection) -> ListOrder {
        ListOrder(column: "update_time", direction: .oldestFirst, idColumn: collection.idColumn)
    }

    var orderBy: String {
        "\(column) \(direction == .newestFirst ? "DESC" : "ASC"), \(idColumn) ASC"
    }

    /// Rows strictly after `cursor` in this order.
    func condition(after cursor: PageCursor) throws -> SQLStatement {
        switch direction {
        case .newestFirst:
            return cursor.condition(timeColumn: column, idColumn: idColumn)
        case .oldestFirst:
            return "(\(raw: column) > \(cursor.time) OR (\(raw: column) = \(cursor.time) AND \(raw: idColumn) > \(cursor.id)))"
        case .alphabetical:
            // The cursor's id is `{id}/{text}`: ids never contain a slash; the text may.
            guard let slash = cursor.id.firstIndex(of: "/") else {
                throw ServiceError.invalidArgument(field: "page_token", "is not a token from this listing with these filters")
            }
            let id = String(cursor.id[..<slash])
            let text = String(cursor.id[cursor.id.index(after: slash)...])
            return "(\(raw: column) > \(text) OR (\(raw: column) = \(text) AND \(raw: idColumn) > \(id)))"
        }
    }

    /// The position of `row`, the last one of a page.
    func position(of row: SQLRow, filter: String) throws -> PageCursor {
        let id = try row.string(idColumn)
        switch direction {
        case .newestFirst, .oldestFirst:
            return PageCursor(time: try row.int(column), id: id, filter: filter)
        case .alphabetical:
            return PageCursor(time: 0, id: "\(id)/\(try row.string(column))", filter: filter)
        }
    }

    /// One page of the tenant's rows of `table` matching every condition, in this order.
    func page<Item: Sendable>(
        of table: String,
        where conditions: [SQLStatement],
        _ request: PageRequest,
        _ tx: TenantTransaction,
        item: (SQLRow) throws -> Item
    ) async throws -> ListPage<Item> {
        var conditions = conditions
        if let cursor = request.cursor { conditions.append(try condition(after: cursor)) }
        // One row more than the page, to know whether another page follows.
        let rows = try await tx.select(
            from: table,
            where: conditions.isEmpty ? nil : SQLStatement.joined(conditions, separator: " AND "),
            orderBy: orderBy,
            limit: request.size + 1)
        let served = rows.prefix(request.size)
        var next = ""
        if rows.count > request.size, let last = served.last {
            next = try position(of: last, filter: request.fingerprint).encoded()
        }
        return ListPage(items: try served.map(item), nextPageToken: next)
    }
}
