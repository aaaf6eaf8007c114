/// Where the runtime files the audit event of an audited method's call that failed.
///
/// A successful call is audited by its handler, in the same transaction as its change. A failed
/// one has no change to share a transaction with, and may have failed before any handler ran (a
/// role the policy does not allow, a field that does not validate), so ``AuthenticationInterceptor``
/// reports it here, and the platform writes it to the same log as the handlers' events:
/// ```swift
/// struct LoggingAuditSink: AuditSink {
///     let logger: Logger
///     func recordFailure(_ call: FailedAuditedCall) async {
///         logger.notice("audited call failed", metadata: ["method": "\(call.method)", "code": "\(call.code.statusName)"])
///     }
/// }
/// let server = try RPCServer(..., auditSink: LoggingAuditSink(logger: logger), logger: logger)
/// ```
public protocol AuditSink: Sendable {
    /// Does not throw: the caller gets the call's own error whatever happens here, so a sink logs
    /// its own failures.
    func recordFailure(_ call: FailedAuditedCall) async
}
