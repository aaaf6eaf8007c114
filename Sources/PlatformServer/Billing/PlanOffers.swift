import Foundation
import RPCRuntime
import ServiceProAPI

/// The plans as offered: the feature table of `PlanCatalog` plus names, prices and trials.
enum PlanOffers {
    /// Every plan starts with the same trial.
    static let trialDays = 14

    /// When a trial that starts `now` ends.
    static func trialEnd(from now: Date) -> Date { now.addingTimeInterval(Double(trialDays) * 86_400) }

    static func plans(stripe: StripeSettings?) -> [Plan] {
        PlanCatalog.Tier.allCases.map { plan($0, stripe: stripe) }
    }

    static func plan(_ tier: PlanCatalog.Tier, stripe: StripeSettings?) -> Plan {
        Plan.with {
            $0.name = "plans/\(tier.rawValue)"
            $0.tier = PlanTier(tier)
            $0.displayName = displayName(tier)
            $0.features = features(of: tier)
            $0.trialDays = Int32(trialDays)
            $0.monthlyPriceCents = monthlyPriceCents(tier)
            $0.currencyCode = "USD"
            $0.stripePriceID = stripe?.priceIDs[tier] ?? ""
        }
    }

    /// In `Feature` declaration order, so listings read the same every time.
    static func features(of tier: PlanCatalog.Tier) -> [Servicepro_Options_V1_Feature] {
        Feature.allCases.filter { PlanCatalog.hasFeature(tier, $0) }.map(Servicepro_Options_V1_Feature.init)
    }

    private static func displayName(_ tier: PlanCatalog.Tier) -> String {
        switch tier {
        case .starter: return "Starter"
        case .pro: return "Pro"
        case .elite: return "Elite"
        }
    }

    private static func monthlyPriceCents(_ tier: PlanCatalog.Tier) -> Int64 {
        switch tier {
        case .starter: return 49_00
        case .pro: return 99_00
        case .elite: return 199_00
        }
    }
}

extension PlanTier {
    init(_ tier: PlanCatalog.Tier) {
        switch tier {
        case .starter: self = .starter
        case .pro: self = .pro
        case .elite: self = .elite
        }
    }
}

extension Servicepro_Options_V1_Feature {
    init(_ feature: Feature) {
        switch feature {
        case .sms: self = .sms
        case .callForwarding: self = .callForwarding
        case .ivr: self = .ivr
        case .aiVoice: self = .aiVoice
        case .industryAutomations: self = .industryAutomations
        case .website: self = .website
        case .conciergeExtras: self = .conciergeExtras
        case .dataExport: self = .dataExport
        case .partnerAPI: self = .partnerApi
        }
    }
}
