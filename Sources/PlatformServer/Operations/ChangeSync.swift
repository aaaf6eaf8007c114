import Foundation

/// A partner's sync of one collection (`min_update_time`): the resources changed at or after
/// `since`, oldest change first, so a sync that stops part way resumes where it ended. The
/// partner passes the `update_time` of the last resource its previous sync received.
///
/// A change must not be skipped by committing after a sync that served a later one. So a sync
/// serves only the changes older than its *horizon*, a time before which nothing is still being
/// written; the rest are served by the next sync, whose `since` is still below them.
/// - SQLite: a listing's transaction holds the store's one writer, and every write to these
///   tables takes its `update_time` inside its own transaction. Each write is therefore stamped
///   after every write that committed before it: there is no horizon to keep.
/// - PostgreSQL: transactions commit in any order. A trigger lifts `update_time` to no earlier
///   than the start of the transaction that writes it, on the database's clock; the horizon is
///   the start of the oldest transaction still open on the database, read before the listing's
///   snapshot. A transaction that commits later stamps at or after that start. Transactions of
///   other roles show no start to the platform's role, so only the platform should write here.
struct ChangeSync: Sendable {
    let since: Date
    let collection: ResourceCollection

    var order: ListOrder {
        ListOrder(column: "update_time", direction: .oldestFirst, idColumn: collection.idColumn)
    }

    /// The listing's conditions: changed at or after `since`, and before the horizon.
    func conditions(_ tx: any SQLTransaction) async throws -> [SQLStatement] {
        var conditions: [SQLStatement] = ["update_time >= \(since)"]
        if tx.dialect == .postgres {
            // Our own transaction is open too, so there is always a row.
            let horizon = try await tx.first("""
                SELECT (EXTRACT(EPOCH FROM min(xact_start)) * 1000000)::bigint AS horizon
                FROM pg_stat_activity WHERE datname = current_database()
                """)?.int("horizon")
            if let horizon { conditions.append("update_time < \(horizon)") }
        }
        return conditions
    }

    /// The tables partners sync.
    static let tables = [CustomerRecords.collection, AppointmentRecords.collection, InvoiceRecords.collection].map(\.table)

    static let migration = Migration(
        version: 20,
        name: "update_time_not_before_transaction",
        statements: [],
        tenantOwnedTables: [],
        postgresStatements: [
            """
            CREATE FUNCTION update_time_not_before_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.update_time := GREATEST(NEW.update_time, (EXTRACT(EPOCH FROM transaction_timestamp()) * 1000000)::bigint);
                RETURN NEW;
            END $$
            """,
        ] + tables.map { table in
            """
            CREATE TRIGGER \(table)_update_time_not_before_transaction BEFORE INSERT OR UPDATE ON \(table)
            FOR EACH ROW EXECUTE FUNCTION update_time_not_before_transaction()
            """
        }
    )
}
