import Foundation
import ServiceProAPI

/// How each exportable entity is read from the store and laid out in the archive: one CSV and one
/// JSON Lines file per entity, with the same columns in the same order. The column names are the
/// archive's schema (`ExportTable.schemaVersion`); change them only with a new version.
struct ExportTable: Sendable {
    /// 2: messages carry the `auto_reply` they were answered with, calls what the caller said
    /// to the AI receptionist (`caller_said`). 3: the catalog. 4: when an appointment was
    /// completed (`complete_time`). 5: whether it was brought in without a confirmation
    /// (`confirmation_skipped`).
    static let schemaVersion = 5

    enum Kind: Sendable {
        case text
        case integer
        /// Stored as microseconds since 1970; written as RFC 3339 UTC.
        case time
        /// Stored as JSON text; embedded as JSON in the JSON Lines file, as text in the CSV.
        case json
        /// Stored as a boolean (SQLite keeps 0 or 1); written as true or false.
        case boolean
    }

    struct Column: Sendable {
        var name: String
        var kind: Kind
    }

    let entity: ExportEntity
    /// The files' name: `<file>.csv`, `<file>.jsonl`.
    let file: String
    let table: String
    /// Unique within the tenant, together: rows are paged by them, in this order.
    let keyColumns: [String]
    let columns: [Column]

    init(entity: ExportEntity, file: String, table: String, idColumn: String, columns: [Column]) {
        self.init(entity: entity, file: file, table: table, keyColumns: [idColumn], columns: columns)
    }

    init(entity: ExportEntity, file: String, table: String, keyColumns: [String], columns: [Column]) {
        self.entity = entity
        self.file = file
        self.table = table
        self.keyColumns = keyColumns
        self.columns = columns
    }

    var columnList: String { columns.map(\.name).joined(separator: ", ") }

    static func of(_ entity: ExportEntity) -> ExportTable? { all.first { $0.entity == entity } }

    static let all: [ExportTable] = [
        ExportTable(entity: .customers, file: "customers", table: "customers", idColumn: "customer_id", columns: [
            .init(name: "customer_id", kind: .text), .init(name: "display_name", kind: .text), .init(name: "phone", kind: .text),
            .init(name: "email", kind: .text), .init(name: "notes", kind: .text), .init(name: "external_id", kind: .text),
            .init(name: "create_time", kind: .time), .init(name: "update_time", kind: .time),
        ]),
        ExportTable(entity: .appointments, file: "appointments", table: "appointments", idColumn: "appointment_id", columns: [
            .init(name: "appointment_id", kind: .text), .init(name: "customer_id", kind: .text), .init(name: "service_name", kind: .text),
            .init(name: "start_time", kind: .time), .init(name: "duration_seconds", kind: .integer), .init(name: "status", kind: .text),
            .init(name: "address", kind: .text), .init(name: "notes", kind: .text), .init(name: "external_id", kind: .text),
            .init(name: "complete_time", kind: .time), .init(name: "confirmation_skipped", kind: .boolean),
            .init(name: "create_time", kind: .time), .init(name: "update_time", kind: .time),
        ]),
        ExportTable(entity: .invoices, file: "invoices", table: "invoices", idColumn: "invoice_id", columns: [
            .init(name: "invoice_id", kind: .text), .init(name: "customer_id", kind: .text), .init(name: "appointment_id", kind: .text),
            .init(name: "invoice_number", kind: .text), .init(name: "lines", kind: .json), .init(name: "currency_code", kind: .text),
            .init(name: "subtotal_cents", kind: .integer), .init(name: "tax_cents", kind: .integer), .init(name: "total_cents", kind: .integer),
            .init(name: "status", kind: .text), .init(name: "issue_time", kind: .time), .init(name: "due_time", kind: .time),
            .init(name: "paid_time", kind: .time), .init(name: "notes", kind: .text), .init(name: "external_id", kind: .text),
            .init(name: "create_time", kind: .time), .init(name: "update_time", kind: .time),
        ]),
        ExportTable(entity: .messages, file: "messages", table: "text_messages", idColumn: "message_id", columns: [
            .init(name: "message_id", kind: .text), .init(name: "message_sid", kind: .text), .init(name: "direction", kind: .text),
            .init(name: "from_number", kind: .text), .init(name: "to_number", kind: .text), .init(name: "body", kind: .text),
            .init(name: "media_urls", kind: .text), .init(name: "status", kind: .text), .init(name: "error_code", kind: .integer),
            .init(name: "phone_config_id", kind: .text), .init(name: "customer_id", kind: .text), .init(name: "auto_reply", kind: .text),
            .init(name: "create_time", kind: .time), .init(name: "update_time", kind: .time),
        ]),
        ExportTable(entity: .calls, file: "calls", table: "phone_calls", idColumn: "call_id", columns: [
            .init(name: "call_id", kind: .text), .init(name: "call_sid", kind: .text), .init(name: "direction", kind: .text),
            .init(name: "from_number", kind: .text), .init(name: "to_number", kind: .text), .init(name: "caller_name", kind: .text),
            .init(name: "status", kind: .text), .init(name: "ivr_mode", kind: .text), .init(name: "ivr_selections", kind: .text),
            .init(name: "connected_to", kind: .text), .init(name: "recording_url", kind: .text),
            .init(name: "recording_seconds", kind: .integer), .init(name: "duration_seconds", kind: .integer),
            .init(name: "phone_config_id", kind: .text), .init(name: "customer_id", kind: .text), .init(name: "caller_said", kind: .json),
            .init(name: "start_time", kind: .time), .init(name: "end_time", kind: .time), .init(name: "update_time", kind: .time),
        ]),
        ExportTable(entity: .catalog, file: "catalog", table: PackItemRecords.table, keyColumns: ["kind", "item_key"], columns: [
            .init(name: "kind", kind: .text), .init(name: "item_key", kind: .text), .init(name: "content", kind: .json),
            .init(name: "pack", kind: .text), .init(name: "pack_version", kind: .text), .init(name: "applied_hash", kind: .text),
            .init(name: "ordinal", kind: .integer), .init(name: "create_time", kind: .time), .init(name: "update_time", kind: .time),
        ]),
    ]
}
