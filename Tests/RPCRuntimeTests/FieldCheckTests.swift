import Foundation
import RPCRuntime
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

    @Test("generated validators check nested fields with their paths")
    func generatedValidator() {
        let request = UpdateTenantRequest.with {
            $0.tenant = .with {
                $0.name = "tenants/acme"
                $0.contact = .with { $0.phone = "555-1234" }
                $0.branding = .with { $0.primaryColor = "#12345G" }
            }
        }
        #expect(Set(request.fieldViolations.map(\.field)) == ["tenant.contact.phone", "tenant.branding.primary_color", "update_mask"])
        let fine = UpdateTenantRequest.with {
            $0.tenant = .with { $0.name = "tenants/acme"; $0.contact = .with { $0.phone = "+19185551234" } }
            $0.updateMask = .init(protoPaths: ["contact.phone"])
        }
        #expect(fine.fieldViolations.isEmpty)
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
        // Nested: a customer's time inside an update request.
        let nested = UpdateCustomerRequest.with { $0.customer = .with { $0.createTime = .with { $0.seconds = .min } } }
        #expect(nested.fieldViolations.map(\.field).contains("customer.create_time"))

        let validDurations: [(Int64, Int32)] = [(0, 0), (315_576_000_000, 999_999_999), (-5, -500), (0, -1), (7, 0)]
        for (seconds, nanos) in validDurations {
            let request = RecordCallStatusRequest.with { $0.duration = .with { $0.seconds = seconds; $0.nanos = nanos } }
            #expect(!request.fieldViolations.map(\.field).contains("duration"), "\(seconds)s \(nanos)ns")
        }
        let invalidDurations: [(Int64, Int32)] = [(315_576_000_001, 0), (.min, 0), (1, -1), (-1, 1), (0, 1_000_000_000)]
        for (seconds, nanos) in invalidDurations {
            let request = RecordCallStatusRequest.with { $0.duration = .with { $0.seconds = seconds; $0.nanos = nanos } }
            #expect(request.fieldViolations.map(\.field).contains("duration"), "\(seconds)s \(nanos)ns")
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
