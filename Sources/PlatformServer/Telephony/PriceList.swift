import Foundation
import ServiceProAPI

/// What a caller who presses "services and prices" hears and is texted: the tenant's own
/// services, each with its price, in the order the tenant lists them.
struct PriceList {
    let services: [ServiceOffering]

    /// The tenant's services as its industry packs and its own edits left them. An item that no
    /// longer reads as a service is left out rather than read out wrong.
    static func read(_ tx: TenantTransaction) async throws -> PriceList {
        let items = try await PackItemRecords.all(tx, kind: .service)
        return PriceList(services: items.compactMap { try? $0.decoded(ServiceOffering.self) })
    }

    /// The listed service `name` names, case aside.
    func service(named name: String) -> ServiceOffering? {
        services.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// "Acme Detailing's services: Full Detail, $249. Interior Detail, $169." Written to be read
    /// aloud as well as texted: speech engines say "$249" as "249 dollars". As many services as
    /// fit in `limit` characters (one text); nil when the tenant lists none.
    func text(businessName: String?, limit: Int = OutboxRecords.maxTextLength) -> String? {
        var text = businessName.map { "\($0)'s services:" } ?? "Our services:"
        var listed = 0
        for service in services where !service.name.isEmpty {
            let line = service.priceCents > 0
                ? " \(service.name), \(Self.price(service.priceCents, currencyCode: service.currencyCode))." : " \(service.name)."
            guard text.count + line.count <= limit else { break }
            text += line
            listed += 1
        }
        return listed > 0 ? text : nil
    }

    /// `minorUnits` of the currency as a person writes it: "$249", "$89.50", "¥5,000".
    static func price(_ minorUnits: Int64, currencyCode: String) -> String {
        let code = currencyCode.isEmpty ? "USD" : currencyCode
        let digits = minorDigits(code)
        let unit = (0..<digits).reduce(Int64(1)) { unit, _ in unit * 10 }
        let amount = Decimal(minorUnits) / Decimal(unit)
        let style = Decimal.FormatStyle.Currency(code: code, locale: Locale(identifier: "en_US"))
        // Whole amounts without ".00": shorter to read and to hear. ICU puts a no-break space
        // after a currency code; a plain one keeps the text in SMS's 7-bit alphabet.
        return amount.formatted(style.precision(.fractionLength(minorUnits.isMultiple(of: unit) ? 0 : digits)))
            .replacing("\u{A0}", with: " ").replacing("\u{202F}", with: " ")
    }

    /// How many digits ISO 4217 gives the currency's minor unit, the unit prices are kept in.
    /// ICU's display digits are no substitute: it shows whole Serbian dinars, say, though a
    /// dinar has 100 paras.
    static func minorDigits(_ currencyCode: String) -> Int {
        switch currencyCode {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF": 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND": 3
        case "CLF", "UYW": 4
        default: 2
        }
    }
}
