import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.billing.v1.BillingService: plans, each tenant's billing record, plan changes
/// through Stripe, staff status overrides and Stripe's webhooks.
public struct BillingHandler: BillingServiceHandler {
    let database: any Database
    let settings: BillingSettings
    let stripe: StripeClient?

    public init(database: any Database, settings: BillingSettings) {
        self.database = database
        self.settings = settings
        self.stripe = settings.stripe.map { StripeClient(settings: $0) }
    }

    public func listPlans(_ request: ListPlansRequest, context: RequestContext) async throws -> ListPlansResponse {
        let page = try FixedListPage(
            of: PlanOffers.plans(stripe: settings.stripe), name: \.name, pageSize: request.pageSize, pageToken: request.pageToken)
        return ListPlansResponse.with {
            $0.plans = page.items
            $0.nextPageToken = page.nextPageToken
        }
    }

    public func getPlan(_ request: GetPlanRequest, context: RequestContext) async throws -> Plan {
        guard let plan = PlanOffers.plans(stripe: settings.stripe).first(where: { $0.name == request.name }) else {
            throw ServiceError.notFound(request.name)
        }
        return plan
    }

    public func getTenantBilling(_ request: GetTenantBillingRequest, context: RequestContext) async throws -> TenantBilling {
        let tenantID = try context.requireTenant()
        return try await database.withTenant(tenantID) { try await BillingRecords.get($0).message }
    }

    /// Stripe is called before the transaction that records the change, never inside it: a slow
    /// provider must not hold the store. Each Stripe request carries an idempotency key derived
    /// from the record's revision and `request_id` (or the tier), so a retry after a failure
    /// between the two repeats nothing at Stripe.
    ///
    /// Two changes of one tenant's plan never overlap: each holds the tenant's billing lease (the
    /// one the lifecycle job takes) from reading the record to writing it, and one that finds it
    /// held is ABORTED. Otherwise both would subscribe at Stripe, and one subscription would go
    /// on charging unseen.
    public func changePlan(_ request: ChangePlanRequest, context: RequestContext) async throws -> ChangePlanResponse {
        let tenantID = try context.requireTenant()
        // Without Stripe a change costs nothing, so it is staff's to make.
        guard stripe != nil || context.principal.role.isPlatform else {
            throw ServiceError.failedPrecondition(
                reason: "billing_not_configured",
                message: "this platform takes no payments (no Stripe key is configured), so platform staff set plans; ask them for the \(request.tier.storedName) plan")
        }
        let holder = "change-plan/\(UUID().uuidString)"
        let (current, tenant, earlier): (BillingState, Tenant?, ChangePlanResponse?) = try await database.withTenant(tenantID) { tx in
            if let earlier: ChangePlanResponse = try await Self.storedHoldingLease(tx, method: "ChangePlan", for: request, holder: holder) {
                return (try await BillingRecords.get(tx), nil, earlier)
            }
            return (try await BillingRecords.get(tx), try await TenantRecords.find(tx), nil)
        }
        if let earlier { return earlier }
        return try await releasingLease(of: tenantID, heldBy: holder) {
            try await changePlan(current, tenant: tenant, request, holder: holder, context: context)
        }
    }

    /// Longer than the Stripe calls of a plan change can take; a server that dies holding the
    /// lease blocks the tenant's plan changes no longer than this.
    static let planChangeLease: TimeInterval = 60

    /// The first answer to `request`'s request_id, if it has one; otherwise `holder` takes the
    /// tenant's billing lease (ABORTED while another holds it). Looked for on both sides of the
    /// lease: a first attempt that commits while this one waits for the lease (on PostgreSQL)
    /// releases it with its answer, and the retry then returns that answer rather than trying the
    /// change again on a record that already has it ("already on that plan").
    private static func storedHoldingLease<Response: SwiftProtobuf.Message>(
        _ tx: TenantTransaction, method: String, for request: some RetryableRequest, holder: String
    ) async throws -> Response? {
        if let earlier: Response = try await IdempotencyRecords.stored(tx, method: method, for: request) { return earlier }
        try await BillingRecords.takeLease(for: holder, duration: planChangeLease, tx)
        guard let earlier: Response = try await IdempotencyRecords.stored(tx, method: method, for: request) else { return nil }
        try await BillingRecords.releaseLease(heldBy: holder, tx)
        return earlier
    }

    /// Runs `body`, which holds the tenant's billing lease; a `body` that fails gives the lease
    /// back rather than leave the tenant's billing blocked until it expires.
    private func releasingLease<Result: Sendable>(
        of tenantID: String, heldBy holder: String, _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            return try await body()
        } catch {
            _ = try? await database.withTenant(tenantID) { tx in try await BillingRecords.releaseLease(heldBy: holder, tx) }
            throw error
        }
    }

    /// Writes a change of `current` in one transaction while `holder` still holds its billing
    /// lease, then releases the lease. A change slower than its lease may have been overtaken by
    /// another, which then holds the lease: writing then would undo what that one recorded, so it
    /// is ABORTED.
    private func writeHoldingLease<Result: Sendable>(
        _ current: BillingState, heldBy holder: String, _ write: @escaping @Sendable (TenantTransaction) async throws -> Result
    ) async throws -> Result {
        try await database.withTenant(current.tenantID) { tx in
            guard try await BillingRecords.confirmLease(heldBy: holder, at: Date(), tx) else {
                throw ServiceError.aborted(
                    reason: "billing_lease_lost", message: "\(current.name): this change outlasted its lease and another may have begun; get the billing record again and retry")
            }
            let result = try await write(tx)
            try await BillingRecords.releaseLease(heldBy: holder, tx)
            return result
        }
    }

    /// The change itself, with the tenant's billing lease held.
    private func changePlan(
        _ current: BillingState, tenant: Tenant?, _ request: ChangePlanRequest, holder: String, context: RequestContext
    ) async throws -> ChangePlanResponse {
        try Etag.requireCurrent(request.etag, current: current.message.etag, of: current.name)
        if current.suspendedByStaff {
            throw ServiceError.failedPrecondition(
                reason: "suspended_by_staff",
                message: "\(current.name) is suspended by platform staff (\(current.statusReason)); no plan can be bought until they lift it")
        }
        if request.tier == current.tier {
            if let pending = current.pendingTier, pending != request.tier {
                return try await withdrawPendingTier(current, request, holder: holder, context: context)
            }
            // Asking for the tier it is on is how a tenant that pays nothing yet (a trial, or
            // suspended after one) starts paying for it; and how one whose first payment of it is
            // due gets its payment page again. An active tenant already pays, at Stripe or not.
            let startsPaying = stripe != nil && current.stripeSubscriptionID == nil && current.status != .active
            guard startsPaying || current.pendingTier == request.tier else {
                throw ServiceError.failedPrecondition(reason: "plan_unchanged", message: "\(current.name) is already on the \(current.tier.storedName) plan")
            }
        }
        let subscription = try await subscribe(current, tenant: tenant, to: request.tier.catalogTier, requestID: request.requestID)
        // A subscription that starts without a trial grants its tier once its first invoice is
        // paid, which Stripe's webhook reports; until then the tier waits.
        let awaitsPayment = subscription?.awaitsFirstPayment == true
        let paymentURL = awaitsPayment ? subscription?.latestInvoice?.hostedInvoiceUrl : nil
        let response = ChangePlanResponse.with {
            $0.appliedDirectly = subscription == nil
            $0.paymentURL = paymentURL ?? ""
        }
        return try await record(request, of: current, holder: holder, context: context, answering: response) { state in
            let from = state.tier
            if awaitsPayment {
                state.pendingTier = request.tier
            } else {
                state.tier = request.tier
                state.pendingTier = nil
            }
            if let subscription {
                state.stripeCustomerID = subscription.customer
                state.stripeSubscriptionID = subscription.id
                state.stripePriceID = subscription.items.data.first?.price.id
                state.currentPeriodEnd = subscription.periodEnd.map { Date(timeIntervalSince1970: TimeInterval($0)) }
                // A new subscription's first invoice, if due; a price change on the live one
                // leaves an unpaid invoice of it, and its page, as they were.
                if awaitsPayment || subscription.id != current.stripeSubscriptionID { state.paymentURL = paymentURL }
            }
            return [
                "from_tier": from.storedName, "to_tier": request.tier.storedName,
                "via": subscription == nil ? "direct" : "stripe",
                "awaits_payment": awaitsPayment ? "true" : "false",
            ]
        }
    }

    /// Writes a plan change with the tenant's billing lease held, then releases the lease: once
    /// per request_id, audited with what `change` returns, answered with `response` and the
    /// billing record as it now is.
    private func record(
        _ request: ChangePlanRequest, of current: BillingState, holder: String, context: RequestContext,
        answering response: ChangePlanResponse,
        _ change: @escaping @Sendable (inout BillingState) throws -> [String: String]
    ) async throws -> ChangePlanResponse {
        try await writeHoldingLease(current, heldBy: holder) { tx in
            try await IdempotencyRecords.once(tx, method: "ChangePlan", for: request) {
                var state = try await BillingRecords.get(tx)
                let details = try change(&state)
                try await BillingRecords.save(state, tx)
                try await AuditLog.record(tx, context: context, resource: state.name, details: details)
                var answer = response
                answer.billing = try await BillingRecords.get(tx).message
                return answer
            }
        }
    }

    /// Staying on the current tier while another waits for its first payment withdraws that one:
    /// its invoice is voided and its subscription cancelled, so it can no longer be paid.
    private func withdrawPendingTier(
        _ current: BillingState, _ request: ChangePlanRequest, holder: String, context: RequestContext
    ) async throws -> ChangePlanResponse {
        if let stripe, let subscriptionID = current.stripeSubscriptionID,
           let live = try await Self.cancelIfUnpaid(subscriptionID, of: current, through: stripe), !live.hasEnded {
            throw Self.pendingTierPaid(current)
        }
        return try await record(request, of: current, holder: holder, context: context, answering: ChangePlanResponse()) { state in
            // Stripe's word that the cancellation ended the subscription may have come first:
            // then the withdrawal is recorded already.
            let endedFirst = current.stripeSubscriptionID != nil && state.stripeSubscriptionID == nil
                && state.endedStripeSubscriptionID == current.stripeSubscriptionID
            guard endedFirst || (state.pendingTier == current.pendingTier && state.stripeSubscriptionID == current.stripeSubscriptionID) else {
                throw ServiceError.aborted(message: "\(state.name) changed while its pending plan was withdrawn; get it again and retry")
            }
            let withdrawn = current.pendingTier ?? .unspecified
            state.forgetSubscription()
            return ["from_tier": state.tier.storedName, "to_tier": state.tier.storedName, "withdrawn_tier": withdrawn.storedName]
        }
    }

    /// The tier waiting for its first payment has just been paid for, so it can no longer be
    /// withdrawn or replaced: the payment's webhook grants it.
    private static func pendingTierPaid(_ state: BillingState) -> ServiceError {
        ServiceError.failedPrecondition(
            reason: "pending_tier_paid",
            message: "the \(state.pendingTier?.storedName ?? "") plan of \(state.name) has just been paid for; get the billing record again")
    }

    /// Ends subscription `id` unpaid if it still waits for its first payment, and answers nil;
    /// otherwise answers it as it is (paid, or ended). A payment that beats the cancellation is
    /// `pending_tier_paid`.
    private static func cancelIfUnpaid(_ id: String, of state: BillingState, through stripe: StripeClient) async throws -> StripeClient.Subscription? {
        let subscription = try await stripe.subscription(id: id)
        guard subscription.awaitsFirstPayment else { return subscription }
        try await cancelUnpaid(subscription, of: state, through: stripe)
        return nil
    }

    /// Ends `subscription`, the waiting tier's, unpaid; a payment that beat it is
    /// `pending_tier_paid`.
    private static func cancelUnpaid(_ subscription: StripeClient.Subscription, of state: BillingState, through stripe: StripeClient) async throws {
        do {
            try await stripe.cancelUnpaid(subscription)
        } catch is StripeClient.FirstPaymentArrived {
            throw pendingTierPaid(state)
        }
    }

    /// Moves the tenant's Stripe subscription to the tier's Price, creating the customer and the
    /// subscription on its first paid change. Nil when Stripe is not configured.
    private func subscribe(_ state: BillingState, tenant: Tenant?, to tier: PlanCatalog.Tier, requestID: String) async throws -> StripeClient.Subscription? {
        guard let stripe else { return nil }
        guard let priceID = stripe.settings.priceIDs[tier] else {
            throw ServiceError.failedPrecondition(
                reason: "stripe_price_missing",
                message: "no Stripe Price is configured for the \(tier.rawValue) plan; set SERVICEPRO_STRIPE_PRICE_\(tier.rawValue.uppercased())")
        }
        // A retry after a failure between Stripe and the record (same tenant, same request)
        // repeats nothing at Stripe: not the customer, not the subscription. The tenant's
        // revision, which its billing changes and the name and contact a customer is made with
        // both move, makes a request_id that another caller, or a later change, uses again a key
        // of its own, and never sends Stripe a key again with other parameters; without a
        // request_id the tier stands in for it.
        let revision = tenant.flatMap { Etag.revision($0.etag) } ?? state.revision
        let key = "servicepro-\(state.tenantID)-change-plan-\(revision)-\(requestID.isEmpty ? tier.rawValue : requestID)"
        if let subscriptionID = state.stripeSubscriptionID {
            let subscription = try await stripe.subscription(id: subscriptionID)
            if subscription.awaitsFirstPayment {
                // Still waiting for its first payment, it takes no change: it stands if it is
                // for this tier, else a new one replaces it.
                if subscription.items.data.first?.price.id == priceID { return subscription }
                try await Self.cancelUnpaid(subscription, of: state, through: stripe)
            } else if !subscription.hasEnded {
                // A price change is granted at once, so an upgrade would give a tenant that owes
                // a renewal more than it pays for; a lower plan is its to choose meanwhile.
                if subscription.isOverdue, Self.rank(tier) > Self.rank(state.tier.catalogTier) {
                    throw ServiceError.failedPrecondition(
                        reason: "payment_overdue",
                        message: "\(state.name) owes a renewal; pay it\(state.paymentURL.map { " at \($0)" } ?? " (its invoice is at Stripe)"), then change to the \(tier.rawValue) plan")
                }
                return try await stripe.changePrice(of: subscription, to: priceID, idempotencyKey: key + "-update")
            }
            // Ended at Stripe, or just cancelled unpaid: the plan starts a new subscription.
        }
        let customerID: String
        if let existing = state.stripeCustomerID {
            customerID = existing
        } else {
            customerID = try await stripe.createCustomer(
                tenantID: state.tenantID, name: tenant?.displayName ?? state.tenantID, email: tenant?.contact.email ?? "",
                idempotencyKey: key + "-customer").id
        }
        return try await stripe.createSubscription(
            customerID: customerID, priceID: priceID, tenantID: state.tenantID,
            trialEnd: state.status == .trialing ? state.trialEnd : nil, idempotencyKey: key + "-subscription")
    }

    /// Higher for a tier with more.
    private static func rank(_ tier: PlanCatalog.Tier) -> Int {
        switch tier {
        case .starter: 0
        case .pro: 1
        case .elite: 2
        }
    }

    /// A staff override is made at Stripe too, before it is recorded (see `makeAtStripe`), and
    /// checked first, so a refused one changes nothing there either.
    public func setTenantStatus(_ request: SetTenantStatusRequest, context: RequestContext) async throws -> TenantBilling {
        let tenantID = try context.requireTenant()
        if request.hasTrialEndTime {
            guard request.status == .trialing else {
                throw ServiceError.invalidArgument(field: "trial_end_time", "applies only to TENANT_STATUS_TRIALING")
            }
            guard request.trialEndTime.date > Date() else {
                throw ServiceError.invalidArgument(field: "trial_end_time", "must be in the future")
            }
        }
        let trialEnd = request.hasTrialEndTime ? request.trialEndTime.date : nil
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ServiceError.invalidArgument(field: "reason", "is required") }
        // Held from reading the record to writing it, as a plan change holds it: a plan change
        // running meanwhile could otherwise subscribe a tenant being cancelled.
        let holder = "set-status/\(UUID().uuidString)"
        let (current, earlier): (BillingState, TenantBilling?) = try await database.withTenant(tenantID) { tx in
            if let earlier: TenantBilling = try await Self.storedHoldingLease(tx, method: "SetTenantStatus", for: request, holder: holder) {
                return (try await BillingRecords.get(tx), earlier)
            }
            return (try await BillingRecords.get(tx), nil)
        }
        if let earlier { return earlier }
        return try await releasingLease(of: tenantID, heldBy: holder) {
            try Etag.requireCurrent(request.etag, current: current.message.etag, of: current.name)
            var checked = current
            try checked.move(to: request.status, reason: reason, at: Date(), settings: settings, trialEnd: trialEnd)
            let atStripe = try await makeAtStripe(request.status, trialEnd: checked.trialEnd, current)
            let ended = atStripe.ended
            return try await writeHoldingLease(current, heldBy: holder) { [settings] tx in
                try await IdempotencyRecords.once(tx, method: "SetTenantStatus", for: request) {
                    var state = try await BillingRecords.get(tx)
                    // While nothing is made at Stripe, the etag holds until the write: a webhook
                    // applied since the record was read is a change the caller has not seen.
                    // What Stripe has made (a subscription ended, a trial moved) is not undone,
                    // so from then on the override is recorded whatever landed meanwhile; the
                    // webhook of the change itself among it.
                    if !atStripe.changed, state.revision != current.revision {
                        try Etag.requireCurrent(request.etag, current: state.message.etag, of: state.name)
                    }
                    // What Stripe has made was decided on the record as it was read, and stands
                    // whatever a webhook made of the record since (Stripe's own word of the change
                    // among it: the end that cancelled the tenant already, a payment that made a
                    // trial being extended active): its transition is checked from there.
                    let from = atStripe.changed ? current.status : state.status
                    try state.move(to: request.status, decidedFrom: from, reason: reason, at: Date(), settings: settings, trialEnd: trialEnd)
                    state.suspendedByStaff = request.status == .suspended
                    if let ended, state.stripeSubscriptionID == ended { state.forgetSubscription() }
                    try await BillingRecords.save(state, tx)
                    try await AuditLog.record(tx, context: context, resource: state.name, details: [
                        "from_status": from.storedName, "to_status": request.status.storedName, "reason": reason,
                    ])
                    return try await BillingRecords.get(tx).message
                }
            }
        }
    }

    /// What a staff override means for the tenant's Stripe subscription. Cancelling ends it, so a
    /// cancelled tenant is charged no more (and a renewal's webhook cannot make it active
    /// again); a trial's new end becomes the subscription's, so Stripe charges from then and its
    /// events carry that end. A suspension leaves a paying subscription alone (the tenant still
    /// owes what it owes, though paying lifts no staff suspension), and withdraws one still
    /// waiting for its first payment, which would otherwise buy a plan meanwhile.
    private func makeAtStripe(_ status: TenantStatus, trialEnd: Date?, _ current: BillingState) async throws -> StripeChange {
        guard let stripe, let subscriptionID = current.stripeSubscriptionID else { return .none }
        switch status {
        case .cancelled:
            try await stripe.end(subscriptionID: subscriptionID)
            return StripeChange(changed: true, ended: subscriptionID)
        case .trialing:
            guard let trialEnd else { return .none }
            try await stripe.moveTrialEnd(of: subscriptionID, to: trialEnd)
            return StripeChange(changed: true, ended: nil)
        case .suspended:
            guard current.pendingTier != nil else { return .none }
            // One paid (or ended) since it was read is left as it is.
            let ended = try await Self.cancelIfUnpaid(subscriptionID, of: current, through: stripe) == nil
            return StripeChange(changed: ended, ended: ended ? subscriptionID : nil)
        default:
            return .none
        }
    }

    /// What a staff override made at Stripe.
    private struct StripeChange {
        /// Whether Stripe changed anything, which no refusal afterwards undoes.
        let changed: Bool
        /// The subscription it ended.
        let ended: String?

        static let none = StripeChange(changed: false, ended: nil)
    }

    public func handleStripeEvent(_ request: HandleStripeEventRequest, context: RequestContext) async throws -> HandleStripeEventResponse {
        guard !settings.webhookSecrets.isEmpty else {
            throw ServiceError.failedPrecondition(
                reason: "stripe_webhooks_not_configured",
                message: "no Stripe webhook secret is configured; set SERVICEPRO_STRIPE_WEBHOOK_SECRETS")
        }
        do {
            try StripeSignature.verify(payload: request.payload, header: request.signature, secrets: settings.webhookSecrets)
        } catch {
            throw ServiceError(
                code: .invalidArgument, reason: "stripe_signature_invalid", message: "Stripe-Signature rejected: \(error)",
                violations: [FieldViolation(field: "signature", description: error.description)])
        }
        let event: StripeEvent
        do {
            event = try StripeEvent.decode(request.payload)
        } catch {
            throw ServiceError.invalidArgument(field: "payload", "is not a Stripe event: \(StripeEvent.explain(error))")
        }
        return try await StripeEventLedger(database: database, settings: settings).apply(event, context: context)
    }
}
