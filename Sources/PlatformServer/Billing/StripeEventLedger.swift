import Foundation
import RPCRuntime
import ServiceProAPI

/// Applies Stripe events to billing records: each event id once (the `stripe_events` row is the
/// proof), and in effect order (an event created before the last one applied cannot change the
/// tenant's status, so a late `updated` cannot undo a newer `deleted`; of the subscription's own
/// events only the newest sets its plan). The event, its effect and its audit entry commit
/// together.
struct StripeEventLedger {
    let database: any Database
    let settings: BillingSettings

    /// How long an event id is kept to know a redelivery: Stripe retries for three days, and a
    /// month covers a resend from its dashboard too. An event older still is ordered by the
    /// billing record's last event time, so it cannot undo a newer one.
    static let retention: TimeInterval = 30 * 86_400

    /// The sweep's index: without it each pass read the whole table.
    static let sweepIndexMigration = Migration(
        version: 38,
        name: "stripe_events_by_receive_time",
        statements: ["CREATE INDEX stripe_events_by_receive_time ON stripe_events (receive_time)"],
        tenantOwnedTables: [])

    /// Deletes the ids of events received before the retention, which would otherwise be kept
    /// for ever.
    @discardableResult
    static func sweep(now: Date = Date(), _ tx: any SQLTransaction) async throws -> Int {
        try await tx.changes("DELETE FROM stripe_events WHERE receive_time < \(now.addingTimeInterval(-retention))")
    }

    func apply(_ event: StripeEvent, context: RequestContext) async throws -> HandleStripeEventResponse {
        do {
            return try await database.transaction(.platform) { tx in
                // Claimed first: a concurrent delivery of the same event waits on this key and
                // then fails as a duplicate, instead of racing to apply it too.
                try await tx.execute("""
                    INSERT INTO stripe_events (event_id, event_type, event_time, outcome, receive_time)
                    VALUES (\(event.id), \(event.type), \(event.time), 'pending', \(Date()))
                    """)
                let result = try await effect(of: event, tx, context: context)
                try await tx.execute("""
                    UPDATE stripe_events SET tenant_id = \(ResourceName.tenantID(of: result.tenant)),
                        outcome = \(result.outcome == .applied ? "applied" : "ignored"), reason = \(result.reason)
                    WHERE event_id = \(event.id)
                    """)
                return result
            }
        } catch let error where UniqueViolation(error)?.isOn(index: "stripe_events_pkey", columns: ["event_id"]) == true {
            // Seen before, or being applied by a delivery running at the same time.
            return response(event, .ignored, reason: "duplicate", tenantID: nil)
        }
    }

    private func effect(of event: StripeEvent, _ tx: any SQLTransaction, context: RequestContext) async throws -> HandleStripeEventResponse {
        guard var effect = event.effect else { return response(event, .ignored, reason: "unhandled_type", tenantID: nil) }
        guard let tenantID = try await tenant(of: event, tx) else { return response(event, .ignored, reason: "unknown_customer", tenantID: nil) }
        guard let subscriptionID = event.subscriptionID else {
            // An invoice of no subscription (a one-off charge, a setup fee billed from Stripe's
            // dashboard) says nothing about the subscription the tenant pays with: its failure
            // must not make a paying tenant past due, its payment must not lift a suspension
            // for an unpaid renewal, and its page is not where the plan is paid.
            return response(event, .ignored, reason: "other_subscription", tenantID: tenantID)
        }
        let scoped = TenantTransaction(tenantID: tenantID, base: tx)
        var state = try await BillingRecords.get(scoped)
        let ofOwnSubscription = subscriptionID == state.stripeSubscriptionID
        // The end of the subscription the tenant pays with is never history, however late it
        // comes (a retry overtaken by the final invoice's event): Stripe never revives an ended
        // subscription, and a tenant that kept it would be active and pay nothing.
        let endsOwnSubscription = effect.endsSubscription && ofOwnSubscription
        if !endsOwnSubscription, let last = state.lastStripeEventTime, event.time < last {
            // Older than the last event applied, its status is history. An event of the
            // tenant's own subscription newer than the subscription's last one (delivered after
            // a newer invoice's, as a change in Stripe's portal and its invoice often are) still
            // brings the plan the subscription was moved to; a paid invoice of it, that it is
            // paid (its page is no longer where anything is due, and a tier waiting for it is
            // granted).
            let latePlan = effect.updatesSubscription && effect.grantsTier && !effect.endsSubscription
                && event.time >= state.lastSubscriptionEventTime ?? .distantPast
            guard ofOwnSubscription, latePlan || effect.grantsPendingTier
            else { return response(event, .ignored, reason: "stale", tenantID: tenantID) }
            effect.status = nil
            effect.isLate = true
        }
        if subscriptionID != state.stripeSubscriptionID,
           state.stripeSubscriptionID != nil || effect.endsSubscription || subscriptionID == state.endedStripeSubscriptionID {
            // Another subscription of the same customer (a stray one made in Stripe's
            // dashboard, or one already replaced or ended here) says nothing about the one the
            // tenant pays with.
            if state.stripeSubscriptionID == nil {
                // Its end still orders what follows: an older event of it, delivered late,
                // must not bring it back.
                state.lastStripeEventTime = event.time
                try await BillingRecords.save(state, scoped)
            }
            return response(event, .ignored, reason: "other_subscription", tenantID: tenantID)
        }
        let from = state.status
        let refused = try state.apply(event, effect, settings: settings)
        let statusKept = effect.isLate ? "stale_status" : refused
        try await BillingRecords.save(state, scoped)
        var details = [
            "stripe_event": event.id, "stripe_event_type": event.type,
            "from_status": from.storedName, "to_status": state.status.storedName,
        ]
        if let statusKept { details["status_kept"] = statusKept }
        try await AuditLog.record(scoped, context: context, resource: state.name, details: details)
        return response(event, .applied, reason: statusKept ?? "", tenantID: tenantID)
    }

    /// The tenant an event concerns: the one whose billing record holds its subscription or
    /// customer, else the one a subscription made outside ServicePro (a Checkout session, say)
    /// names in its metadata.
    private func tenant(of event: StripeEvent, _ tx: any SQLTransaction) async throws -> String? {
        let object = event.data.object
        if let known = try await BillingRecords.tenantID(stripeSubscriptionID: event.subscriptionID, stripeCustomerID: object.customer, tx) {
            return known
        }
        guard let claimed = object.metadata?["tenant"],
              try await tx.first("SELECT 1 AS known FROM tenants WHERE tenant_id = \(claimed)") != nil
        else { return nil }
        return claimed
    }

    private func response(_ event: StripeEvent, _ outcome: StripeEventOutcome, reason: String, tenantID: String?) -> HandleStripeEventResponse {
        HandleStripeEventResponse.with {
            $0.outcome = outcome
            $0.reason = reason
            $0.eventID = event.id
            $0.eventType = event.type
            $0.tenant = tenantID.map(ResourceName.tenant) ?? ""
        }
    }
}
