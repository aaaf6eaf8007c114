import Foundation
import RPCRuntime

/// A partner's sync of one collection (`min_update_time`): the resources changed at or after
/// `since`, oldest change first, so a sync that stops part way resumes where it ended. The
/// partner passes the `update_time` of the last resource its previous sync received; that one
/// comes again, as the first of the next sync.
///
/// A change must not be skipped by committing after a sync that served a later one. So a sync
/// serves only the changes older than its *horizon*, a time before which nothing is still being
/// written; the rest are served by the next sync, whose `since` is still below them.
/// - SQLite: a listing's transaction holds the store's one writer, and every write to these
///   tables takes its `update_time` inside its own transaction. Each write is therefore stamped
///   after every write that committed before it: there is no horizon to keep.
/// - PostgreSQL: transactions commit in any order. A trigger stamps `update_time` no earlier
///   than the moment the row is written, on the database's clock (`clock_timestamp()`, read
///   after the writing statement shows as running). The horizon is read from
///   `pg_stat_activity` before the listing's own snapshot (each statement takes one: the store
///   runs at READ COMMITTED, and the horizon checks it): the start of the oldest transaction
///   that has written, or of the oldest statement running in one that has not. Whatever
///   commits later is stamped at or after it. A read-only transaction, such as an export's
///   snapshot, holds syncs back only while one of its statements runs; a writing transaction
///   holds them back until it ends. Only the platform's role and client sessions count:
///   PostgreSQL shows a role only its own sessions' times, so no other role should write these
///   tables.
/// Both stores take the wall clock to move forward; a clock stepped back can stamp a change
/// below one a partner has already received.
struct ChangeSync: Sendable {
    let since: Date
    let collection: ResourceCollection

    var order: ListOrder {
        ListOrder(column: "update_time", direction: .oldestFirst, idColumn: collection.idColumn)
    }

    /// The listing's conditions: changed at or after `since`, and on PostgreSQL before the horizon.
    func conditions(_ tx: any SQLTransaction) async throws -> [SQLStatement] {
        var conditions: [SQLStatement] = ["update_time >= \(since)"]
        if tx.dialect == .postgres {
            conditions.append("update_time < \(try await Self.horizon(tx))")
        }
        return conditions
    }

    /// The horizon, in microseconds since 1970 as `update_time` is stored. Our own statement is
    /// running, so only a server that hides all activity has none.
    private static func horizon(_ tx: any SQLTransaction) async throws -> Int64 {
        let row = try await tx.first("""
            SELECT (EXTRACT(EPOCH FROM min(CASE WHEN backend_xid IS NOT NULL THEN xact_start
                                                WHEN state = 'active' THEN query_start END)) * 1000000)::bigint AS horizon,
                   current_setting('transaction_isolation') AS isolation
            FROM pg_stat_activity
            WHERE datname = current_database() AND usename = current_user AND backend_type = 'client backend'
            """)
        guard let isolation = try row?.string("isolation"), isolation == "read committed" else {
            throw ServiceError.internal("a partner sync's horizon needs READ COMMITTED; this transaction runs at another level")
        }
        guard let horizon = try row?.optionalInt("horizon") else {
            throw ServiceError.internal("PostgreSQL shows no running statements (track_activities is off), so a partner sync cannot tell what is still being written; turn track_activities on")
        }
        return horizon
    }

    static let migration = Migration(
        version: 20,
        name: "update_time_not_before_write",
        statements: [],
        tenantOwnedTables: [],
        postgresStatements: [
            // Any change of a row is a change to sync, so every UPDATE restamps it.
            """
            CREATE FUNCTION update_time_not_before_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.update_time := GREATEST(NEW.update_time, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint);
                RETURN NEW;
            END $$
            """,
            """
            CREATE TRIGGER customers_update_time_not_before_write BEFORE INSERT OR UPDATE ON customers
            FOR EACH ROW EXECUTE FUNCTION update_time_not_before_write()
            """,
            """
            CREATE TRIGGER appointments_update_time_not_before_write BEFORE INSERT OR UPDATE ON appointments
            FOR EACH ROW EXECUTE FUNCTION update_time_not_before_write()
            """,
            """
            CREATE TRIGGER invoices_update_time_not_before_write BEFORE INSERT OR UPDATE ON invoices
            FOR EACH ROW EXECUTE FUNCTION update_time_not_before_write()
            """,
        ]
    )
}
