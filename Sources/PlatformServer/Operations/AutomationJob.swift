import Foundation
import Logging
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI
import Synchronization

/// Runs tenants' automations: the booking confirmation, the reminder before an appointment and
/// the review request after it, each the tenant's SMS template filled in and queued in the
/// outbox, from the tenant's line to the appointment's customer. Tenants whose plan has industry
/// automations run them while trialing, active or past due, once they have set their time zone;
/// an automation switched off in the catalog sends nothing.
///
/// Each pass looks at every such tenant beside the writers (on SQLite, a pass that finds nothing
/// due never waits for the writer, nor holds it up), and queues what is due in a transaction of the
/// tenant's own. What is due is queued once (``AutomationSchedule``), so passes can run as often as
/// they like and replicas side by side never queue a text twice (the outbox's key per automation
/// and appointment decides). A tenant
/// is texted only in the day where it is (``QuietHours``); what falls due at night goes out in the
/// morning. An automation whose template names what the tenant has not set (a review link
/// for `{{review_url}}`) sends nothing and is logged (once an hour per tenant and automation, as
/// it is looked at every pass); its texts go out once the tenant sets it, those still due by then.
public struct AutomationJob: Service {
    static let actor = "jobs/automations"
    /// Texts looked at per automation and tenant in one pass; the rest wait for the next.
    static let batchSize = 200

    let database: any Database
    let interval: Duration
    /// Nil texts at any hour (tests that run at any hour).
    let quietHours: QuietHours?
    let logger: Logger
    private let unfilledWarnings = HourlyWarnings()

    public init(database: any Database, interval: Duration = .seconds(60), quietHours: QuietHours? = QuietHours(), logger: Logger) {
        self.database = database
        self.interval = interval
        self.quietHours = quietHours
        self.logger = logger
    }

    /// Runs until cancelled; the platform server cancels it when it stops serving.
    public func run() async throws {
        await JobLoop.run(every: interval, logger: logger, failure: "automation pass failed; retrying next interval") {
            try await runOnce()
            return false
        }
    }

    /// One pass as of `now`; returns how many texts it queued.
    @discardableResult
    public func runOnce(now: Date = Date()) async throws -> Int {
        // Packs give automations to every plan; only the tenants whose plan runs them are read.
        let tiers = PlanCatalog.Tier.allCases.filter { PlanCatalog.hasFeature($0, .industryAutomations) }.map(\.rawValue)
        let tenants = try await database.read(.platform) { tx in
            try await tx.query("""
                SELECT DISTINCT p.tenant_id FROM pack_items p JOIN tenants t ON t.tenant_id = p.tenant_id
                WHERE p.kind = \(PackItemKind.automation.storedName) AND t.status IN ('trialing', 'active', 'past_due')
                AND t.plan_tier IN (\(SQLStatement.list(tiers)))
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

    /// Looks for what is due beside the writers (most passes find nothing); when something is,
    /// looks again and queues it in one transaction, so an appointment cancelled or a tenant
    /// suspended meanwhile gets nothing. Two replicas queueing the same text meet at its outbox
    /// key, and one text is queued.
    private func runAutomations(of tenantID: String, now: Date) async throws -> Int {
        let due = try await database.read(.tenant(tenantID)) { base in
            try await dueTexts(of: TenantTransaction(tenantID: tenantID, base: base), now: now)
        }
        guard !due.isEmpty else { return 0 }
        return try await database.withTenant(tenantID) { tx in
            let drafts = try await dueTexts(of: tx, now: now)
            for draft in drafts { try await OutboxRecords.enqueue(draft, tx, now: now) }
            return drafts.count
        }
    }

    static func runsAutomations(_ tenant: Tenant) -> Bool {
        [.trialing, .active, .pastDue].contains(tenant.status) && PlanCatalog.hasFeature(tenant.planTier.catalogTier, .industryAutomations)
    }

    /// The texts of the tenant's automations that are due by `now` and not yet queued.
    private func dueTexts(of tx: TenantTransaction, now: Date) async throws -> [OutboxDraft] {
        let tenantID = tx.tenantID
        guard let tenant = try await TenantRecords.find(tx), Self.runsAutomations(tenant) else { return [] }
        let rules = try await PackItemRecords.automationRules(tx).filter { !$0.disabled }
        guard !rules.isEmpty else { return [] }
        // Every text waits for the tenant's time zone: its times are written in it, and it says
        // when night is.
        guard let zone = TimeZoneName.zone(tenant.timeZone) else {
            if unfilledWarnings.due(tenantID, now: now) {
                logger.warning("a tenant's automations wait for its time zone; set time_zone on the tenant", metadata: ["tenant": "\(tenantID)"])
            }
            return []
        }
        if let quietHours, !quietHours.allowsTexts(at: now, in: zone) { return [] }
        guard let sender = try await Self.sender(tx) else {
            logger.warning("a tenant's automations have no line to text from; give it a phone config with a number", metadata: ["tenant": "\(tenantID)"])
            return []
        }
        // What the tenant has not given is missing from every text alike: none is looked for.
        var sendable: [(rule: AutomationRule, template: String)] = []
        for rule in rules {
            guard let template = try await PackItemRecords.smsTemplate(rule.template, tx), !template.body.isEmpty else { continue }
            let missing = Self.missingValues(in: template.body, tenant)
            guard missing.isEmpty else {
                if unfilledWarnings.due("\(tenantID)/\(rule.key)", now: now) {
                    logger.warning("an automation's texts wait for what its template names and the tenant has not set", metadata: [
                        "tenant": "\(tenantID)", "automation": "\(rule.key)", "set": "\(missing.joined(separator: ", "))",
                    ])
                }
                continue
            }
            sendable.append((rule, template.body))
        }
        let confirmsBookings = sendable.contains { $0.rule.trigger == .appointmentBooked }
        var drafts: [OutboxDraft] = []
        for (rule, template) in sendable {
            let schedule = AutomationSchedule(rule: rule, confirmsBookings: confirmsBookings)
            for due in try await schedule.due(now: now, limit: Self.batchSize, tx) {
                guard PhoneNumber.isE164(due.customerPhone) else {
                    logger.warning("an automation text cannot go to a customer number that is not E.164; correct the customer's phone_number", metadata: [
                        "tenant": "\(tenantID)", "automation": "\(rule.key)", "appointment": "\(due.appointmentID)",
                    ])
                    continue
                }
                if schedule.isPastItsDay(sentAt: now, start: due.startTime, in: zone) { continue }
                drafts.append(.sms(
                    to: due.customerPhone, from: sender, body: Self.text(template, for: tenant, due, in: zone, sentAt: now),
                    purpose: "automation \(rule.key)", dedupeKey: schedule.dedupeKey(due)))
            }
        }
        return drafts
    }

    /// Who the tenant's texts come from: its main line when that has a number, else the first
    /// line that has one; nil when it has none.
    static func sender(_ tx: TenantTransaction) async throws -> String? {
        let lines = try await PhoneConfigRecords.all(tx.base).filter { !$0.config.phoneNumber.isEmpty }
        let line = lines.first { $0.id == ConciergeSetup.phoneConfigID } ?? lines.first
        return line?.config.textSender
    }

    /// The tenant fields `template` needs and the tenant has not set: `review_url` for
    /// `{{review_url}}`, `booking_url` for `{{booking_url}}`.
    static func missingValues(in template: String, _ tenant: Tenant) -> [String] {
        let named = Set(PackPlaceholders.names(in: template).names)
        var missing: [String] = []
        if named.contains("review_url"), tenant.reviewURL.isEmpty { missing.append("review_url") }
        if named.contains(PackPlaceholders.bookingURL), tenant.bookingURL.isEmpty { missing.append("booking_url") }
        return missing
    }

    /// `template` filled in for `due`, as sent at `date`: a customer without a name leaves no
    /// "Hi , you're booked", and the text fits one outbox message.
    static func text(_ template: String, for tenant: Tenant, _ due: AutomationSchedule.Due, in zone: TimeZone, sentAt date: Date) -> String {
        let filled = PackPlaceholders.fill(template, values(for: tenant, due, in: zone, now: date))
        return String(tidied(filled).prefix(OutboxRecords.maxTextLength))
    }

    /// A filled-in text without the gaps an empty value leaves: "Hi , you're" is "Hi, you're",
    /// "Thanks, !" is "Thanks!".
    static func tidied(_ text: String) -> String {
        var text = text
        for (gap, closed) in [(" ,", ","), (", !", "!"), (", .", "."), ("  ", " ")] {
            while text.contains(gap) { text = text.replacingOccurrences(of: gap, with: closed) }
        }
        return text
    }

    /// The template's placeholders for `due`, sent at `now`: the tenant's, the customer's (the
    /// first word of their name) and the appointment's, its time written in `zone`.
    static func values(for tenant: Tenant, _ due: AutomationSchedule.Due, in zone: TimeZone, now: Date) -> [String: String] {
        var values = PackPlaceholders.values(for: tenant)
        values["customer_name"] = due.customerName.split(separator: " ").first.map(String.init) ?? ""
        values["service_name"] = due.serviceName
        values["start_time"] = AppointmentTime.spoken(due.startTime, in: zone)
        values["start_relative"] = AppointmentTime.relative(due.startTime, from: now, in: zone)
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
