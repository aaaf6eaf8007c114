import Foundation
import RPCRuntime
import SwiftProtobuf
import ServiceProAPI
import Testing

@Suite("Field validation")
struct FieldCheckTests {
    @Test("E.164", arguments: [
        ("+19185551234", true), ("+447911123456", true), ("+12345678", true),
        ("19185551234", false), ("+0918555123", false), ("+1 918 555 1234", false), ("+1234567", false),
        ("+1234567890123456", false), ("+1918555123a", false),
    ])
    func e164(number: String, valid: Bool) {
        #expect(PhoneNumber.isE164(number) == valid)
    }

    @Test("trim removes whitespace and newlines at both ends, as Foundation's set defines them (zero-width space too), and nothing else", arguments: [
        ("acme", "acme"), ("  acme ", "acme"), ("\tacme\n", "acme"), ("\u{00A0}acme\u{3000}", "acme"), ("\r\n", ""),
        ("", ""), ("a b", "a b"), ("\u{200B}acme", "acme"), ("a\u{200B}b", "a\u{200B}b"), ("acme\u{0085}", "acme"),
    ])
    func trim(value: String, expected: String) {
        #expect(FieldCheck.trimmed(value) == expected)
        #expect(FieldCheck.trimmed(value) == value.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("patterns match the whole value")
    func patternsAreAnchored() {
        let pattern = FieldPattern("tenants/[a-z0-9][a-z0-9-]{0,62}")
        #expect(pattern.matches("tenants/acme"))
        #expect(!pattern.matches("xtenants/acme"))
        #expect(!pattern.matches("tenants/acme/extra"))
        for trailing in ["\n", "\r\n", "\u{2028}"] {
            #expect(!pattern.matches("tenants/acme" + trailing), "a line break after the value")
        }
    }

    @Test("numbers and durations in range pass; out of range, or NaN, say the range and the value")
    func ranges() {
        func violations(_ check: (inout [FieldViolation]) -> Void) -> [String] {
            var found: [FieldViolation] = []
            check(&found)
            return found.map(\.description)
        }
        #expect(violations { FieldCheck.range(Int32(0), minimum: 0, maximum: nil, "attempt", &$0) }.isEmpty)
        #expect(violations { FieldCheck.range(Int32(-1), minimum: 0, maximum: nil, "attempt", &$0) } == ["must be at least 0 (got -1)"])
        #expect(violations { FieldCheck.range(Int64.max, minimum: nil, maximum: 100, "count", &$0) } == ["must be at most 100 (got 9223372036854775807)"])
        #expect(violations { FieldCheck.range(Float(1), minimum: 0, maximum: 1, "confidence", &$0) }.isEmpty)
        #expect(violations { FieldCheck.range(Float(1.5), minimum: 0, maximum: 1, "confidence", &$0) } == ["must be from 0 to 1 (got 1.5)"])
        #expect(violations { FieldCheck.range(Float.nan, minimum: 0, maximum: 1, "confidence", &$0) } == ["must be from 0 to 1 (got nan)"])
        #expect(violations { FieldCheck.range(Double.nan, minimum: nil, maximum: nil, "x", &$0) } == ["must be a number (got nan)"])
        #expect(violations { FieldCheck.range(0.25, minimum: 0.5, maximum: nil, "x", &$0) } == ["must be at least 0.5 (got 0.25)"])
        #expect(violations { FieldCheck.range(Google_Protobuf_Duration(seconds: -5), minimum: 0, maximum: nil, "duration", &$0) }
            == ["must be at least 0s (got -5s)"])
        #expect(violations { FieldCheck.range(Google_Protobuf_Duration(seconds: 0, nanos: -1), minimum: 0, maximum: nil, "duration", &$0) }
            == ["must be at least 0s (got -1e-09s)"])
        #expect(violations { FieldCheck.range(Google_Protobuf_Duration(seconds: 0), minimum: 0, maximum: nil, "duration", &$0) }.isEmpty)
        #expect(violations { FieldCheck.maxItems(10, 10, "media_urls", &$0) }.isEmpty)
        #expect(violations { FieldCheck.maxItems(11, 10, "media_urls", &$0) } == ["must have at most 10 items (got 11)"])
    }

    @Test("an element of a list with a format is there to be checked: an empty one fails it")
    func emptyElements() {
        var found: [FieldViolation] = []
        FieldCheck.notEmpty("", "media_urls[0]", &found)
        FieldCheck.notEmpty("https://api.twilio.com/ME0", "media_urls[1]", &found)
        #expect(found.map(\.field) == ["media_urls[0]"])
        #expect(found.first?.description == "must not be empty")
        let text = HandleInboundMessageRequest.with { $0.messageSid = "SM" + String(repeating: "0", count: 32); $0.mediaUrls = ["https://api.twilio.com/ME0", ""] }
        #expect(text.fieldViolations.map(\.field) == ["media_urls[1]"])
    }

    @Test("generated validators apply the range and item rules where the proto declares them")
    func generatedRanges() {
        let turn = HandleAiVoiceTurnRequest.with { $0.callSid = "CA" + String(repeating: "0", count: 32); $0.confidence = 2; $0.attempt = -1 }
        #expect(turn.fieldViolations.map(\.field) == ["confidence", "attempt"])
        let status = RecordCallStatusRequest.with {
            $0.callSid = "CA" + String(repeating: "0", count: 32); $0.recordingDuration = .init(seconds: -1)
        }
        #expect(status.fieldViolations.map(\.field) == ["recording_duration"])
        let invoice = CreateInvoiceRequest.with {
            $0.parent = "tenants/acme"
            $0.invoice = .with { $0.taxCents = -1; $0.lines = [.with { $0.label = "Wash"; $0.quantity = 0; $0.unitPriceCents = -1 }] }
        }
        #expect(Set(invoice.fieldViolations.map(\.field)) == ["invoice.tax_cents", "invoice.lines[0].quantity", "invoice.lines[0].unit_price_cents"])
    }

    @Test("a list far past its max_items is refused on its count and a bounded number of problems, not one for each element")
    func oversizedListsStopEarly() {
        // A million empty lines is 2 MB on the wire, within gRPC's 4 MiB; each line breaks two rules.
        let invoice = CreateInvoiceRequest.with {
            $0.parent = "tenants/acme"
            $0.invoice = .with { $0.currencyCode = "USD"; $0.lines = Array(repeating: InvoiceLine(), count: 1_000_000) }
        }
        let violations = invoice.fieldViolations
        #expect(violations.first == FieldViolation(field: "invoice.lines", description: "must have at most 200 items (got 1000000)"))
        #expect(violations.count <= FieldViolation.collectedLimit + 2, "\(violations.count) violations collected")
        #expect(violations.contains { $0.field == "invoice.lines[0].label" })

        // Within max_items, every element is still checked.
        let lines = (0..<200).map { index in InvoiceLine.with { $0.label = "Wash"; $0.quantity = index == 199 ? 0 : 1 } }
        let lastBad = CreateInvoiceRequest.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.currencyCode = "USD"; $0.lines = lines } }
        #expect(lastBad.fieldViolations.map(\.field) == ["invoice.lines[199].quantity"])
    }

    @Test("generated validators check nested fields with their paths")
    func generatedValidator() {
        let request = CreateTenantRequest.with {
            $0.tenantID = "acme"
            $0.tenant = .with {
                $0.displayName = "Acme"
                $0.contact = .with { $0.phone = "555-1234" }
                $0.branding = .with { $0.primaryColor = "#12345G" }
            }
        }
        #expect(Set(request.fieldViolations.map(\.field)) == ["tenant.contact.phone", "tenant.branding.primary_color"])
        let fine = UpdateTenantRequest.with {
            $0.tenant = .with { $0.name = "tenants/acme"; $0.contact = .with { $0.phone = "+19185551234" } }
            $0.updateMask = .init(protoPaths: ["contact.phone"])
        }
        #expect(fine.fieldViolations.isEmpty)
    }

    @Test("an update's resource is checked only in the fields its mask names, and always in its name and etag")
    func updateMaskScope() {
        var request = UpdateTenantRequest.with {
            $0.tenant = .with {
                $0.name = "tenants/acme\u{0}"
                $0.etag = "\u{0}"
                $0.displayName = String(repeating: "x", count: 500)
                $0.contact = .with { $0.phone = "555-1234"; $0.email = "not an email" }
                $0.branding = .with { $0.primaryColor = "#12345G" }
            }
        }
        #expect(Set(request.fieldViolations.map(\.field)) == ["tenant.name", "tenant.etag", "update_mask"], "no mask, no field of the tenant is set")
        request.updateMask = .init(protoPaths: ["contact.phone", "branding"])
        #expect(Set(request.fieldViolations.map(\.field)) == ["tenant.name", "tenant.etag", "tenant.contact.phone", "tenant.branding.primary_color"])
        request.updateMask = .init(protoPaths: ["contact", "display_name"])
        #expect(Set(request.fieldViolations.map(\.field)) == ["tenant.name", "tenant.etag", "tenant.contact.phone", "tenant.contact.email", "tenant.display_name"])
        // A path is a whole field name: `lines` covers `lines[2].description`, not `linesx`.
        let lines = FieldViolation(field: "invoice.lines[2].description", description: "")
        let prefixOnly = FieldViolation(field: "invoice.linesx", description: "")
        var kept: [FieldViolation] = []
        FieldCheck.withinMask([lines, prefixOnly], .init(protoPaths: ["lines"]), resourcePath: "invoice.", &kept)
        #expect(kept == [lines])
    }

    @Test("times and durations outside protobuf's ranges are rejected wherever they appear")
    func wellKnownRanges() {
        let validTimes: [(Int64, Int32)] = [(0, 0), (-62_135_596_800, 0), (253_402_300_799, 999_999_999), (1_790_000_000, 5)]
        for (seconds, nanos) in validTimes {
            let request = ListAuditEventsRequest.with { $0.parent = "tenants/acme"; $0.startTime = .with { $0.seconds = seconds; $0.nanos = nanos } }
            #expect(request.fieldViolations.isEmpty, "\(seconds)s \(nanos)ns")
        }
        let invalidTimes: [(Int64, Int32)] = [(10_000_000_000_000, 0), (-62_135_596_801, 0), (253_402_300_800, 0), (0, -1), (0, 1_000_000_000), (.max, 0)]
        for (seconds, nanos) in invalidTimes {
            let request = ListAuditEventsRequest.with { $0.parent = "tenants/acme"; $0.startTime = .with { $0.seconds = seconds; $0.nanos = nanos } }
            #expect(request.fieldViolations.map(\.field) == ["start_time"], "\(seconds)s \(nanos)ns")
        }
        // Nested: a customer's time inside a create request.
        let nested = CreateCustomerRequest.with { $0.customer = .with { $0.createTime = .with { $0.seconds = .min } } }
        #expect(nested.fieldViolations.map(\.field).contains("customer.create_time"))

        let validDurations: [(Int64, Int32)] = [(0, 0), (315_576_000_000, 999_999_999), (-5, -500), (0, -1), (7, 0)]
        for (seconds, nanos) in validDurations {
            // A field with no range rule of its own.
            let request = CreateLoginLinkRequest.with { $0.ttl = .with { $0.seconds = seconds; $0.nanos = nanos } }
            #expect(!request.fieldViolations.map(\.field).contains("ttl"), "\(seconds)s \(nanos)ns")
        }
        let invalidDurations: [(Int64, Int32)] = [(315_576_000_001, 0), (.min, 0), (1, -1), (-1, 1), (0, 1_000_000_000)]
        for (seconds, nanos) in invalidDurations {
            let request = CreateLoginLinkRequest.with { $0.ttl = .with { $0.seconds = seconds; $0.nanos = nanos } }
            #expect(request.fieldViolations.map(\.field).contains("ttl"), "\(seconds)s \(nanos)ns")
        }
    }

    @Test("lengths count code points: a letter piled with combining marks is as long as its marks")
    func lengthsCountCodePoints() {
        func violations(_ value: String, limit: Int) -> Int {
            var found: [FieldViolation] = []
            FieldCheck.maxLength(value, limit, "display_name", &found)
            return found.count
        }
        #expect(violations("Café", limit: 4) == 0)
        #expect(violations("Ca" + "fe\u{301}", limit: 4) == 1, "e and its accent are two code points")
        #expect(violations("🇺🇸", limit: 2) == 0)
        #expect(violations("a" + String(repeating: "\u{301}", count: 5_000), limit: 100) == 1, "one grapheme, 5,001 code points")
    }

    @Test("undefined enum numbers are rejected")
    func definedEnum() {
        let request = ListTenantsRequest.with { $0.status = TenantStatus(rawValue: 42)! }
        #expect(request.fieldViolations.map(\.field) == ["status"])
    }
}
