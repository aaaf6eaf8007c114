import PostgresNIO
import SQLiteNIO

/// The store refusing a statement for what it holds: a constraint, a value out of range or of
/// the wrong type, a row the tenant's policy does not allow. One row of a batch can cause it,
/// unlike a lost connection, a full disk or a server going read-only, which fail every row alike.
enum StatementRefusal {
    static func mayBeOneRowsFault(_ error: any Error) -> Bool {
        if let error = error as? PSQLError {
            // SQLSTATE classes 22 (data exception), 23 (integrity constraint violation) and 42
            // (which includes 42501, a row the row-level security policy refuses).
            guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
            return ["22", "23", "42"].contains(String(state.prefix(2)))
        }
        if let error = error as? SQLiteError {
            switch error.reason {
            case .constraint, .constraintCheckFailed, .constraintForeignKeyFailed, .constraintNotNullFailed,
                 .constraintPrimaryKeyFailed, .constraintTriggerFailed, .constraintUniqueFailed,
                 .constraintUniqueRowIDFailed, .constraintStrictDataTypeFailed, .mismatch, .tooBig, .range:
                return true
            default:
                return false
            }
        }
        return false
    }
}
