import Foundation
import ServiceProAPI

/// What a receptionist can answer on its own from what the business tells its customers: the
/// price or length of a service ("how much is a full detail?"), the price list, and a question
/// one of its FAQs answers ("do you guys come to my house?"). Anything else, a booking or a
/// request above all, is for a person.
///
/// Matching is by words, not meaning, so it errs towards passing a caller on rather than
/// answering the wrong question: nothing that sounds like a request (a day, "book", "needs") is
/// answered; an FAQ answers only when most of its question's words were said and they are most of
/// what was said; a price or length only for exactly one service named in full.
public struct ReceptionistAnswers: Sendable {
    /// Answers with `{{business_name}}` already filled in.
    public var faqs: [Faq]
    public var services: [ServiceOffering]

    public init(faqs: [Faq] = [], services: [ServiceOffering] = []) {
        self.faqs = faqs
        self.services = services
    }

    /// The share of an FAQ question's words a caller must say, and of the caller's words the
    /// question must have, for its answer to be given.
    static let leastFAQOverlap = 0.6
    static let leastSpeechCovered = 0.5

    /// What to say to `speech`; nil when it is not a question these answer.
    public func answer(to speech: String) -> String? {
        let said = Set(Self.words(in: speech))
        guard !said.isEmpty, !Self.soundsLikeRequest(speech) else { return nil }
        let named = namedServices(in: said)
        if Self.asksPrice(speech, said) {
            if named.count == 1 { return priceAnswer(for: named[0]) }
            // The list only when price is all that was asked ("what are your prices?").
            guard named.isEmpty, said.isSubset(of: Self.priceWords) else { return nil }
            return PriceList(services: services).text(businessName: nil)
        }
        if Self.asksLength(speech, said), named.count == 1, let length = lengthAnswer(for: named[0]) { return length }
        return bestFAQ(for: said)?.answer
    }

    /// Whether `speech` ends the conversation: "no thanks", "that's all", "I'm all set".
    public static func isFarewell(_ speech: String) -> Bool {
        says(speech, onlyFrom: farewellWords, withOneOf: farewellMarkers)
    }

    /// Whether `speech` is a bare "yes": the caller has something else to ask.
    public static func isYes(_ speech: String) -> Bool {
        says(speech, onlyFrom: yesWords, withOneOf: yesMarkers)
    }

    /// Whether every word of `speech` is one of `words` and one of them is one of `markers`.
    private static func says(_ speech: String, onlyFrom words: Set<String>, withOneOf markers: Set<String>) -> Bool {
        let said = Self.words(in: speech, keepingSmall: true)
        return !said.isEmpty && said.allSatisfy(words.contains) && said.contains(where: markers.contains)
    }

    private func bestFAQ(for said: Set<String>) -> Faq? {
        var best: (faq: Faq, share: Double)?
        for faq in faqs where !faq.answer.isEmpty {
            let asked = Set(Self.words(in: faq.question))
            guard !asked.isEmpty else { continue }
            let heard = asked.intersection(said).count
            let share = Double(heard) / Double(asked.count)
            let covered = Double(heard) / Double(said.count)
            guard heard >= min(2, asked.count), share >= Self.leastFAQOverlap, covered >= Self.leastSpeechCovered,
                  share > (best?.share ?? 0)
            else { continue }
            best = (faq, share)
        }
        return best?.faq
    }

    /// The services whose whole name was said, less those whose name is part of a longer one
    /// said ("Full Groom (Small Dog)" over "Full Groom").
    private func namedServices(in said: Set<String>) -> [ServiceOffering] {
        let named = services.map { (service: $0, name: Set(Self.words(in: $0.name))) }.filter { !$0.name.isEmpty && $0.name.isSubset(of: said) }
        return named.filter { one in !named.contains { $0.name.count > one.name.count && one.name.isSubset(of: $0.name) } }.map(\.service)
    }

    /// "A Full Detail is $249 and takes about 4 hours."; nil for a service without a price (an
    /// estimate, say), which a person quotes.
    private func priceAnswer(for service: ServiceOffering) -> String? {
        guard service.priceCents > 0 else { return nil }
        var answer = "\(Self.article(service.name)) \(service.name) is \(PriceList.price(service.priceCents, currencyCode: service.currencyCode))"
        if service.hasDuration, service.duration.seconds > 0 { answer += " and takes \(Self.spoken(seconds: service.duration.seconds))" }
        return answer + "."
    }

    /// "An Interior Detail takes about 2 and a half hours."
    private func lengthAnswer(for service: ServiceOffering) -> String? {
        guard service.hasDuration, service.duration.seconds > 0 else { return nil }
        return "\(Self.article(service.name)) \(service.name) takes \(Self.spoken(seconds: service.duration.seconds))."
    }

    private static func article(_ name: String) -> String {
        "AEIOUaeiou".contains(name.first ?? "x") ? "An" : "A"
    }

    private static let priceWords: Set<String> = ["price", "cost", "charge", "rate"]

    private static func asksPrice(_ speech: String, _ said: Set<String>) -> Bool {
        !said.isDisjoint(with: priceWords) || speech.lowercased().contains("how much")
    }

    /// "How long does it take", not "how long does it last".
    private static func asksLength(_ speech: String, _ said: Set<String>) -> Bool {
        speech.lowercased().contains("how long") && said.contains("take")
    }

    /// A day, a booking word or a want: a request for a person, however much it shares with an FAQ.
    /// Looked for before stemming, which would make "needs" the "need" of a question.
    private static func soundsLikeRequest(_ speech: String) -> Bool {
        spokenWords(in: speech).contains(where: requestWords.contains)
    }

    private static let requestWords: Set<String> = [
        "book", "booking", "schedule", "reschedule", "cancel", "appointment", "available", "availability", "quote", "estimate",
        "today", "tomorrow", "tonight", "weekend", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "asap", "needs", "want", "wants", "wanna", "like", "bill",
    ]

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

    /// The words of `text` that carry its meaning: ``spokenWords(in:)`` stemmed, the small words
    /// left out unless `keepingSmall`.
    static func words(in text: String, keepingSmall: Bool = false) -> [String] {
        spokenWords(in: text).map(stem).filter { keepingSmall || !smallWords.contains($0) }
    }

    /// The words of `text` as said: lower case, apostrophes dropped ("don't" is "dont").
    private static func spokenWords(in text: String) -> [String] {
        text.lowercased().replacingOccurrences(of: "'", with: "").replacingOccurrences(of: "\u{2019}", with: "")
            .split { !$0.isLetter && !$0.isNumber }
            .map(String.init)
    }

    /// Endings taken off, so "mowing", "mowed" and "mows" are "mow": crude, but the same on both
    /// sides of a comparison.
    static func stem(_ word: String) -> String {
        if word.count > 5, word.hasSuffix("ing") { return String(word.dropLast(3)) }
        if word.count > 4, word.hasSuffix("ed") { return String(word.dropLast(2)) }
        if word.count > 3, word.hasSuffix("s"), !word.hasSuffix("ss") { return String(word.dropLast()) }
        return word
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
        "so", "much", "perfect", "set", "need", "what", "was", "just", "awesome", "appreciate", "very", "helpful",
    ]
    /// "thats" and "thanks" read as "that" and "thank" once their "s" is taken off; "set" as in
    /// "I'm all set". An "okay" on its own, after "anything else?", is a caller who is done.
    private static let farewellMarkers: Set<String> = [
        "no", "nope", "nah", "bye", "goodbye", "that", "thank", "set", "perfect", "ok", "okay", "alright", "great", "cool", "awesome",
    ]
    private static let yesWords: Set<String> = [
        "yes", "yeah", "yep", "sure", "actually", "um", "uh", "i", "do", "have", "one", "more", "thing", "question",
    ]
    private static let yesMarkers: Set<String> = ["yes", "yeah", "yep", "sure"]
}
