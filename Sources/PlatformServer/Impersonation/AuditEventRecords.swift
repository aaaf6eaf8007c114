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

        /// The events that match.
        var conditions: [SQLStatement] {
            var conditions: [SQLStatement] = []
            if !realActor.isEmpty { conditions.append("real_actor = \(realActor)") }
            if !method.isEmpty { conditions.append("method = \(method)") }
            if !impersonationSession.isEmpty { conditions.append("impersonation_session = \(impersonationSession)") }
            if let startTime { conditions.append("event_time >= \(startTime)") }
            if let endTime { conditions.append("event_time < \(endTime)") }
            return conditions
        }
    }

    static func find(eventID: String, _ tx: TenantTransaction) async throws -> AuditEvent? {
        try await tx.select(from: "audit_events", where: "event_id = \(eventID)").first.map(event(from:))
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
