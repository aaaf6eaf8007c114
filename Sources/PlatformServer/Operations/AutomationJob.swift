import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI
import Synchronization

/// Runs tenants' automations: the booking confirmation, the reminder before an appointment and
/// the review request after it, each the tenant's SMS template filled in and queued in the
/// outbox, from the tenant's line to the appointment's customer. Tenants whose plan has industry
/// automations run them while trialing, active or past due; an automation switched off in the
/// catalog sends nothing.
///
/// Each pass looks at every such tenant in a transaction of its own; what is due is queued once
/// (``AutomationSchedule``), so passes can run as often as they like and replicas side by side
/// never queue a text twice (the outbox's key per automation and appointment decides). A text
/// that cannot be filled in (no time zone for `{{start_time}}`, no review link for
/// `{{review_url}}`) is not sent and is logged (once an hour per tenant and automation, as it is
/// looked at every pass), and is sent once the tenant has what it needs, while it is still due.
public struct AutomationJob: Service {
    static let actor = "jobs/automations"
    /// Texts looked at per automation and tenant in one pass; the rest wait for the next.
    static let batchSize = 200

    let database: any Database
    let interval: Duration
    let logger: Logger
    private let unfilledWarnings = HourlyWarnings()

    public init(database: any Database, interval: Duration = .seconds(60), logger: Logger) {
        self.database = database
        self.interval = interval
        self.logger = logger
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        while !Task.isCancelled {
            do {
                try await runOnce()
            } catch is CancellationError {
                return
            } catch {
                logger.error("automation pass failed; retrying next interval", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One pass as of `now`; returns how many texts it queued.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Int {
        let tenants = try await database.transaction(.platform) { tx in
            try await tx.query("""
                SELECT DISTINCT p.tenant_id FROM pack_items p JOIN tenants t ON t.tenant_id = p.tenant_id
                WHERE p.kind = \(PackItemKind.automation.storedName) AND t.status IN ('trialing', 'active', 'past_due')
                ORDER BY p.tenant_id
                """).map { try $0.string("tenant_id") }
        }
        var queued = 0
        for tenantID in tenants {
            do {
                queued += try await runAutomations(of: tenantID, now: now)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // One tenant's trouble holds up no other's.
                logger.error("automations of a tenant failed; retrying next pass", metadata: ["tenant": "\(tenantID)", "error": "\(error)"])
            }
        }
        return queued
    }

    private func runAutomations(of tenantID: String, now: Date) async throws -> Int {
        try await database.withTenant(tenantID) { tx in
            guard let tenant = try await TenantRecords.find(tx),
                  [.trialing, .active, .pastDue].contains(tenant.status),
                  PlanCatalog.hasFeature(tenant.planTier.catalogTier, .industryAutomations)
            else { return 0 }
            let rules = try await PackItemRecords.all(tx, kind: .automation)
                .compactMap { try? $0.decoded(AutomationRule.self) }
                .filter { !$0.disabled }
            guard !rules.isEmpty else { return 0 }
            guard let sender = try await Self.sender(tx) else {
                logger.warning("a tenant's automations have no line to text from; give it a phone config with a number", metadata: ["tenant": "\(tenantID)"])
                return 0
            }
            var queued = 0
            for rule in rules {
                guard let template = try await PackItemRecords.smsTemplate(rule.template, tx), !template.body.isEmpty else { continue }
                let schedule = AutomationSchedule(rule: rule)
                var unfilled = 0
                for due in try await schedule.due(now: now, limit: Self.batchSize, tx) {
                    let values = Self.values(for: tenant, due)
                    guard let body = PackPlaceholders.completelyFilled(template.body, values), body.count <= OutboxRecords.maxTextLength else {
                        unfilled += 1
                        continue
                    }
                    try await OutboxRecords.enqueue(
                        .sms(to: due.customerPhone, from: sender, body: body, purpose: "automation \(rule.key)",
                             dedupeKey: schedule.dedupeKey(appointmentID: due.appointmentID)),
                        tx, now: now)
                    queued += 1
                }
                if unfilled > 0, unfilledWarnings.due("\(tenantID)/\(rule.key)", now: now) {
                    logger.warning("automation texts not sent: their template names what the tenant has not set (time_zone for {{start_time}}, review_url for {{review_url}}), or is too long filled in", metadata: [
                        "tenant": "\(tenantID)", "automation": "\(rule.key)", "appointments": "\(unfilled)",
                    ])
                }
            }
            return queued
        }
    }

    /// Who the tenant's texts come from: its main line when that has a number, else the first
    /// line that has one; nil when it has none.
    private static func sender(_ tx: TenantTransaction) async throws -> String? {
        let lines = try await PhoneConfigRecords.all(tx.base).filter { !$0.config.phoneNumber.isEmpty }
        let line = lines.first { $0.id == ConciergeSetup.phoneConfigID } ?? lines.first
        return line?.config.textSender
    }

    /// The template's placeholders for `due`: the tenant's, the customer's and the appointment's.
    /// `{{start_time}}` needs the tenant's time zone and `{{review_url}}` its review link; each is
    /// left out without them, so a template that names it is not sent.
    static func values(for tenant: Tenant, _ due: AutomationSchedule.Due) -> [String: String] {
        var values = PackPlaceholders.values(for: tenant)
        values["customer_name"] = due.customerName
        values["service_name"] = due.serviceName
        if let zone = TimeZone(identifier: tenant.timeZone), !tenant.timeZone.isEmpty {
            values["start_time"] = AppointmentTime.spoken(due.startTime, in: zone)
        }
        if !tenant.reviewURL.isEmpty { values["review_url"] = tenant.reviewURL }
        return values
    }
}

/// When each tenant's automation last logged the texts it could not fill in, so a pass every
/// minute logs them once an hour.
private final class HourlyWarnings: Sendable {
    private let last = Mutex<[String: Date]>([:])

    /// Whether to log about `key` at `now`, and if so, noted.
    func due(_ key: String, now: Date) -> Bool {
        last.withLock { last in
            if let earlier = last[key], abs(now.timeIntervalSince(earlier)) < 3_600 { return false }
            last[key] = now
            return true
        }
    }
}

/// An appointment's time as a text to a customer says it: "Tue, Dec 1 at 2:30 PM", in the
/// business's time zone. A fixed pattern, so no character outside the GSM alphabet (such as the
/// narrow space some locales put before "PM") turns the text into a costlier one.
enum AppointmentTime {
    static func spoken(_ date: Date, in zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE, MMM d 'at' h:mm a"
        return formatter.string(from: date)
    }
}
