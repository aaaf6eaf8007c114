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

    /// Throws FAILED_PRECONDITION `feature_not_in_plan` unless `tier` includes `feature`, with the
    /// feature, the current tier and the tier to upgrade to in the error's metadata. The
    /// pipeline's plan gate and handlers that gate a field value (an IVR mode, say) both use it.
    public static func require(_ feature: Feature, in tier: Tier) throws {
        guard !hasFeature(tier, feature) else { return }
        var metadata = ["feature": feature.rawValue, "current_tier": tier.rawValue]
        metadata["required_tier"] = lowestTier(with: feature)?.rawValue
        throw ServiceError.failedPrecondition(
            reason: "feature_not_in_plan",
            message: "\(feature.rawValue) is not in the \(tier.rawValue) plan; upgrade to \(metadata["required_tier"] ?? "a higher tier")",
            metadata: metadata)
    }
}
