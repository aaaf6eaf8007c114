import Logging
import RPCRuntime

/// Files the runtime's failed audited calls in the audit log, each in a transaction of its own:
/// the failed call's own transaction, if it had one, was rolled back with its event.
///
/// The event goes to the tenant the call acted on when the runtime had resolved one that exists,
/// else to the caller's own tenant (root for platform roles): a failed attempt on a tenant that
/// does not exist should not wait in the log for whoever creates that tenant later.
struct StoreAuditSink: AuditSink {
    let database: any Database
    let logger: Logger

    func recordFailure(_ call: FailedAuditedCall) async {
        let fallback = call.principal.tenantID.isEmpty ? TenantRecords.rootID : call.principal.tenantID
        do {
            try await database.transaction(.platform) { tx in
                var tenantID = call.tenantID ?? fallback
                if tenantID != fallback, try await TenantRecords.find(TenantTransaction(tenantID: tenantID, base: tx)) == nil {
                    tenantID = fallback
                }
                try await AuditLog.record(call, TenantTransaction(tenantID: tenantID, base: tx))
            }
        } catch {
            logger.error("could not audit a failed call", metadata: [
                "method": "\(call.method.fullyQualifiedMethod)",
                "request_id": "\(call.requestID)",
                "principal": "\(call.principal.subject)",
                "error": "\(String(reflecting: error))",
            ])
        }
    }
}
