import RPCRuntime
import Testing

/// Form bodies as Twilio posts them, decoded without Foundation, and what the encoder writes
/// decoding back to what it was given.
@Suite("Form encoding")
struct FormEncodingTests {
    private func decode(_ body: String) -> [(String, String)]? {
        FormEncoding.decode(Array(body.utf8))
    }

    private func flat(_ pairs: [(String, String)]?) -> [String]? {
        pairs?.map { "\($0.0)=\($0.1)" }
    }

    @Test("plus is a space, escapes are bytes, order and repeats are kept")
    func decodesTwilioBodies() {
        #expect(flat(decode("Body=Hi+there%21&To=%2B19185550101&MediaUrl0=a&MediaUrl0=b")) == [
            "Body=Hi there!", "To=+19185550101", "MediaUrl0=a", "MediaUrl0=b",
        ])
        #expect(flat(decode("Body=%C3%A9t%C3%A9+%F0%9F%9A%97")) == ["Body=été 🚗"])
        #expect(flat(decode("Body=%2b%2B")) == ["Body=++"], "hex digits in either case")
    }

    @Test("a missing value, an empty value and empty pairs")
    func edgesOfPairs() {
        #expect(flat(decode("Digits&Body=&&SpeechResult=yes=please")) == ["Digits=", "Body=", "SpeechResult=yes=please"])
        #expect(flat(decode("")) == [])
    }

    @Test("a malformed escape or bytes that are not UTF-8 are refused", arguments: ["Body=%", "Body=%4", "Body=%zz", "Body=%FF", "%C3=x"])
    func refusesMalformed(body: String) {
        #expect(decode(body) == nil)
    }

    @Test("what encode writes decodes back to the same pairs")
    func roundTrip() {
        let pairs = [("items[0][price]", "price_123"), ("Body", "50% off & more = good? ✓"), ("Body", "+1 (918) 555-0101"), ("empty", "")]
        #expect(flat(decode(FormEncoding.encode(pairs))) == flat(pairs))
    }

    @Test("everything but ASCII letters, digits and -._~ is escaped, non-ASCII letters too")
    func escapesBytes() {
        #expect(FormEncoding.encode([("Body", "Café ✓ a+b&c=d"), ("items[0]", "-._~")])
            == "Body=Caf%C3%A9%20%E2%9C%93%20a%2Bb%26c%3Dd&items%5B0%5D=-._~")
        #expect(FormEncoding.encode([]) == "")
        #expect(FormEncoding.encode([("", "")]) == "=")
    }
}
