/// The order of a listing: its sort columns, most significant first, then the id column to break
/// ties, and how a page token resumes it after the last row served (keyset paging, so pages stay
/// stable while rows are added).
struct ListOrder: Sendable {
    enum Direction: Sendable {
        /// A time column, latest first.
        case newestFirst
        /// A time column, earliest first.
        case oldestFirst
        /// A text column, ascending.
        case alphabetical
        /// A text column that may be NULL, ascending, NULL first as if empty: the two stores would
        /// otherwise put NULLs at opposite ends.
        case alphabeticalUnsetFirst
    }

    /// One sort column.
    struct Key: Sendable {
        let column: String
        let direction: Direction
    }

    let keys: [Key]
    /// Ascending after the keys; unique among the rows listed, so every row has a position of its own.
    let idColumn: String

    init(keys: [Key], idColumn: String) {
        self.keys = keys
        self.idColumn = idColumn
    }

    init(column: String, direction: Direction, idColumn: String) {
        self.init(keys: [Key(column: column, direction: direction)], idColumn: idColumn)
    }

    var orderBy: String {
        (keys.map { "\($0.sql) \($0.direction == .newestFirst ? "DESC" : "ASC")" } + ["\(idColumn) ASC"])
            .joined(separator: ", ")
    }

    /// Rows strictly after `position` (a row's, as ``position(of:)`` gives it) in this order.
    func condition(after position: [String]) throws -> SQLStatement {
        guard position.count == keys.count + 1, let id = position.last else { throw PageCursor.invalid }
        var condition: SQLStatement = "\(raw: idColumn) > \(id)"
        for (key, text) in zip(keys, position).reversed() {
            let value = try key.value(text)
            let beyond = key.direction == .newestFirst ? "<" : ">"
            condition = "(\(raw: key.sql) \(raw: beyond) \(value) OR (\(raw: key.sql) = \(value) AND \(condition)))"
        }
        // The same rows, with the first key also bounded on its own: neither store turns the ORs
        // above into an index range, so without it each page scanned the index from the start
        // of the list, and paging through a long log cost the square of its length.
        guard let first = keys.first else { return condition }
        let within = first.direction == .newestFirst ? "<=" : ">="
        return "\(raw: first.sql) \(raw: within) \(try first.value(position[0])) AND \(condition)"
    }

    /// The position of `row`, the last one of a page: its value of each key, then its id.
    func position(of row: SQLRow) throws -> [String] {
        try keys.map { try $0.text(in: row) } + [row.string(idColumn)]
    }

    /// One page of the rows of `table` that `tx` reaches matching every condition, in this order.
    /// A tenant-scoped transaction reaches its tenant's rows, a platform-scoped one every tenant's,
    /// as for any tenant-owned table. `table` may also be a subquery with an alias, for a listing
    /// that shows more than one table's columns.
    func page<Item: Sendable>(
        of table: String,
        where conditions: [SQLStatement],
        _ request: PageRequest,
        _ tx: any SQLTransaction,
        item: (SQLRow) throws -> Item
    ) async throws -> ListPage<Item> {
        var conditions = conditions
        if case .tenant(let tenantID) = tx.scope { conditions.insert("tenant_id = \(tenantID)", at: 0) }
        if let cursor = request.cursor { conditions.append(try condition(after: cursor.position)) }
        var statement: SQLStatement = "SELECT * FROM \(raw: table)"
        if !conditions.isEmpty {
            statement = statement + " WHERE " + SQLStatement.joined(conditions.map { SQLStatement("(\($0))") }, separator: " AND ")
        }
        // One row more than the page, to know whether another page follows.
        let limit = request.size + 1
        let rows = try await tx.query(statement + SQLStatement(sql: " ORDER BY \(orderBy)") + " LIMIT \(limit)")
        let served = rows.prefix(request.size)
        var next = ""
        if rows.count > request.size, let last = served.last {
            next = PageCursor(position: try position(of: last), filter: request.fingerprint).encoded()
        }
        return ListPage(items: try served.map(item), nextPageToken: next)
    }
}

extension ListOrder.Key {
    /// What the order compares.
    var sql: String {
        direction == .alphabeticalUnsetFirst ? "COALESCE(\(column), '')" : column
    }

    /// The row's value of this key, as a page token carries it: times as microseconds.
    func text(in row: SQLRow) throws -> String {
        switch direction {
        case .newestFirst, .oldestFirst: return String(try row.int(column))
        case .alphabetical: return try row.string(column)
        case .alphabeticalUnsetFirst: return try row.optionalString(column) ?? ""
        }
    }

    /// A value a page token carries, bound as the key compares.
    func value(_ text: String) throws -> SQLValue {
        switch direction {
        case .newestFirst, .oldestFirst:
            guard let microseconds = Int64(text) else { throw PageCursor.invalid }
            return .integer(microseconds)
        case .alphabetical, .alphabeticalUnsetFirst:
            return .text(text)
        }
    }
}
