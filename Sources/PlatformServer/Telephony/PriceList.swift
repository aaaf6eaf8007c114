import Foundation
import ServiceProAPI

/// What a caller who presses "services and prices" hears and is texted: the tenant's own
/// services, each with its price, in the order the tenant lists them.
struct PriceList {
    let services: [ServiceOffering]

    /// The tenant's services as its industry pack and its own edits left them. An item that no
    /// longer reads as a service is left out rather than read out wrong.
    static func read(_ tx: TenantTransaction) async throws -> PriceList {
        let items = try await PackItemRecords.all(tx, kind: .service)
        return PriceList(services: items.compactMap { try? $0.decoded(ServiceOffering.self) })
    }

    /// "Acme Detailing's services: Full Detail, $249. Interior Detail, $169." Written to be read
    /// aloud as well as texted: speech engines say "$249" as "249 dollars". Nil when the tenant
    /// lists no services.
    func text(businessName: String?) -> String? {
        let lines = services.filter { !$0.name.isEmpty }.map { service in
            service.priceCents > 0 ? "\(service.name), \(Self.price(service.priceCents, currencyCode: service.currencyCode))." : "\(service.name)."
        }
        guard !lines.isEmpty else { return nil }
        return (businessName.map { "\($0)'s services: " } ?? "Our services: ") + lines.joined(separator: " ")
    }

    /// `minorUnits` of the currency as a person writes it: "$249", "$89.50", "¥5,000". The
    /// currency's own number of minor digits comes from how it writes zero ("$0.00", "¥0").
    static func price(_ minorUnits: Int64, currencyCode: String) -> String {
        let style = Decimal.FormatStyle.Currency(code: currencyCode.isEmpty ? "USD" : currencyCode, locale: Locale(identifier: "en_US"))
        let zero = Decimal(0).formatted(style)
        let digits = zero.split(separator: ".").dropFirst().first.map { $0.prefix(while: \.isNumber).count } ?? 0
        let unit = (0..<digits).reduce(Int64(1)) { unit, _ in unit * 10 }
        var amount = Decimal(minorUnits)
        for _ in 0..<digits { amount /= 10 }
        // Whole amounts without ".00": shorter to read and to hear. ICU puts a no-break space
        // after a currency code; a plain one keeps the text in SMS's 7-bit alphabet.
        return amount.formatted(style.precision(.fractionLength(minorUnits.isMultiple(of: unit) ? 0 : digits)))
            .replacing("\u{A0}", with: " ").replacing("\u{202F}", with: " ")
    }
}
