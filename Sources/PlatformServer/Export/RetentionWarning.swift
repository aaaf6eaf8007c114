import Foundation
import RPCRuntime
import ServiceProAPI

/// What a cancelled tenant is told before its retention window ends: what will be deleted, when,
/// and how to keep it. Sent once a window, a week ahead, by email to the tenant's contact
/// address, or by text to its contact phone when it has no address. A tenant brought back and
/// later cancelled again has a new window, and is told again.
enum RetentionWarning {
    /// How long before the purge the warning goes.
    static let lead: TimeInterval = 7 * 86_400
    static let purpose = "retention_warning"

    /// The outbox key of the warning for the window ending at `windowEnd`, as the store keeps
    /// that time (microseconds since 1970): one warning a window.
    static func dedupeKey(windowEndMicroseconds: Int64) -> String { "\(purpose)/\(windowEndMicroseconds)" }

    /// The message for `tenant`, whose data goes at `windowEnd`; nil when it has no address or
    /// number to send it to.
    static func draft(for tenant: Tenant, windowEnd: Date, dedupeKey once: String) -> OutboxDraft? {
        let day = windowEnd.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day())
        let contact = tenant.contact
        if OutboxRecords.isEmailAddress(contact.email) {
            let body = """
                \(tenant.displayName)'s ServicePro account was cancelled. On \(day) (UTC) its customers, \
                appointments, invoices, message and call logs and services will be deleted for good, and its \
                phone settings with them.

                To keep a copy of its data, export it before then: `spctl export start \(tenant.name) --wait`, or \
                reply and we will send you the archive. To keep the account and everything in it, ask us to reactivate it before \(day).
                """
            return .email(to: contact.email, subject: "\(tenant.displayName): your data will be deleted on \(day)",
                          body: body, purpose: purpose, dedupeKey: once)
        }
        if PhoneNumber.isE164(contact.phone) {
            let body = "\(tenant.displayName)'s ServicePro account was cancelled; its data will be deleted on \(day). Export it before then, or ask us to reactivate it."
            return .sms(to: contact.phone, body: body, purpose: purpose, dedupeKey: once)
        }
        return nil
    }
}
