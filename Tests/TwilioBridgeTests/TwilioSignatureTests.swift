import Foundation
import PlatformTestSupport
import Testing
import TwilioBridge

/// The verifier against vectors that Twilio's own Python library (`twilio.request_validator`)
/// computes at test time: it must produce the library's signatures and accept exactly the requests
/// the library's `validate` accepts.
@Suite("Twilio signature (vectors from twilio-python)", .enabled(if: PythonOracle.python != nil, "needs SERVICEPRO_TEST_PYTHON (scripts/test.sh sets it)"))
struct TwilioSignatureOracleTests {
    struct Vectors: Decodable {
        struct Form: Decodable {
            let name: String
            let signedURL: String
            let requestURL: String
            let parameters: [[String]]
            let algorithm: String
            let signature: String
            let valid: Bool

            var pairs: [(String, String)] { parameters.map { ($0[0], $0[1]) } }
            var verifierAlgorithm: TwilioSignatureVerifier.Algorithm {
                algorithm == "HMAC_SHA256" ? .hmacSHA256 : .hmacSHA1
            }
        }

        struct JSONBody: Decodable {
            let name: String
            let url: String
            let body: String
            let signature: String
            let valid: Bool
        }

        let token: String
        let form: [Form]
        let json: [JSONBody]
    }

    static func vectors() async throws -> Vectors {
        let result = try await PythonOracle.run(script: "twilio_signatures.py", arguments: [])
        try #require(result.status == 0, "twilio_signatures.py failed: \(result.output)")
        return try JSONDecoder().decode(Vectors.self, from: Data(result.output.utf8))
    }

    @Test("signatures equal the library's, and requests are accepted exactly when its validate accepts them")
    func libraryVectors() async throws {
        let vectors = try await Self.vectors()
        let verifier = TwilioSignatureVerifier(authToken: vectors.token)
        #expect(vectors.form.count >= 18)
        #expect(vectors.form.contains { !$0.valid }, "the cases include requests the library refuses")
        for vector in vectors.form {
            #expect(
                verifier.signature(url: vector.signedURL, parameters: vector.pairs, algorithm: vector.verifierAlgorithm) == vector.signature,
                "signature of \(vector.name)")
            #expect(
                verifier.isValid(signature: vector.signature, url: vector.requestURL, parameters: vector.pairs, algorithm: vector.verifierAlgorithm) == vector.valid,
                "verdict on \(vector.name): the library says \(vector.valid)")
        }
    }

    @Test("a wrong token, a changed or added parameter, a changed URL or another algorithm fail")
    func tampering() async throws {
        let vectors = try await Self.vectors()
        let verifier = TwilioSignatureVerifier(authToken: vectors.token)
        let wrongToken = TwilioSignatureVerifier(authToken: vectors.token.replacingOccurrences(of: "1", with: "2"))
        for vector in vectors.form where vector.valid {
            let (url, pairs, algorithm) = (vector.requestURL, vector.pairs, vector.verifierAlgorithm)
            #expect(verifier.isValid(signature: vector.signature, url: url, parameters: pairs, algorithm: algorithm), "\(vector.name) is valid")
            #expect(!wrongToken.isValid(signature: vector.signature, url: url, parameters: pairs, algorithm: algorithm), "wrong token: \(vector.name)")
            if let (name, value) = pairs.first {
                let changed = [(name, value + "x")] + pairs.dropFirst()
                #expect(!verifier.isValid(signature: vector.signature, url: url, parameters: changed, algorithm: algorithm), "changed value: \(vector.name)")
            }
            let added = pairs + [("Injected", "1")]
            #expect(!verifier.isValid(signature: vector.signature, url: url, parameters: added, algorithm: algorithm), "added parameter: \(vector.name)")
            let authority = try #require(url.range(of: "://"))
            let pathStart = try #require(url[authority.upperBound...].firstIndex(of: "/"))
            let otherPath = String(url[...pathStart] + "x" + url[url.index(after: pathStart)...])
            #expect(!verifier.isValid(signature: vector.signature, url: otherPath, parameters: pairs, algorithm: algorithm), "changed path: \(vector.name)")
            let otherQuery = url + (url.contains("?") ? "&a=1" : "?a=1")
            #expect(!verifier.isValid(signature: vector.signature, url: otherQuery, parameters: pairs, algorithm: algorithm), "changed query: \(vector.name)")
            let otherScheme = url.hasPrefix("https:") ? "http" + url.dropFirst(5) : "https" + url.dropFirst(4)
            #expect(!verifier.isValid(signature: vector.signature, url: otherScheme, parameters: pairs, algorithm: algorithm), "changed scheme: \(vector.name)")
            let otherAlgorithm: TwilioSignatureVerifier.Algorithm = algorithm == .hmacSHA1 ? .hmacSHA256 : .hmacSHA1
            #expect(!verifier.isValid(signature: vector.signature, url: url, parameters: pairs, algorithm: otherAlgorithm), "other algorithm: \(vector.name)")
        }
    }

    @Test("JSON bodies are covered by bodySHA256 in the signed URL")
    func jsonBodies() async throws {
        let vectors = try await Self.vectors()
        let verifier = TwilioSignatureVerifier(authToken: vectors.token)
        #expect(vectors.json.contains { $0.valid } && vectors.json.contains { !$0.valid })
        for vector in vectors.json {
            #expect(
                verifier.isValid(signature: vector.signature, url: vector.url, body: Data(vector.body.utf8)) == vector.valid,
                "verdict on \(vector.name): the library says \(vector.valid)")
        }
        let signed = try #require(vectors.json.first { $0.valid })
        let withoutHash = signed.url.replacingOccurrences(of: "bodySHA256=", with: "bodyHash=")
        #expect(!verifier.isValid(signature: verifier.signature(url: withoutHash, parameters: []), url: withoutHash, body: Data(signed.body.utf8)))
    }
}

/// Vectors computed once with twilio-python 9.13 (`RequestValidator("12345")`), so the verifier is
/// pinned even where Python is not installed. The first is the example in Twilio's documentation.
@Suite("Twilio signature")
struct TwilioSignatureTests {
    let verifier = TwilioSignatureVerifier(authToken: "12345")
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    let parameters = [
        ("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
        ("From", "+12349013030"), ("To", "+18005551212"),
    ]

    @Test("Twilio's documented example")
    func documentedExample() {
        #expect(verifier.signature(url: url, parameters: parameters) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        #expect(verifier.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters))
        #expect(verifier.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters.reversed()), "order of the form does not matter")
        #expect(verifier.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", parameters: parameters))
        #expect(!verifier.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ", url: url, parameters: parameters), "a truncated signature")
        #expect(!verifier.isValid(signature: "", url: url, parameters: parameters))
        #expect(!TwilioSignatureVerifier(authToken: "12346").isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters))
    }

    @Test("a signature over the URL with :443 is accepted without it")
    func defaultPort() {
        #expect(verifier.signature(url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", parameters: parameters) == "EpDEmp1PyjDYp77YxYU3GILBWzE=")
        #expect(verifier.isValid(signature: "EpDEmp1PyjDYp77YxYU3GILBWzE=", url: url, parameters: parameters))
        #expect(!verifier.isValid(signature: "EpDEmp1PyjDYp77YxYU3GILBWzE=", url: "http://mycompany.com/myapp.php?foo=1&bar=2", parameters: parameters))
    }

    @Test("no parameters, and HMAC-SHA256")
    func emptyAndSHA256() {
        #expect(verifier.signature(url: url, parameters: []) == "zYQTYrRWXE7LtzbG4PfP7/bkkGo=")
        #expect(verifier.signature(url: url, parameters: parameters, algorithm: .hmacSHA256) == "Rmm4Vzj+Ky7JGoWXMCsZDZuHDszLr9xvdbvitrDr4/M=")
        #expect(verifier.isValid(signature: "Rmm4Vzj+Ky7JGoWXMCsZDZuHDszLr9xvdbvitrDr4/M=", url: url, parameters: parameters, algorithm: .hmacSHA256))
        #expect(!verifier.isValid(signature: "Rmm4Vzj+Ky7JGoWXMCsZDZuHDszLr9xvdbvitrDr4/M=", url: url, parameters: parameters))
    }

    @Test("a repeated identical parameter counts once, as in the library")
    func repeatedValues() {
        let once = verifier.signature(url: url, parameters: [("Tag", "a"), ("Tag", "b")])
        #expect(verifier.signature(url: url, parameters: [("Tag", "b"), ("Tag", "a"), ("Tag", "b")]) == once)
        #expect(once == verifier.signature(url: url + "TagaTagb", parameters: []), "name and value appended per value")
    }

    @Test("URLs that cannot be what Twilio called are refused")
    func malformedURLs() {
        for bad in ["", "/sms", "mycompany.com/sms", "https:/mycompany.com/sms", "https://mycompany.com:99999/sms", "https://mycompany.com:8o/sms", "https://[::1/sms"] {
            #expect(!verifier.isValid(signature: verifier.signature(url: bad, parameters: []), url: bad, parameters: []), "\(bad)")
        }
    }

    @Test("the algorithm is read from X-Twilio-Webhooks-Signature-Settings as the library reads it")
    func settingsHeader() {
        typealias Algorithm = TwilioSignatureVerifier.Algorithm
        #expect(Algorithm(settingsHeader: nil) == .hmacSHA1)
        #expect(Algorithm(settingsHeader: "") == .hmacSHA1)
        #expect(Algorithm(settingsHeader: "key=webhooks_sharedkey_1") == .hmacSHA1)
        #expect(Algorithm(settingsHeader: "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256") == .hmacSHA256)
        #expect(Algorithm(settingsHeader: " algorithm = hmac_sha256 , key=k") == .hmacSHA256)
        #expect(Algorithm(settingsHeader: "algorithm=,algorithm=HMAC_SHA1") == .hmacSHA1)
        #expect(Algorithm(settingsHeader: "algorithm=HMAC_SHA512") == nil, "an unknown algorithm is refused, not guessed")
    }
}

@Suite("Twilio webhook URL")
struct TwilioWebhookURLTests {
    @Test("a configured base wins and keeps its path prefix")
    func configuredBase() {
        #expect(TwilioWebhookURL.resolve(requestTarget: "/sms?a=1", configuredBase: "https://bridge.example.com/", forwardedHost: "evil.example") == "https://bridge.example.com/sms?a=1")
        #expect(TwilioWebhookURL.resolve(requestTarget: "/twilio/voice/ai", configuredBase: "https://example.com:8443/prefix") == "https://example.com:8443/prefix/twilio/voice/ai")
    }

    @Test("without a base, the proxy's headers, then Host")
    func forwardedHeaders() {
        #expect(TwilioWebhookURL.resolve(requestTarget: "/sms", configuredBase: "", forwardedProto: "https", forwardedHost: "bridge.example.com", host: "10.0.0.5:8080") == "https://bridge.example.com/sms")
        #expect(TwilioWebhookURL.resolve(requestTarget: "/sms", configuredBase: nil, forwardedProto: "HTTPS, http", forwardedHost: "a.example, b.internal") == "https://a.example/sms")
        #expect(TwilioWebhookURL.resolve(requestTarget: "/sms?x=%20", configuredBase: nil, host: "127.0.0.1:8080") == "http://127.0.0.1:8080/sms?x=%20")
        #expect(TwilioWebhookURL.resolve(requestTarget: "/sms", configuredBase: nil, forwardedProto: "https", host: "bridge.example.com") == "https://bridge.example.com/sms")
        #expect(TwilioWebhookURL.resolve(requestTarget: "/sms", configuredBase: nil) == nil)
    }

    @Test("the resolved URL verifies a request signed for the public URL")
    func endToEnd() {
        let verifier = TwilioSignatureVerifier(authToken: "12345")
        let form = [("Body", "hello"), ("From", "+15551230001")]
        let signature = verifier.signature(url: "https://bridge.example.com/sms", parameters: form)
        let url = TwilioWebhookURL.resolve(requestTarget: "/sms", configuredBase: nil, forwardedProto: "https", forwardedHost: "bridge.example.com:443", host: "127.0.0.1:8080")
        #expect(verifier.isValid(signature: signature, url: url ?? "", parameters: form))
    }
}
