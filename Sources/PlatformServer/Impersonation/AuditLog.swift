import Foundation
import GRPCCore
import RPCRuntime

/// The one way into the audit log. A handler of an audited method records its event in the
/// transaction that makes its change, so the change and its event commit together or not at all:
/// ```swift
/// try await database.withTenant(tenantID) { tx in
///     try await CustomerRecords.insert(customer, id: id, tx)
///     try await AuditLog.record(tx, context: context, resource: request.name)
/// }
/// ```
/// The event is filed under the transaction's tenant: the tenant the call acted on, which for a
/// platform-scoped call is the tenant it concerns (the one created, the one impersonated).
/// Failed calls are recorded by the runtime through ``StoreAuditSink``.
enum AuditLog {
    /// Appends the event of the call `context` describes.
    static func record(
        _ tx: TenantTransaction,
        context: RequestContext,
        resource: String,
        details: [String: String] = [:]
    ) async throws {
        try await append(
            tx, principal: context.principal, method: context.method, requestID: context.requestID,
            resource: resource, outcome: "OK", reason: "", details: details)
    }

    /// Appends the event of an audited call that failed.
    static func record(_ call: FailedAuditedCall, _ tx: TenantTransaction) async throws {
        try await append(
            tx, principal: call.principal, method: call.method, requestID: call.requestID,
            resource: storable(call.resourceName), outcome: call.code.statusName, reason: call.reason, details: [:])
    }

    /// The most of a failed call's resource an event keeps.
    static let maxResourceLength = 512

    /// What a failed call's request named, as the store can keep it: the call may have failed for
    /// that very value, so a NUL (which PostgreSQL refuses in text) goes, and so does what runs
    /// past ``maxResourceLength``; the event is still written.
    static func storable(_ resource: String) -> String {
        String(String.UnicodeScalarView(resource.unicodeScalars.lazy.filter { $0 != "\0" }.prefix(maxResourceLength)))
    }

    /// Appends the event of a change the platform made on its own, such as a background job's:
    /// `actor` names the job (e.g. `jobs/billing-lifecycle`) and `action` what it did.
    static func recordSystem(
        _ tx: TenantTransaction,
        actor: String,
        action: String,
        resource: String,
        details: [String: String] = [:]
    ) async throws {
        try await append(
            tx, realActor: actor, actorRole: "system", subject: actor, sessionID: nil, method: action,
            requestID: "", resource: resource, outcome: "OK", reason: "", details: details)
    }

    private static func append(
        _ tx: TenantTransaction,
        principal: Principal,
        method: MethodDescriptor,
        requestID: String,
        resource: String,
        outcome: String,
        reason: String,
        details: [String: String]
    ) async throws {
        try await append(
            // A caller with no credential has no role: its placeholder one is not recorded.
            tx, realActor: principal.realActor, actorRole: principal == .anonymous ? "" : principal.realActorRole.rawValue,
            subject: principal.subject, sessionID: principal.impersonationSessionID,
            method: AuditEventRecords.methodName(method), requestID: requestID, resource: resource,
            outcome: outcome, reason: reason, details: details)
    }

    private static func append(
        _ tx: TenantTransaction,
        realActor: String,
        actorRole: String,
        subject: String,
        sessionID: String?,
        method: String,
        requestID: String,
        resource: String,
        outcome: String,
        reason: String,
        details: [String: String]
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try await tx.insert(into: "audit_events", [
            ("event_id", Tokens.id(bytes: 10)),
            ("event_time", Date()),
            ("real_actor", realActor),
            ("actor_role", actorRole),
            ("principal", subject),
            ("impersonation_session", sessionID.map(ImpersonationRecords.name)),
            ("method", method),
            ("resource", resource),
            ("request_id", requestID),
            ("outcome", outcome),
            ("outcome_reason", reason),
            ("details", String(decoding: try encoder.encode(details), as: UTF8.self)),
        ])
    }
}
