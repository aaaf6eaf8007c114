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

    @Test("undefined enum numbers are rejected")
    func definedEnum() {
        let request = ListTenantsRequest.with { $0.status = TenantStatus(rawValue: 42)! }
        #expect(request.fieldViolations.map(\.field) == ["status"])
    }
}
