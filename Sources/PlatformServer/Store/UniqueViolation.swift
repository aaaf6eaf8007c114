import PostgresNIO
import SQLiteNIO

/// A write refused because it would duplicate a unique key, recognised from either backend's
/// error, so a handler can turn a race its own check lost into ALREADY_EXISTS:
/// ```swift
/// } catch let error where UniqueViolation(error)?.isOn(index: "phone_configs_by_number", columns: ["phone_number"]) == true {
/// ```
struct UniqueViolation: Sendable, Hashable {
    /// The unique index or constraint, as PostgreSQL names it.
    var index: String?
    /// The key's columns, as SQLite lists them.
    var columns: [String]

    init?(_ error: any Error) {
        if let error = error as? PSQLError {
            // 23505 unique_violation. The detail naming the key is withheld under row-level
            // security, so the constraint name is what identifies it.
            guard error.code == .server, error.serverInfo?[.sqlState] == "23505" else { return nil }
            index = error.serverInfo?[.constraintName]
            columns = []
        } else if let error = error as? SQLiteError {
            // "UNIQUE constraint failed: phone_configs.phone_number"
            let prefix = "UNIQUE constraint failed: "
            guard error.message.hasPrefix(prefix) else { return nil }
            index = nil
            columns = error.message.dropFirst(prefix.count).split(separator: ",").map {
                String($0.trimmingCharacters(in: .whitespaces).split(separator: ".").last ?? "")
            }
        } else {
            return nil
        }
    }

    /// Whether the violated key is this one, named either way.
    func isOn(index: String, columns: [String]) -> Bool {
        self.index == index || self.columns == columns
    }
}
