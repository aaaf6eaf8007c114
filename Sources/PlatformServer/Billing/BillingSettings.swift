import Foundation
import RPCRuntime

/// How billing behaves: Stripe's credentials and prices, and the lifecycle's time windows.
public struct BillingSettings: Sendable {
    /// Stripe's API; nil when no secret key is configured, and plan changes then apply directly.
    public var stripe: StripeSettings?
    /// Stripe webhook signing secrets (`whsec_...`). Several while one is being rotated out.
    public var webhookSecrets: [String]
    /// How long a past-due tenant keeps full access before it is suspended.
    public var gracePeriod: TimeInterval
    /// How long a cancelled tenant can still export before its data is purged (a suspended one
    /// keeps its data).
    public var retentionWindow: TimeInterval
    /// Where a trial that ends without a subscription goes: suspended (the default) or cancelled.
    public var trialExpiryStatus: TenantAccess.Status
    /// How often the lifecycle job looks for expired trials and grace periods.
    public var lifecycleInterval: Duration

    public init(
        stripe: StripeSettings? = nil,
        webhookSecrets: [String] = [],
        gracePeriod: TimeInterval = 7 * 86_400,
        retentionWindow: TimeInterval = 90 * 86_400,
        trialExpiryStatus: TenantAccess.Status = .suspended,
        lifecycleInterval: Duration = .seconds(60)
    ) {
        self.stripe = stripe
        self.webhookSecrets = webhookSecrets
        self.gracePeriod = gracePeriod
        self.retentionWindow = retentionWindow
        self.trialExpiryStatus = trialExpiryStatus
        self.lifecycleInterval = lifecycleInterval
    }

    /// Reads `SERVICEPRO_STRIPE_SECRET_KEY`, `SERVICEPRO_STRIPE_API_URL`,
    /// `SERVICEPRO_STRIPE_WEBHOOK_SECRETS` (comma-separated) and
    /// `SERVICEPRO_STRIPE_PRICE_{STARTER,PRO,ELITE}`. Empty values count as unset.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> BillingSettings {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        var settings = BillingSettings()
        settings.webhookSecrets = StripeSignature.secrets(fromList: environment["SERVICEPRO_STRIPE_WEBHOOK_SECRETS"])
        if let key = value("SERVICEPRO_STRIPE_SECRET_KEY") {
            var prices: [PlanCatalog.Tier: String] = [:]
            for tier in PlanCatalog.Tier.allCases {
                prices[tier] = value("SERVICEPRO_STRIPE_PRICE_\(tier.rawValue.uppercased())")
            }
            settings.stripe = StripeSettings(
                secretKey: key,
                apiURL: value("SERVICEPRO_STRIPE_API_URL") ?? StripeSettings.defaultAPIURL,
                priceIDs: prices)
        }
        return settings
    }
}

/// Stripe's API endpoint, key and the Price of each tier.
public struct StripeSettings: Sendable {
    public static let defaultAPIURL = "https://api.stripe.com"

    public var secretKey: String
    /// Stripe's base URL; a local fake's in tests.
    public var apiURL: String
    public var priceIDs: [PlanCatalog.Tier: String]

    public init(secretKey: String, apiURL: String = defaultAPIURL, priceIDs: [PlanCatalog.Tier: String]) {
        self.secretKey = secretKey
        self.apiURL = apiURL
        self.priceIDs = priceIDs
    }

    /// The tier whose Price this is, to read a subscription Stripe reports.
    func tier(ofPrice priceID: String) -> PlanCatalog.Tier? {
        priceIDs.first { $0.value == priceID }?.key
    }
}
