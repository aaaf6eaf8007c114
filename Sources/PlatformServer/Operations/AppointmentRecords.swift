import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Appointments in the store. The customer is stored by id (the table's foreign key keeps it one
/// of the same tenant's customers), the duration as whole seconds (0 when unset) and the external
/// id as NULL when empty, so the tenant's unique index on it ignores unset ones.
enum AppointmentRecords {
    static let collection = ResourceCollection(
        segment: "appointments", table: "appointments", idColumn: "appointment_id", noun: "appointment")
    static let externalID = TenantUniqueKey(
        collection: AppointmentRecords.collection, path: "external_id", column: "external_id", index: "appointments_by_external_id")

    /// The values of `appointment` no other appointment of the tenant may have.
    static func uniqueValues(of appointment: Appointment) -> [TenantUniqueKey.Value] {
        [TenantUniqueKey.Value(key: externalID, value: appointment.externalID)]
    }

    static func find(id: String, _ tx: TenantTransaction) async throws -> Appointment? {
        try await tx.select(from: collection.table, where: "appointment_id = \(id)").first.map(appointment(from:))
    }

    /// `customerID` is the tenant's customer `appointment.customer` names, which the caller checked.
    /// `confirmationSkipped`: the customer gets no booking confirmation for it (``AutomationSchedule``).
    static func insert(_ appointment: Appointment, id: String, customerID: String, confirmationSkipped: Bool = false, _ tx: TenantTransaction) async throws {
        let now = Date()  // inside the transaction: see ChangeSync
        try await tx.insert(into: collection.table, [("appointment_id", id), ("customer_id", customerID)] + columns(of: appointment) + [
            ("complete_time", appointment.status == .completed ? completeTime(of: appointment, now: now) : nil),
            ("confirmation_skipped", confirmationSkipped),
            ("create_time", now),
            ("update_time", now),
            ("revision", 1),
        ])
    }

    /// Writes every field an update may change if the row is still at `current`'s revision;
    /// false otherwise. The customer never changes; the completion time is set when the status
    /// becomes completed, as on insert.
    static func update(_ appointment: Appointment, replacing current: Appointment, id: String, _ tx: TenantTransaction) async throws -> Bool {
        let now = Date()  // inside the transaction: see ChangeSync
        let revision = Etag.revision(current.etag) ?? 0
        let completing = appointment.status == .completed && current.status != .completed
        let changed = try await tx.update(
            collection.table,
            set: columns(of: appointment) + (completing ? [("complete_time", completeTime(of: appointment, now: now))] : [])
                + [("update_time", now), ("revision", revision + 1)],
            where: "appointment_id = \(id) AND revision = \(revision)")
        return changed == 1
    }

    /// When an appointment marked completed at `now` was done: by its end, or now if that is
    /// still to come. One closed out long after it happened (history brought in from elsewhere,
    /// or a forgotten job) is older than any automation looks, and gets no review request weeks
    /// late.
    private static func completeTime(of appointment: Appointment, now: Date) -> Date {
        let end = appointment.startTime.date.addingTimeInterval(appointment.hasDuration ? appointment.duration.timeInterval : 0)
        return min(end, now)
    }

    // MARK: Rows

    private static func columns(of appointment: Appointment) -> [(String, any SQLValueConvertible)] {
        [
            ("service_name", appointment.serviceName),
            ("start_time", appointment.startTime.date),
            // Fractions of a second are dropped: bookings are made in minutes.
            ("duration_seconds", appointment.hasDuration ? appointment.duration.seconds : 0),
            ("status", appointment.status.storedName),
            ("address", appointment.address),
            ("notes", appointment.notes),
            ("external_id", appointment.externalID.nilIfEmpty),
        ]
    }

    static func appointment(from row: SQLRow) throws -> Appointment {
        let tenantID = try row.string("tenant_id")
        return try Appointment.with {
            $0.name = collection.name(tenantID: tenantID, id: try row.string("appointment_id"))
            $0.customer = CustomerRecords.collection.name(tenantID: tenantID, id: try row.string("customer_id"))
            $0.serviceName = try row.string("service_name")
            $0.startTime = Google_Protobuf_Timestamp(date: try row.date("start_time"))
            let duration = try row.int("duration_seconds")
            if duration > 0 { $0.duration = Google_Protobuf_Duration(seconds: duration) }
            $0.status = AppointmentStatus(storedName: try row.string("status"))
            $0.address = try row.string("address")
            $0.notes = try row.string("notes")
            $0.externalID = try row.optionalString("external_id") ?? ""
            $0.createTime = Google_Protobuf_Timestamp(date: try row.date("create_time"))
            $0.updateTime = Google_Protobuf_Timestamp(date: try row.date("update_time"))
            if let completeTime = try row.optionalDate("complete_time") { $0.completeTime = Google_Protobuf_Timestamp(date: completeTime) }
            $0.etag = Etag.make(revision: try row.int("revision"))
        }
    }
}

extension AppointmentStatus: StoredEnum {}
