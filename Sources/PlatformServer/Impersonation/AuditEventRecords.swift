import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// Reading the audit log. It is only ever appended to (``AuditLog``); nothing here changes it.
enum AuditEventRecords {
    /// The full gRPC method as events store it: `/servicepro.tenancy.v1.TenantService/UpdateTenant`.
    static func methodName(_ method: MethodDescriptor) -> String { "/" + method.fullyQualifiedMethod }

    static func name(tenantID: String, eventID: String) -> String { "tenants/\(tenantID)/auditEvents/\(eventID)" }

    struct ListFilter {
        var realActor: String
        var method: String
        var impersonationSession: String
        var startTime: Date?
        var endTime: Date?
    }

    static func find(eventID: String, _ tx: TenantTransaction) async throws -> AuditEvent? {
        try await tx.select(from: "audit_events", where: "event_id = \(eventID)").first.map(event(from:))
    }

    /// One page, newest first, within the transaction's scope: one tenant's events, or every
    /// tenant's for a platform-scoped transaction.
    static func list(_ filter: ListFilter, after cursor: PageCursor?, limit: Int, _ tx: any SQLTransaction) async throws -> [AuditEvent] {
        var conditions: [SQLStatement] = ["1 = 1"]
        if case .tenant(let tenantID) = tx.scope { conditions.append("tenant_id = \(tenantID)") }
        if !filter.realActor.isEmpty { conditions.append("real_actor = \(filter.realActor)") }
        if !filter.method.isEmpty { conditions.append("method = \(filter.method)") }
        if !filter.impersonationSession.isEmpty { conditions.append("impersonation_session = \(filter.impersonationSession)") }
        if let start = filter.startTime { conditions.append("event_time >= \(start)") }
        if let end = filter.endTime { conditions.append("event_time < \(end)") }
        if let cursor { conditions.append(cursor.condition(timeColumn: "event_time", idColumn: "event_id")) }
        return try await tx.query("""
            SELECT * FROM audit_events WHERE \(SQLStatement.joined(conditions, separator: " AND "))
            ORDER BY event_time DESC, event_id ASC LIMIT \(limit)
            """).map(event(from:))
    }

    static func event(from row: SQLRow) throws -> AuditEvent {
        let tenantID = try row.string("tenant_id")
        let details = try row.string("details")
        return try AuditEvent.with {
            $0.name = name(tenantID: tenantID, eventID: try row.string("event_id"))
            $0.eventTime = Google_Protobuf_Timestamp(date: try row.date("event_time"))
            $0.realActor = try row.string("real_actor")
            $0.actorRole = Role(rawValue: try row.string("actor_role"))?.proto ?? .unspecified
            $0.effectiveTenant = ResourceName.tenant(tenantID)
            $0.impersonationSession = try row.optionalString("impersonation_session") ?? ""
            $0.method = try row.string("method")
            $0.resourceName = try row.string("resource")
            $0.requestID = try row.string("request_id")
            $0.outcomeCode = try row.string("outcome")
            $0.outcomeReason = try row.string("outcome_reason")
            $0.details = (try? JSONDecoder().decode([String: String].self, from: Data(details.utf8))) ?? [:]
        }
    }
}
