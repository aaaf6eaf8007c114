import Foundation
import ServiceProAPI
import SwiftProtobuf
import Testing

@testable import PlatformServer

/// The placeholder receptionist's own answers: prices and FAQs by the words a caller says, and
/// nothing it is not sure of.
@Suite("Receptionist answers")
struct ReceptionistAnswersTests {
    static let answers = ReceptionistAnswers(
        faqs: [
            .with { $0.question = "Do you come to me?"; $0.answer = "Yes, we're fully mobile." },
            .with { $0.question = "How long does a full detail take?"; $0.answer = "About four hours." },
            .with { $0.question = "What should I do before you arrive?"; $0.answer = "Take out your belongings." },
        ],
        services: [
            .with { $0.name = "Full Detail"; $0.priceCents = 24_900; $0.currencyCode = "USD"; $0.duration = .init(seconds: 14_400) },
            .with { $0.name = "Interior Detail"; $0.priceCents = 16_900; $0.currencyCode = "USD"; $0.duration = .init(seconds: 9_000) },
            .with { $0.name = "Exterior Wash"; $0.priceCents = 8_950; $0.currencyCode = "USD"; $0.duration = .init(seconds: 5_400) },
        ])

    @Test("a named service's price, the FAQ whose words were said, the price list when no service was named")
    func answers() {
        let answers = Self.answers
        #expect(answers.answer(to: "How much is a full detail?") == "A Full Detail is $249 and takes about 4 hours.")
        #expect(answers.answer(to: "what do you charge for an interior detail") == "An Interior Detail is $169 and takes about 2 and a half hours.")
        #expect(answers.answer(to: "price of the exterior wash?") == "An Exterior Wash is $89.50 and takes an hour and a half.")
        #expect(answers.answer(to: "do you guys come to my house") == "Yes, we're fully mobile.")
        #expect(answers.answer(to: "How long will the full detail take?") == "A Full Detail takes about 4 hours.", "from the catalog")
        #expect(answers.answer(to: "how long does an interior detail take") == "An Interior Detail takes about 2 and a half hours.",
                "not the full detail's FAQ")
        #expect(answers.answer(to: "what do I need to do before you arrive") == "Take out your belongings.")
        #expect(answers.answer(to: "how much do you charge")?.hasPrefix("Our services: Full Detail, $249.") == true)
    }

    @Test("a booking, a request or half a question is not answered, and goes to a person")
    func notAnswered() {
        let answers = Self.answers
        #expect(answers.answer(to: "I'd like a full detail on Friday") == nil)
        #expect(answers.answer(to: "can someone call me back") == nil)
        #expect(answers.answer(to: "the detail") == nil)
        #expect(ReceptionistAnswers(faqs: [], services: []).answer(to: "how much is it") == nil, "no services, no price list")
        // Requests that share words with an FAQ or ask a price are still requests.
        #expect(answers.answer(to: "can you come Saturday for a full detail") == nil)
        #expect(answers.answer(to: "I want to come by before you arrive") == nil)
        #expect(answers.answer(to: "How much notice do you need to cancel?") == nil)
        #expect(answers.answer(to: "do you charge extra if it rains") == nil, "not the whole price list")
        #expect(answers.answer(to: "a quote please") == nil)
        #expect(answers.answer(to: "what's the price difference between a full detail and an interior detail") == nil, "two services")
        let inspection = ReceptionistAnswers(services: [.with { $0.name = "Free Inspection"; $0.priceCents = 0 }])
        #expect(inspection.answer(to: "how much is a free inspection") == nil, "a service without a price is a person's to quote")
        #expect(Self.answers.answer(to: "how much is an estimate") == nil, "an estimate is a request")
        let grooming = ReceptionistAnswers(services: [
            .with { $0.name = "Full Groom"; $0.priceCents = 6_500; $0.currencyCode = "USD" },
            .with { $0.name = "Full Groom (Small Dog)"; $0.priceCents = 5_500; $0.currencyCode = "USD" },
            .with { $0.name = "Deep Clean"; $0.priceCents = 25_000; $0.currencyCode = "USD" },
        ])
        #expect(grooming.answer(to: "how much is a full groom for a small dog") == "A Full Groom (Small Dog) is $55.", "the longer name")
        #expect(grooming.answer(to: "how much is a deep cleaning") == "A Deep Clean is $250.", "cleaning is clean")
    }

    @Test("a caller who is done is told goodbye; one who says more is not")
    func farewells() {
        for done in [
            "no", "No thanks, that's all", "nope, that's it", "thank you, bye", "Goodbye!", "no thank you, have a nice day",
            "Thank you so much", "Perfect, thanks", "I'm all set", "That's all I needed", "okay",
        ] {
            #expect(ReceptionistAnswers.isFarewell(done), "\(done)")
        }
        for more in ["no, I want to book a detail", "thanks, can you come Friday", "", "yes"] {
            #expect(!ReceptionistAnswers.isFarewell(more), "\(more)")
        }
        #expect(ReceptionistAnswers.isYes("Yes"))
        #expect(ReceptionistAnswers.isYes("yeah I have one more question"))
        #expect(!ReceptionistAnswers.isYes("yes how much is a full detail"))
    }

    @Test("lengths as a receptionist says them")
    func spokenLengths() {
        #expect(ReceptionistAnswers.spoken(seconds: 2_700) == "45 minutes")
        #expect(ReceptionistAnswers.spoken(seconds: 3_600) == "about an hour")
        #expect(ReceptionistAnswers.spoken(seconds: 5_400) == "an hour and a half")
        #expect(ReceptionistAnswers.spoken(seconds: 14_400) == "about 4 hours")
        #expect(ReceptionistAnswers.spoken(seconds: 13_500) == "about 4 hours")
    }
}
