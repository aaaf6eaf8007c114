/// Plan features that gate methods.
public enum Feature: String, Sendable, Hashable, CaseIterable {
    case sms
    case callForwarding = "call_forwarding"
    case ivr
    case aiVoice = "ai_voice"
    case industryAutomations = "industry_automations"
    case website
    case conciergeExtras = "concierge_extras"
    case dataExport = "data_export"
    case partnerAPI = "partner_api"
}

/// Which plan includes which feature: the one table that feature gates and plan listings read.
public enum PlanCatalog {
    /// The three plans, cheapest first.
    public enum Tier: String, Sendable, Hashable, CaseIterable {
        case starter, pro, elite
    }

    public static let features: [Tier: Set<Feature>] = [
        .starter: [.sms, .callForwarding, .dataExport],
        .pro: [.sms, .callForwarding, .ivr, .industryAutomations, .website, .dataExport, .partnerAPI],
        .elite: Set(Feature.allCases),
    ]

    public static func hasFeature(_ tier: Tier, _ feature: Feature) -> Bool {
        features[tier, default: []].contains(feature)
    }

    /// The cheapest tier that includes the feature, to tell a tenant what to upgrade to.
    public static func lowestTier(with feature: Feature) -> Tier? {
        Tier.allCases.first { hasFeature($0, feature) }
    }
}
