import Foundation
import ServiceProAPI

/// What a receptionist can answer on its own from what the business tells its customers: the
/// price of a service ("how much is a full detail?") and a question one of its FAQs answers
/// ("do you guys come to my house?"). Anything else, a booking above all, is for a person.
///
/// Matching is by words, not meaning: an FAQ answers when most of its question's words (less the
/// small ones) were said, and a price when a service's whole name was said with a word that asks
/// for a price. It errs towards passing a caller on rather than answering the wrong question.
public struct ReceptionistAnswers: Sendable {
    /// Answers with `{{business_name}}` already filled in.
    public var faqs: [Faq]
    public var services: [ServiceOffering]

    public init(faqs: [Faq] = [], services: [ServiceOffering] = []) {
        self.faqs = faqs
        self.services = services
    }

    /// The share of an FAQ question's words a caller must say for its answer to be given.
    static let leastFAQOverlap = 0.6

    /// What to say to `speech`; nil when it is not a question these answer.
    public func answer(to speech: String) -> String? {
        let said = Set(Self.words(in: speech))
        let asksPrice = Self.asksPrice(speech, said)
        if asksPrice, let service = namedService(in: said) { return priceAnswer(for: service) }
        if let faq = bestFAQ(for: said) { return faq.answer }
        if asksPrice { return PriceList(services: services).text(businessName: nil) }
        return nil
    }

    /// Whether `speech` ends the conversation: "no thanks", "that's all", "bye".
    public static func isFarewell(_ speech: String) -> Bool {
        let said = words(in: speech, keepingSmall: true)
        return !said.isEmpty && said.allSatisfy(farewellWords.contains) && said.contains(where: farewellMarkers.contains)
    }

    private func bestFAQ(for said: Set<String>) -> Faq? {
        var best: (faq: Faq, share: Double)?
        for faq in faqs where !faq.answer.isEmpty {
            let asked = Set(Self.words(in: faq.question))
            guard !asked.isEmpty else { continue }
            let heard = asked.intersection(said).count
            let share = Double(heard) / Double(asked.count)
            guard heard >= min(2, asked.count), share >= Self.leastFAQOverlap, share > (best?.share ?? 0) else { continue }
            best = (faq, share)
        }
        return best?.faq
    }

    /// The service whose whole name was said; the longest name when several were.
    private func namedService(in said: Set<String>) -> ServiceOffering? {
        services
            .map { (service: $0, name: Set(Self.words(in: $0.name))) }
            .filter { !$0.name.isEmpty && $0.name.isSubset(of: said) }
            .max { $0.name.count < $1.name.count }?.service
    }

    /// "A Full Detail is $249 and takes about 4 hours."
    private func priceAnswer(for service: ServiceOffering) -> String {
        let article = "AEIOUaeiou".contains(service.name.first ?? "x") ? "An" : "A"
        var answer = service.priceCents > 0
            ? "\(article) \(service.name) is \(PriceList.price(service.priceCents, currencyCode: service.currencyCode))"
            : "The price of \(article.lowercased()) \(service.name) depends on the job"
        if service.hasDuration, service.duration.seconds > 0 { answer += " and takes \(Self.spoken(seconds: service.duration.seconds))" }
        return answer + "."
    }

    private static func asksPrice(_ speech: String, _ said: Set<String>) -> Bool {
        !said.isDisjoint(with: ["price", "cost", "charge", "rate", "quote"]) || speech.lowercased().contains("how much")
    }

    /// "about 4 hours", "an hour and a half", "45 minutes".
    static func spoken(seconds: Int64) -> String {
        let minutes = Int((Double(seconds) / 60).rounded())
        if minutes < 60 { return "\(max(minutes, 1)) minutes" }
        let hours = minutes / 60
        let half = (15..<45).contains(minutes % 60)
        let rounded = minutes % 60 >= 45 ? hours + 1 : hours
        if half { return hours == 1 ? "an hour and a half" : "about \(hours) and a half hours" }
        return rounded == 1 ? "about an hour" : "about \(rounded) hours"
    }

    /// The words of `text` that carry its meaning: lower case, apostrophes dropped ("don't" is
    /// "dont"), plural "s" taken off, the small words left out unless `keepingSmall`.
    static func words(in text: String, keepingSmall: Bool = false) -> [String] {
        text.lowercased().replacingOccurrences(of: "'", with: "").replacingOccurrences(of: "\u{2019}", with: "")
            .split { !$0.isLetter && !$0.isNumber }
            .map { word in word.count > 3 && word.hasSuffix("s") && !word.hasSuffix("ss") ? String(word.dropLast()) : String(word) }
            .filter { keepingSmall || !smallWords.contains($0) }
    }

    private static let smallWords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by", "about", "into",
        "i", "im", "id", "me", "my", "we", "us", "our", "you", "your", "youre", "yall", "guy", "it", "its", "this", "that", "there",
        "do", "doe", "did", "is", "are", "was", "be", "been", "can", "could", "would", "will", "should", "have", "has", "get",
        "what", "which", "who", "how", "when", "where", "why", "if", "so", "just", "any", "some", "much", "many",
        "hi", "hello", "hey", "please", "like", "want", "need", "know", "tell", "wondering", "question", "ask",
    ]
    private static let farewellWords: Set<String> = [
        "no", "nope", "nah", "thank", "you", "that", "all", "it", "bye", "goodbye", "im", "i", "am", "good",
        "fine", "ok", "okay", "for", "now", "have", "a", "nice", "day", "great", "cool", "alright", "then",
    ]
    /// "thats" and "thanks" read as "that" and "thank" once their "s" is taken off.
    private static let farewellMarkers: Set<String> = ["no", "nope", "nah", "bye", "goodbye", "that", "thank"]
}
