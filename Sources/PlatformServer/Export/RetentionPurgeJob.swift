import Foundation
import Logging
import ServiceLifecycle

/// Deletes the data of tenants whose retention window has ended: cancelled tenants,
/// `retention_end_time` passed, not purged yet. Never before the window ends and never for a
/// tenant in any other status: non-payment never deletes data, so a suspended tenant keeps its
/// own however long it stays suspended, and a tenant reactivated in time has no window left. The
/// tenant record, its billing record and its audit trail stay, and the purge is audited with
/// the number of rows it deleted from each table.
public struct RetentionPurgeJob: Service {
    static let actor = "jobs/retention"
    /// Children before parents: invoices and appointments reference customers. Export archive
    /// chunks go with their jobs (ON DELETE CASCADE), so the purge takes a job's row before its
    /// chunks, in the order a finishing export worker does, and the two cannot deadlock.
    static let purgedTables = [
        "invoices", "appointments", "text_messages", "phone_calls", "customers", "phone_configs",
        "export_jobs", "login_links", "outbox_messages", "pack_items", "api_keys", "impersonation_sessions", "idempotency_records",
    ]

    let database: any Database
    /// Told when a purge has taken a tenant's API keys with it.
    let apiKeys: ApiKeyCache
    let interval: Duration
    let logger: Logger

    public init(database: any Database, apiKeys: ApiKeyCache, interval: Duration = .seconds(300), logger: Logger) {
        self.database = database
        self.apiKeys = apiKeys
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        await JobLoop.run(every: interval, logger: logger, failure: "retention pass failed; retrying next interval") {
            try await runOnce()
            return false
        }
    }

    /// Purges every tenant that is due; returns their ids. Idempotency records past their day,
    /// and the ids of Stripe events past theirs, go on the same pass.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> [String] {
        let swept = try await database.transaction(.platform) { try await IdempotencyRecords.sweep(now: now, $0) }
        if swept > 0 { logger.info("deleted idempotency records past their day", metadata: ["count": "\(swept)"]) }
        let events = try await database.transaction(.platform) { try await StripeEventLedger.sweep(now: now, $0) }
        if events > 0 { logger.info("deleted Stripe event ids past their retention", metadata: ["count": "\(events)"]) }
        let due = try await database.transaction(.platform) { tx in
            try await tx.query("""
                SELECT b.tenant_id FROM tenant_billing b
                WHERE \(Self.dataDue("b", at: now)) AND \(Self.noExportOutstanding(of: "b.tenant_id", at: now))
                """).map { try $0.string("tenant_id") }
        }
        try await warnOfPurges(now: now)
        var purged: [String] = []
        for tenantID in due {
            guard try await purge(tenantID, now: now) else { continue }
            purged.append(tenantID)
            logger.notice("purged a tenant's data after its retention window", metadata: ["tenant": "\(tenantID)"])
        }
        return purged
    }

    /// Tells each tenant whose window ends within ``RetentionWarning/lead`` what it is about to
    /// lose, once a window: a tenant already told is not looked at again. One that cannot be
    /// told now is tried again next pass, and holds up neither the others nor the purges.
    /// Returns the tenants told.
    @discardableResult
    func warnOfPurges(now: Date) async throws -> [String] {
        let ending = try await database.transaction(.platform) { tx in
            try await tx.query("""
                SELECT b.tenant_id, b.retention_end_time FROM tenant_billing b
                WHERE \(Self.dueForWarning(now: now))
                AND NOT EXISTS (SELECT 1 FROM outbox_messages o WHERE o.tenant_id = b.tenant_id
                    AND o.dedupe_key = \(RetentionWarning.purpose + "/") || CAST(b.retention_end_time AS TEXT))
                """).map { (tenantID: try $0.string("tenant_id"), end: try $0.int("retention_end_time")) }
        }
        var told: [String] = []
        for window in ending {
            let windowEnd = Date(microsecondsSince1970: window.end)
            do {
                switch try await warn(window.tenantID, windowEnd: windowEnd, microseconds: window.end, now: now) {
                case .queued:
                    told.append(window.tenantID)
                case .noLongerDue:
                    break
                case .nowhereToSend:
                    // Said on the pass that finds the window first, not on every pass after it.
                    guard windowEnd.timeIntervalSince(now) > RetentionWarning.lead - TimeInterval(interval.components.seconds) else { break }
                    logger.warning("a tenant's data will be purged within a week, and it has no contact email or phone to warn", metadata: [
                        "tenant": "\(window.tenantID)", "retention_end_time": "\(windowEnd)",
                    ])
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.error("could not queue a tenant's retention warning; trying again next pass", metadata: [
                    "tenant": "\(window.tenantID)", "error": "\(error)",
                ])
            }
        }
        return told
    }

    private enum WarningOutcome { case queued, nowhereToSend, noLongerDue }

    /// Queues the warning of the window ending at `windowEnd` (`microseconds` as stored), if the
    /// tenant is still in it: one reactivated since it was found, or given a new window, is not
    /// told of a purge that is not coming.
    private func warn(_ tenantID: String, windowEnd: Date, microseconds: Int64, now: Date) async throws -> WarningOutcome {
        try await database.withTenant(tenantID) { tx in
            let stillDue = try await tx.base.query("""
                SELECT 1 AS due FROM tenant_billing b
                WHERE b.tenant_id = \(tenantID) AND b.retention_end_time = \(microseconds) AND \(Self.dueForWarning(now: now))
                """)
            guard !stillDue.isEmpty, let tenant = try await TenantRecords.find(tx) else { return .noLongerDue }
            let key = RetentionWarning.dedupeKey(windowEndMicroseconds: microseconds)
            guard let draft = RetentionWarning.draft(for: tenant, windowEnd: windowEnd, dedupeKey: key) else { return .nowhereToSend }
            try await OutboxRecords.enqueue(draft, tx, now: now)
            return .queued
        }
    }

    /// A billing row `b` whose window ends in a purge within the warning's lead.
    private static func dueForWarning(now: Date) -> SQLStatement {
        """
        b.retention_end_time > \(now) AND b.retention_end_time <= \(now.addingTimeInterval(RetentionWarning.lead))
        AND \(windowEndsInPurge("b"))
        """
    }

    /// The billing row `billing` (a table name or alias) of a tenant whose retention window ends
    /// in a purge: cancelled, and not purged yet. The one test of whose data goes: the purge, its
    /// warning, the refusal of an export and the expiry of an archive all ask it.
    static func windowEndsInPurge(_ billing: String) -> SQLStatement {
        """
        \(raw: billing).tenant_id IN (SELECT t.tenant_id FROM tenants t WHERE t.status = 'cancelled')
        AND \(raw: billing).data_purge_time IS NULL
        """
    }

    /// The billing row `billing` of a tenant whose data is due to go at `now`: its window has
    /// ended, in a purge. The purge takes it once no export holds it (``noExportOutstanding``).
    static func dataDue(_ billing: String, at now: Date) -> SQLStatement {
        "\(raw: billing).retention_end_time <= \(now) AND \(windowEndsInPurge(billing))"
    }

    /// A tenant whose export is being built keeps its data until it is done: it asked for it
    /// while it could. One whose archive can still be downloaded keeps it until the archive's
    /// `expire_time`, the time the tenant was promised: an archive built near the window's end,
    /// or after it, is kept a day (`ExportJobRecords.downloadGrace`). The wait ends: an archive
    /// has a lifetime, a build has its attempts, and a tenant whose data is due starts no export
    /// (`ExportHandler.startExport`), so the purge is put off, never off for good.
    private static func noExportOutstanding(of tenantColumn: String, at now: Date) -> SQLStatement {
        """
        NOT EXISTS (SELECT 1 FROM export_jobs e WHERE e.tenant_id = \(raw: tenantColumn)
            AND (e.state IN ('pending', 'running') OR (e.state = 'succeeded' AND e.expire_time > \(now))))
        """
    }

    /// False when the tenant is no longer due (reactivated, or purged by another replica).
    private func purge(_ tenantID: String, now: Date) async throws -> Bool {
        defer { apiKeys.forget(tenantID: tenantID) }
        return try await database.withTenant(tenantID) { tx in
            // Locked before the claim looks for exports: on PostgreSQL a statement sees what was
            // committed when it began, so a StartExport holding the row (it reads it FOR SHARE)
            // must commit first, and the claim then finds its export; one that comes later waits
            // for this purge, and finds the data gone.
            _ = try await tx.base.query("SELECT tenant_id FROM tenant_billing WHERE tenant_id = \(tenantID)\(raw: tx.base.dialect.forUpdate)")
            // The claim re-checks everything on the row it marks, inside the purge's transaction.
            let claimed = try await tx.update("tenant_billing", set: [("data_purge_time", now)], where: """
                \(Self.dataDue("tenant_billing", at: now)) AND \(Self.noExportOutstanding(of: "tenant_billing.tenant_id", at: now))
                """)
            guard claimed == 1 else { return false }
            // The numbers the platform bought for the tenant go back to Twilio now: the retention
            // window was their grace.
            try await PhoneConfigRecords.giveUpNumbers(reason: .tenantPurged, after: now, tx, now: now)
            var counts: [String: String] = [:]
            for table in Self.purgedTables {
                counts[table] = "\(try await tx.delete(from: table))"
            }
            try await AuditLog.recordSystem(tx, actor: Self.actor, action: "PurgeTenantData", resource: "tenants/\(tenantID)", details: counts)
            return true
        }
    }
}
