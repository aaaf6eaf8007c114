import Foundation
import RPCRuntime
import ServiceProAPI

/// Queues a new business's onboarding email and text in the outbox, in one transaction with the
/// login link it may carry: the worker delivers them, and a retry with the same request_id
/// queues nothing twice (the idempotency record is written in the same transaction). The
/// messages carry no dedupe key of their own: one derived from the request id would make another
/// caller's request with the same id, or a retry after its record's day, mint a link and then
/// find the first request's messages in its place, and send nothing.
public struct OnboardingSender: Sendable {
    let database: any Database
    let linkBaseURL: String

    public init(database: any Database, linkBaseURL: String = LoginLinkHandler.defaultLinkBaseURL) {
        self.database = database
        self.linkBaseURL = linkBaseURL
    }

    func send(_ request: SendOnboardingRequest, context: RequestContext) async throws -> SendOnboardingResponse {
        let tenantID = try context.requireTenant()
        var channels: [OutboxChannel] = []
        for (index, channel) in request.channels.enumerated() {
            guard channel == .email || channel == .sms else {
                throw ServiceError.invalidArgument(field: "channels[\(index)]", "must be email or sms")
            }
            if !channels.contains(channel) { channels.append(channel) }
        }
        let chosen = channels
        return try await database.withTenant(tenantID) { tx in
            try await IdempotencyRecords.once(tx, method: "SendOnboarding", for: request) {
                guard let tenant = try await TenantRecords.find(tx) else { throw ServiceError.notFound(request.name) }
                let email = request.email.isEmpty ? tenant.contact.email : request.email
                let phone = request.phone.isEmpty ? tenant.contact.phone : request.phone
                if chosen.contains(.email), email.isEmpty {
                    throw ServiceError.invalidArgument(field: "email", "is required: \(tenant.name) has no contact email; pass one, or set the tenant's contact.email first")
                }
                // A contact stored before addresses were checked as strictly as the outbox does.
                if chosen.contains(.email), !OutboxRecords.isEmailAddress(email) {
                    throw ServiceError.failedPrecondition(
                        reason: "contact_email_unusable",
                        message: "\(tenant.name)'s contact email \"\(email)\" cannot be mailed; correct it, or pass email")
                }
                if chosen.contains(.sms), phone.isEmpty {
                    throw ServiceError.invalidArgument(field: "phone", "is required: \(tenant.name) has no contact phone; pass one, or set the tenant's contact.phone first")
                }
                var link: String?
                // The link's name goes on the audit event: what to revoke if it went astray.
                var details = ["channels": chosen.map(\.storedName).joined(separator: ","), "login_link": "none"]
                if request.includeLoginLink {
                    let created = try await LoginLinkRecords.create(
                        role: .tenantAdmin, recipient: email.isEmpty ? phone : email,
                        lifetime: LoginLinkRecords.lifetime.defaultSeconds, creator: context.principal.realActor, tx)
                    link = LoginLinkRecords.url(for: created.token, base: linkBaseURL)
                    details["login_link"] = created.link.name
                }
                let setup = try await Setup.read(tenant, tx)
                var messages: [OutboxMessage] = []
                for channel in chosen {
                    let draft: OutboxDraft = channel == .email
                        ? .email(to: email, subject: "Welcome to ServicePro, \(tenant.displayName)", body: Self.email(setup, link: link),
                                 purpose: "onboarding")
                        : .sms(to: phone, body: Self.text(setup, link: link), purpose: "onboarding")
                    messages.append(try await OutboxRecords.enqueue(draft, tx))
                }
                try await AuditLog.record(tx, context: context, resource: request.name, details: details)
                return SendOnboardingResponse.with { $0.messages = messages }
            }
        }
    }

    /// What the messages tell a new business about itself: only what is so when they are queued.
    struct Setup {
        var tenant: Tenant
        /// Its lines' numbers, in the order its phone configs list.
        var numbers: [String]
        /// What it has ready to use, as the email names it: "services and prices", "texts",
        /// "phone menu".
        var ready: [String]

        static func read(_ tenant: Tenant, _ tx: TenantTransaction) async throws -> Setup {
            let configs = try await PhoneConfigRecords.all(tx.base).map(\.config)
            let items = try await PackItemRecords.all(tx)
            var ready: [String] = []
            if items.contains(where: { $0.kind == .service }) { ready.append("services and prices") }
            if items.contains(where: { $0.kind == .smsTemplate }) { ready.append("texts") }
            if configs.contains(where: { $0.ivrMode == .ivr }) { ready.append("phone menu") }
            return Setup(tenant: tenant, numbers: configs.map(\.phoneNumber).filter { !$0.isEmpty }, ready: ready)
        }

        /// When the trial ends (UTC), for a tenant trialing with an end set.
        var trialEnd: String? {
            guard tenant.status == .trialing, tenant.hasTrialEndTime else { return nil }
            return tenant.trialEndTime.date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day())
        }
    }

    static func email(_ setup: Setup, link: String?) -> String {
        let tenant = setup.tenant
        let greeting = tenant.contact.personName.isEmpty ? "Hi," : "Hi \(tenant.contact.personName),"
        var lines = [greeting, "", "\(tenant.displayName) is set up on ServicePro."]
        var facts: [String] = []
        switch setup.numbers.count {
        case 0: break
        case 1: facts.append("Your business number is \(setup.numbers[0]): calls and texts to it reach you.")
        default: facts.append("Your business numbers are \(setup.numbers.joined(separator: ", ")): calls and texts to them reach you.")
        }
        if let last = setup.ready.last {
            let listed = setup.ready.count == 1 ? last : setup.ready.dropLast().joined(separator: ", ") + " and " + last
            facts.append("Ready to use, and yours to change: your \(listed).")
        }
        if let trialEnd = setup.trialEnd { facts.append("Your free trial runs until \(trialEnd).") }
        if !facts.isEmpty { lines += [""] + facts.map { "- " + $0 } }
        if let link {
            lines += ["", "Sign in here (the link works once, for 24 hours):", link]
        }
        lines += ["", "Reply to this email if anything looks off; we'll fix it for you.", "", "The ServicePro team"]
        return lines.joined(separator: "\n")
    }

    static func text(_ setup: Setup, link: String?) -> String {
        var text = "\(setup.tenant.displayName) is live on ServicePro."
        if let number = setup.numbers.first { text += " Your number: \(number)." }
        if let link { text += " Sign in (one-time link, 24 h): \(link)" }
        return text
    }
}
