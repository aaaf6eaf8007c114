import Foundation
import RPCRuntime
import ServiceProAPI

/// servicepro.impersonation.v1.AuditService: the audit log, read-only. Owners read every
/// tenant's (`tenants/-`), tenant admins their own tenant's; the runtime has already narrowed the
/// call to one of those.
public struct AuditHandler: AuditServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func listAuditEvents(_ request: ListAuditEventsRequest, context: RequestContext) async throws -> ListAuditEventsResponse {
        var filter = AuditEventRecords.ListFilter(
            realActor: request.realActor,
            // Either spelling of the method: with gRPC's leading slash or without.
            method: request.method.isEmpty || request.method.hasPrefix("/") ? request.method : "/" + request.method,
            impersonationSession: request.impersonationSession)
        if request.hasStartTime { filter.startTime = request.startTime.date }
        if request.hasEndTime { filter.endTime = request.endTime.date }
        if let start = filter.startTime, let end = filter.endTime, end <= start {
            throw ServiceError.invalidArgument(field: "end_time", "must be after start_time")
        }
        let paging = try PageRequest(request)
        // The runtime leaves no tenant only for `tenants/-`, which it allows platform roles alone.
        let scope: DataScope = context.tenantID.map { .tenant($0) } ?? .platform
        let conditions = filter.conditions
        let events = try await database.transaction(scope) { tx in
            try await ListOrder(column: "event_time", direction: .newestFirst, idColumn: "event_id")
                .page(of: "audit_events", where: conditions, paging, tx, item: AuditEventRecords.event(from:))
        }
        return ListAuditEventsResponse.with {
            $0.auditEvents = events.items
            $0.nextPageToken = events.nextPageToken
        }
    }

    public func getAuditEvent(_ request: GetAuditEventRequest, context: RequestContext) async throws -> AuditEvent {
        let tenantID = try context.requireTenant()
        guard let eventID = ResourceName.id(of: request.name, after: "auditEvents") else {
            throw ServiceError.invalidArgument(field: "name", "must be tenants/{tenant}/auditEvents/{audit_event}")
        }
        guard let event = try await database.withTenant(tenantID, { try await AuditEventRecords.find(eventID: eventID, $0) }) else {
            throw ServiceError.notFound(request.name)
        }
        return event
    }
}

extension ListAuditEventsRequest: PagedListRequest {}
