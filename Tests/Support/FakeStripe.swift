import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A local stand-in for Stripe's REST API, speaking its wire format: form-encoded requests with a
/// bearer key, JSON objects back, Stripe's error shape, and `Idempotency-Key` replays. It keeps
/// the requests it got so tests can check what was sent.
public final class FakeStripe: Sendable {
    public static let secretKey = "sk_test_fake_0123456789"

    public struct Recorded: Sendable {
        public let method: String
        public let path: String
        public let idempotencyKey: String?
        public let form: [String: String]
    }

    struct Subscription: Sendable {
        var id: String
        var customer: String
        var itemID: String
        var price: String
        var status: String
        var trialEnd: Int64?
        var metadata: [String: String]
        /// The first invoice, which an `incomplete` subscription waits to be paid.
        var invoiceID: String
    }

    /// Where Stripe's hosted page for an invoice is.
    public static func invoicePage(_ invoiceID: String) -> String {
        "https://invoice.stripe.com/i/acct_fake/\(invoiceID)"
    }

    struct State: Sendable {
        var requests: [Recorded] = []
        var customers: [String: [String: String]] = [:]
        var subscriptions: [String: Subscription] = [:]
        /// Each invoice's status: open, paid or void.
        var invoices: [String: String] = [:]
        var replies: [String: (status: Int, body: String)] = [:]
        var failures: [(method: String?, path: String?, status: Int, body: String, kept: Bool)] = []
        var delay: Duration = .zero
        var voidRace: VoidRace?
        /// Runs once a cancellation is made, before Stripe answers it.
        var afterNextCancel: (@Sendable () async -> Void)?
        /// Runs once, before the next request of its method is handled.
        var beforeNext: (method: String, action: @Sendable () async -> Void)?
        var counter = 0
    }

    let state = Mutex(State())
    public let periodEnd = Int64(Date().addingTimeInterval(30 * 86_400).timeIntervalSince1970)

    public var requests: [Recorded] { state.withLock { $0.requests } }

    /// The next request (of `method` and to `path`, when given) gets this status and Stripe error
    /// instead of being served.
    /// With `kept`, the failure is the answer to the request's idempotency key from then on, as
    /// Stripe keeps a 500 once the request began to run.
    public func failNext(_ method: String? = nil, path: String? = nil, status: Int, type: String, code: String, message: String, kept: Bool = false) {
        let body = #"{"error":{"type":"\#(type)","code":"\#(code)","message":"\#(message)"}}"#
        state.withLock { $0.failures.append((method, path, status, body, kept)) }
    }

    /// Every answer waits this long, so concurrent calls overlap.
    public func respondSlowly(_ delay: Duration) {
        state.withLock { $0.delay = delay }
    }

    /// Ends a subscription, as cancelling it in Stripe's dashboard does; it then takes no changes.
    public func cancel(subscription id: String) {
        state.withLock { $0.subscriptions[id]?.status = "canceled" }
    }

    /// A renewal's payment fails: Stripe marks the subscription past_due while it retries.
    public func failRenewal(of id: String) {
        state.withLock { $0.subscriptions[id]?.status = "past_due" }
    }

    /// A subscription's status as Stripe has it now.
    public func status(of subscription: String) -> String? {
        state.withLock { $0.subscriptions[subscription]?.status }
    }

    /// A subscription's trial end as Stripe has it now, in Unix seconds.
    public func trialEnd(of subscription: String) -> Int64? {
        state.withLock { $0.subscriptions[subscription]?.trialEnd }
    }

    /// An invoice's status as Stripe has it now: open, paid or void.
    public func status(ofInvoice invoice: String) -> String? {
        state.withLock { $0.invoices[invoice] }
    }

    /// The customer pays the subscription's first invoice on its hosted page: the invoice is
    /// paid and the subscription active.
    public func payFirstInvoice(of subscription: String) {
        state.withLock { state in
            guard let invoice = state.subscriptions[subscription]?.invoiceID else { return }
            state.invoices[invoice] = "paid"
            state.subscriptions[subscription]?.status = "active"
        }
    }

    /// What happens to an unpaid subscription just before the next void of its invoice reaches
    /// Stripe, which then refuses the void as it refuses any for an invoice no longer open.
    public enum VoidRace: Sendable {
        /// The customer pays the invoice: it is paid, the subscription active.
        case paid
        /// The subscription expires unpaid: Stripe voids the invoice itself.
        case expired
    }

    public func beforeNextVoid(_ race: VoidRace) {
        state.withLock { $0.voidRace = race }
    }

    /// Runs `action` once the next cancellation is made, before its answer leaves: as when
    /// Stripe's webhook of it reaches the platform before the answer does.
    public func afterNextCancel(_ action: @escaping @Sendable () async -> Void) {
        state.withLock { $0.afterNextCancel = action }
    }

    /// Runs `action` once the next request of `method` arrives, before it is handled: as when
    /// something changes at Stripe (a customer pays) while the platform's call is on its way.
    public func beforeNext(_ method: String, _ action: @escaping @Sendable () async -> Void) {
        state.withLock { $0.beforeNext = (method, action) }
    }

    /// Runs `body` with the fake listening on a loopback port; its argument is the base URL.
    public static func with<Result: Sendable>(_ body: (FakeStripe, String) async throws -> Result) async throws -> Result {
        let fake = FakeStripe()
        var logger = Logger(label: "test.fake-stripe")
        logger.logLevel = .critical
        let router = Router()
        router.post("/v1/customers") { request, _ in await fake.serve(request) }
        router.post("/v1/subscriptions") { request, _ in await fake.serve(request) }
        router.get("/v1/subscriptions/:id") { request, _ in await fake.serve(request) }
        router.post("/v1/subscriptions/:id") { request, _ in await fake.serve(request) }
        router.delete("/v1/subscriptions/:id") { request, _ in await fake.serve(request) }
        router.post("/v1/invoices/:id/void") { request, _ in await fake.serve(request) }
        return try await ListeningServices.serve(router, logger: logger) { base in
            try await body(fake, base)
        }
    }

    private func serve(_ request: Request) async -> Response {
        var request = request
        let bytes = (try? await request.collectBody(upTo: 1 << 20)) ?? ByteBuffer()
        // Stripe takes GET and DELETE parameters in the query string.
        let form = Self.parseForm(request.method == .post ? String(buffer: bytes) : request.uri.query ?? "")
        let key = request.headers[.init("Idempotency-Key")!]
        let path = request.uri.path
        let method = request.method.rawValue
        let delay = state.withLock { $0.delay }
        if delay > .zero { try? await Task.sleep(for: delay) }
        let before = state.withLock { state -> (@Sendable () async -> Void)? in
            guard let hook = state.beforeNext, hook.method == method else { return nil }
            state.beforeNext = nil
            return hook.action
        }
        await before?()
        let (status, body) = state.withLock { state -> (Int, String) in
            state.requests.append(Recorded(method: method, path: path, idempotencyKey: key, form: form))
            if let failure = state.failures.firstIndex(where: { ($0.method ?? method) == method && ($0.path ?? path) == path }) {
                let (_, _, status, body, kept) = state.failures.remove(at: failure)
                if kept, let key { state.replies["\(method) \(path) \(key)"] = (status, body) }
                return (status, body)
            }
            guard request.headers[.authorization] == "Bearer \(Self.secretKey)" else {
                return (401, #"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}"#)
            }
            // Stripe replays the first response to a repeated idempotency key.
            if let key, let reply = state.replies["\(method) \(path) \(key)"] { return reply }
            let reply = Self.handle(method: method, path: path, form: form, &state, periodEnd: periodEnd)
            if let key, method == "POST" { state.replies["\(method) \(path) \(key)"] = reply }
            return reply
        }
        if method == "DELETE", let action = state.withLock({ state in defer { state.afterNextCancel = nil }; return state.afterNextCancel }) {
            await action()
        }
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func handle(method: String, path: String, form: [String: String], _ state: inout State, periodEnd: Int64) -> (Int, String) {
        func missing(_ what: String) -> (Int, String) {
            (404, #"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such \#(what)"}}"#)
        }
        func param(_ name: String) -> (Int, String) {
            (400, #"{"error":{"type":"invalid_request_error","code":"parameter_missing","message":"Missing required param: \#(name)."}}"#)
        }
        state.counter += 1
        let n = state.counter
        let parts = path.split(separator: "/").map(String.init)
        switch (method, parts.count) {
        case ("POST", 2) where parts[1] == "customers":
            let id = "cus_fake\(n)"
            state.customers[id] = form
            return (200, #"{"id":"\#(id)","object":"customer","name":"\#(form["name"] ?? "")","email":"\#(form["email"] ?? "")"}"#)
        case ("POST", 2):
            guard let customer = form["customer"] else { return param("customer") }
            guard state.customers[customer] != nil else { return missing("customer: '\(customer)'") }
            guard let price = form["items[0][price]"] else { return param("items[0][price]") }
            let trialEnd = form["trial_end"].flatMap { Int64($0) }
            let subscription = Subscription(
                id: "sub_fake\(n)", customer: customer, itemID: "si_fake\(n)", price: price,
                status: trialEnd == nil ? "incomplete" : "trialing", trialEnd: trialEnd,
                metadata: form.filter { $0.key.hasPrefix("metadata[") }, invoiceID: "in_fake\(n)")
            state.subscriptions[subscription.id] = subscription
            state.invoices[subscription.invoiceID] = trialEnd == nil ? "open" : "paid"
            return (200, json(subscription, periodEnd: periodEnd, invoiceStatus: state.invoices[subscription.invoiceID], expandInvoice: form["expand[]"] == "latest_invoice"))
        case ("POST", 4) where parts[1] == "invoices" && parts[3] == "void":
            if let race = state.voidRace, let raced = state.subscriptions.values.first(where: { $0.invoiceID == parts[2] }) {
                state.voidRace = nil
                state.invoices[parts[2]] = race == .paid ? "paid" : "void"
                state.subscriptions[raced.id]?.status = race == .paid ? "active" : "incomplete_expired"
            }
            guard let status = state.invoices[parts[2]] else { return missing("invoice: '\(parts[2])'") }
            guard status == "open" else {
                return (400, #"{"error":{"type":"invalid_request_error","code":"invoice_not_open","message":"You can only pass in open or uncollectible invoices."}}"#)
            }
            state.invoices[parts[2]] = "void"
            return (200, #"{"id":"\#(parts[2])","object":"invoice","status":"void"}"#)
        case ("GET", 3):
            guard let subscription = state.subscriptions[parts[2]] else { return missing("subscription: '\(parts[2])'") }
            return (200, json(subscription, periodEnd: periodEnd, invoiceStatus: state.invoices[subscription.invoiceID], expandInvoice: form["expand[]"] == "latest_invoice"))
        case ("DELETE", 3):
            guard var subscription = state.subscriptions[parts[2]] else { return missing("subscription: '\(parts[2])'") }
            guard subscription.status != "canceled" else {
                return (400, #"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such subscription: '\#(subscription.id)'"}}"#)
            }
            subscription.status = "canceled"
            state.subscriptions[subscription.id] = subscription
            return (200, json(subscription, periodEnd: periodEnd, invoiceStatus: state.invoices[subscription.invoiceID]))
        case ("POST", 3):
            guard var subscription = state.subscriptions[parts[2]] else { return missing("subscription: '\(parts[2])'") }
            guard subscription.status != "canceled" else {
                return (400, #"{"error":{"type":"invalid_request_error","message":"A canceled subscription can only update its cancellation_details and metadata."}}"#)
            }
            guard subscription.status != "incomplete" else {
                return (400, #"{"error":{"type":"invalid_request_error","message":"A subscription in status incomplete can only have metadata and default_source updated."}}"#)
            }
            if let trialEnd = form["trial_end"].flatMap({ Int64($0) }), form["items[0][id]"] == nil {
                subscription.trialEnd = trialEnd
                state.subscriptions[subscription.id] = subscription
                return (200, json(subscription, periodEnd: periodEnd, invoiceStatus: state.invoices[subscription.invoiceID]))
            }
            guard form["items[0][id]"] == subscription.itemID else { return missing("subscription item") }
            guard let price = form["items[0][price]"] else { return param("items[0][price]") }
            subscription.price = price
            state.subscriptions[subscription.id] = subscription
            return (200, json(subscription, periodEnd: periodEnd, invoiceStatus: state.invoices[subscription.invoiceID], expandInvoice: form["expand[]"] == "latest_invoice"))
        default:
            return missing("route")
        }
    }

    /// The subscription as Stripe writes it; `latest_invoice` is the invoice's id unless the
    /// request asked to expand it.
    private static func json(_ subscription: Subscription, periodEnd: Int64, invoiceStatus: String?, expandInvoice: Bool = false) -> String {
        let trial = subscription.trialEnd.map(String.init) ?? "null"
        let invoice = expandInvoice
            ? #"{"id":"\#(subscription.invoiceID)","object":"invoice","status":"\#(invoiceStatus ?? "open")","hosted_invoice_url":"\#(invoicePage(subscription.invoiceID))"}"#
            : #""\#(subscription.invoiceID)""#
        return """
            {"id":"\(subscription.id)","object":"subscription","customer":"\(subscription.customer)","status":"\(subscription.status)",\
            "trial_end":\(trial),"latest_invoice":\(invoice),"items":{"object":"list","data":[{"id":"\(subscription.itemID)","object":"subscription_item",\
            "price":{"id":"\(subscription.price)","object":"price"},"current_period_end":\(periodEnd)}]}}
            """
    }

    static func parseForm(_ body: String) -> [String: String] {
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            form[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return form
    }
}
