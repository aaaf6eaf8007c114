import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.operations.v1.AppointmentService over the store.
///
/// An appointment is booked for one of the tenant's own customers: naming another tenant's
/// customer gets the same INVALID_ARGUMENT as naming a missing one. It starts SCHEDULED unless a
/// status is given; an external id another of the tenant's appointments has is ALREADY_EXISTS.
public struct AppointmentHandler: AppointmentServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func createAppointment(_ request: CreateAppointmentRequest, context: RequestContext) async throws -> Appointment {
        let tenantID = try context.requireTenant()
        var appointment = Self.normalized(request.appointment)
        var violations: [FieldViolation] = []
        if appointment.customer.isEmpty { violations.append(FieldViolation(field: "appointment.customer", description: "is required")) }
        if appointment.serviceName.isEmpty { violations.append(FieldViolation(field: "appointment.service_name", description: "is required")) }
        if !appointment.hasStartTime { violations.append(FieldViolation(field: "appointment.start_time", description: "is required")) }
        guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
        if appointment.status == .unspecified { appointment.status = .scheduled }

        let collection = AppointmentRecords.collection
        let id = request.appointmentID.isEmpty ? ResourceCollection.newID() : request.appointmentID
        let name = collection.name(tenantID: tenantID, id: id)
        let uniques = AppointmentRecords.uniqueValues(of: appointment)
        return try await collection.reportingDuplicates(of: uniques, tenantID: tenantID, id: id) { [appointment] in
            try await database.withTenant(tenantID) { tx in
                try await IdempotencyRecords.once(tx, method: "CreateAppointment", for: request) {
                    guard try await AppointmentRecords.find(id: id, tx) == nil else {
                        throw collection.alreadyExists(tenantID: tenantID, id: id)
                    }
                    var newAppointment = appointment
                    if !newAppointment.hasDuration, let listed = try await PriceList.read(tx).service(named: newAppointment.serviceName), listed.hasDuration {
                        newAppointment.duration = listed.duration
                    }
                    let customerID = try await CustomerRecords.collection.referencedID(
                        newAppointment.customer, field: "appointment.customer", tx)
                    try await TenantUniqueKey.check(uniques, excluding: id, tx)
                    try await AppointmentRecords.insert(
                        newAppointment, id: id, customerID: customerID, confirmationSkipped: request.skipConfirmation, tx)
                    try await AuditLog.record(tx, context: context, resource: name)
                    return try await AppointmentRecords.find(id: id, tx)!
                }
            }
        }
    }

    public func getAppointment(_ request: GetAppointmentRequest, context: RequestContext) async throws -> Appointment {
        let tenantID = try context.requireTenant()
        guard let id = AppointmentRecords.collection.id(in: request.name, tenantID: tenantID),
              let appointment = try await database.withTenant(tenantID, { try await AppointmentRecords.find(id: id, $0) })
        else { throw ServiceError.notFound(request.name) }
        return appointment
    }

    /// By start time, earliest first, as a schedule reads; with `min_update_time`, oldest change
    /// first.
    public func listAppointments(_ request: ListAppointmentsRequest, context: RequestContext) async throws -> ListAppointmentsResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        if request.hasMinStartTime, request.hasMaxStartTime, request.maxStartTime.date <= request.minStartTime.date {
            throw ServiceError.invalidArgument(field: "max_start_time", "must be after min_start_time")
        }
        var conditions: [SQLStatement] = []
        if let customerID = try CustomerRecords.collection.filterID(request.customer, field: "customer", tenantID: tenantID) {
            conditions.append("customer_id = \(customerID)")
        }
        if request.status != .unspecified { conditions.append("status = \(request.status.storedName)") }
        if !request.externalID.isEmpty { conditions.append("external_id = \(request.externalID)") }
        if request.hasMinStartTime { conditions.append("start_time >= \(request.minStartTime.date)") }
        if request.hasMaxStartTime { conditions.append("start_time < \(request.maxStartTime.date)") }
        let sync = request.hasMinUpdateTime ? ChangeSync(since: request.minUpdateTime.date, collection: AppointmentRecords.collection) : nil
        let order = sync?.order ?? ListOrder(column: "start_time", direction: .oldestFirst, idColumn: "appointment_id")
        let filters = conditions
        let appointments = try await database.transaction(.tenant(tenantID)) { tx in
            let changed = try await sync?.conditions(tx) ?? []
            return try await order.page(of: AppointmentRecords.collection.table, where: filters + changed, paging, tx, item: AppointmentRecords.appointment(from:))
        }
        return ListAppointmentsResponse.with {
            $0.appointments = appointments.items
            $0.nextPageToken = appointments.nextPageToken
        }
    }

    public func updateAppointment(_ request: UpdateAppointmentRequest, context: RequestContext) async throws -> Appointment {
        let tenantID = try context.requireTenant()
        let name = request.appointment.name
        let collection = AppointmentRecords.collection
        let id = try collection.requireID(in: name, tenantID: tenantID, field: "appointment.name")
        let mask = try AppointmentUpdateMask(request.updateMask)
        let input = Self.normalized(request.appointment)
        if mask.contains("service_name"), input.serviceName.isEmpty {
            throw ServiceError.invalidArgument(field: "appointment.service_name", "must not be empty")
        }
        if mask.contains("start_time"), !input.hasStartTime {
            throw ServiceError.invalidArgument(field: "appointment.start_time", "is required")
        }
        // Left at 0 it would not say which status: a client that names the field sets it.
        if mask.contains("status"), input.status == .unspecified {
            throw ServiceError.invalidArgument(field: "appointment.status", "must be a status when update_mask names it")
        }
        let uniques = AppointmentRecords.uniqueValues(of: input).filter { mask.contains($0.key.path) }
        return try await collection.reportingDuplicates(of: uniques, tenantID: tenantID, id: id) {
            try await database.withTenant(tenantID) { tx in
                guard let current = try await AppointmentRecords.find(id: id, tx) else { throw ServiceError.notFound(name) }
                try Etag.requireCurrent(request.appointment.etag, current: current.etag, of: name)
                var appointment = current
                mask.apply(from: input, to: &appointment)
                try AppointmentLifecycle.checkTransition(of: name, from: current.status, to: appointment.status)
                // An update that changes nothing writes nothing: the etag and update time stay, so
                // a two-way sync that sends back what it read settles rather than bouncing.
                guard appointment != current else { return current }
                try await TenantUniqueKey.check(uniques, excluding: id, tx)
                guard try await AppointmentRecords.update(appointment, replacing: current, id: id, tx) else {
                    throw Etag.concurrentChange(of: name)
                }
                try await AuditLog.record(tx, context: context, resource: name, details: mask.paths.auditDetails)
                return try await AppointmentRecords.find(id: id, tx)!
            }
        }
    }

    /// `appointment` as the store keeps it, so that an update sending back what it read changes
    /// nothing: times to the microsecond, durations to the second, a zero duration as none.
    static func normalized(_ appointment: Appointment) -> Appointment {
        var appointment = appointment
        if appointment.hasStartTime { appointment.startTime = appointment.startTime.asStored }
        if appointment.hasDuration {
            let seconds = appointment.duration.seconds
            if seconds > 0 { appointment.duration = Google_Protobuf_Duration(seconds: seconds) } else { appointment.clearDuration() }
        }
        return appointment
    }

    /// An appointment an invoice names stays, so the invoice keeps what it billed for.
    public func deleteAppointment(_ request: DeleteAppointmentRequest, context: RequestContext) async throws -> DeleteAppointmentResponse {
        let tenantID = try context.requireTenant()
        let collection = AppointmentRecords.collection
        let id = try collection.requireID(in: request.name, tenantID: tenantID, field: "name")
        return try await database.withTenant(tenantID) { tx in
            try await collection.lockForDelete(id: id, tx)
            guard let current = try await AppointmentRecords.find(id: id, tx) else { throw ServiceError.notFound(request.name) }
            try Etag.requireCurrent(request.etag, current: current.etag, of: request.name)
            if let invoice = try await tx.select("invoice_id", from: "invoices", where: "appointment_id = \(id)", orderBy: "invoice_id", limit: 1).first {
                let invoiceName = InvoiceRecords.collection.name(tenantID: tenantID, id: try invoice.string("invoice_id"))
                let instead = current.status == .cancelled ? "it stays, cancelled, with the invoice"
                    : AppointmentLifecycle.nextStatuses(from: current.status).contains(.cancelled)
                        ? "set its status to APPOINTMENT_STATUS_CANCELLED instead" : "it stays on the books with the invoice"
                throw ServiceError.failedPrecondition(
                    reason: "appointment_invoiced", message: "\(request.name) is billed by \(invoiceName); \(instead)")
            }
            guard try await collection.delete(id: id, revision: Etag.revision(current.etag) ?? 0, tx) else {
                throw Etag.concurrentChange(of: request.name)
            }
            try await AuditLog.record(tx, context: context, resource: request.name)
            return DeleteAppointmentResponse()
        }
    }
}

extension ListAppointmentsRequest: PagedListRequest {}
