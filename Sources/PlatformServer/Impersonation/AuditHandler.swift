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
        var unpaged = request
        unpaged.pageSize = 0
        unpaged.pageToken = ""
        let fingerprint = try PageCursor.fingerprint(of: unpaged)
        let pageSize = try PageCursor.pageSize(request.pageSize)
        let cursor = try PageCursor.decode(request.pageToken, filter: fingerprint)
        // The runtime leaves no tenant only for `tenants/-`, which it allows platform roles alone.
        let scope: DataScope = context.tenantID.map { .tenant($0) } ?? .platform
        let events = try await database.transaction(scope) { [filter] tx in
            try await AuditEventRecords.list(filter, after: cursor, limit: pageSize + 1, tx)
        }
        return ListAuditEventsResponse.with {
            $0.auditEvents = Array(events.prefix(pageSize))
            if events.count > pageSize, let last = $0.auditEvents.last {
                $0.nextPageToken = PageCursor(
                    time: last.eventTime.microseconds,
                    id: ResourceName.id(of: last.name, after: "auditEvents") ?? "",
                    filter: fingerprint
                ).encoded()
            }
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
