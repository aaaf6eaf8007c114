import Crypto
import Foundation
import RPCRuntime

/// Checks `X-Twilio-Signature` the way Twilio's own library (`twilio.request_validator` in
/// twilio-python) does, so a webhook is accepted exactly when Twilio's reference code would accept
/// it; the tests compare against that library's output.
///
/// Twilio signs the full URL it called (scheme, host, port if any, path and query string) followed,
/// for a form-encoded POST, by every parameter name and value: names in code point order, each
/// name's distinct values in code point order. The key is the account's auth token (or a SharedKey
/// secret), the MAC HMAC-SHA1 (or HMAC-SHA256), the header its base64.
///
/// ```swift
/// let verifier = TwilioSignatureVerifier(authToken: token)
/// guard let url = TwilioWebhookURL.resolve(requestTarget: "/sms", configuredBase: "https://bridge.example.com"),
///     verifier.isValid(signature: header, url: url, parameters: form.parameters)
/// else { return forbidden }
/// ```
public struct TwilioSignatureVerifier: Sendable {
    /// The MAC a webhook was signed with. Auth-token signatures are always HMAC-SHA1; a webhook
    /// signed with a SharedKey names its algorithm in `X-Twilio-Webhooks-Signature-Settings`.
    public enum Algorithm: Sendable, Hashable {
        case hmacSHA1
        case hmacSHA256

        /// The algorithm named by `X-Twilio-Webhooks-Signature-Settings`
        /// (`key=<id>,algorithm=HMAC_SHA256`). No header, or one without `algorithm=`, means the
        /// auth-token signature, HMAC-SHA1; an algorithm this bridge does not know is nil, and the
        /// webhook must be refused rather than checked with a guess.
        public init?(settingsHeader: String?) {
            let named = (settingsHeader ?? "").split(separator: ",").lazy.compactMap { part -> String? in
                guard let equals = part.firstIndex(of: "="),
                    part[..<equals].trimmingCharacters(in: .whitespacesAndNewlines) == "algorithm"
                else { return nil }
                let value = part[part.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
                return value.isEmpty ? nil : value
            }.first
            switch named?.uppercased() {
            case nil, "HMAC_SHA1": self = .hmacSHA1
            case "HMAC_SHA256": self = .hmacSHA256
            default: return nil
            }
        }
    }

    /// The header Twilio puts the signature in.
    public static let signatureHeader = "X-Twilio-Signature"
    /// The header that names the algorithm of a SharedKey signature; see `Algorithm(settingsHeader:)`.
    public static let settingsHeader = "X-Twilio-Webhooks-Signature-Settings"

    private let key: SymmetricKey

    /// - Parameter authToken: the account's auth token, or the SharedKey secret.
    public init(authToken: String) {
        self.key = SymmetricKey(data: Data(authToken.utf8))
    }

    /// The signature Twilio sends for a request to exactly `url` with these form parameters.
    /// The bridge checks with `isValid`; this is for those that sign, like `spctl twilio simulate`.
    public func signature(url: String, parameters: [(String, String)], algorithm: Algorithm = .hmacSHA1) -> String {
        signature(url: url, signedParameters: Self.signedParameters(parameters), algorithm: algorithm)
    }

    private func signature(url: String, signedParameters: [UInt8], algorithm: Algorithm) -> String {
        switch algorithm {
        case .hmacSHA1: return Self.authenticationCode(HMAC<Insecure.SHA1>(key: key), url: url, signedParameters: signedParameters)
        case .hmacSHA256: return Self.authenticationCode(HMAC<SHA256>(key: key), url: url, signedParameters: signedParameters)
        }
    }

    private static func authenticationCode<Hash: HashFunction>(_ hmac: HMAC<Hash>, url: String, signedParameters: [UInt8]) -> String {
        var hmac = hmac
        hmac.update(data: Array(url.utf8))
        hmac.update(data: signedParameters)
        return Data(hmac.finalize()).base64EncodedString()
    }

    /// Whether `signature` is Twilio's for a form-encoded (or parameterless) request to `url`.
    ///
    /// `url` is the public URL Twilio called (see `TwilioWebhookURL`), query string included, and
    /// `parameters` the decoded form fields in any order, repeats included. Like Twilio's library it
    /// accepts the URL both with its port (the scheme's default, 443 or 80, added when absent) and
    /// with the port removed, because Twilio has signed both forms.
    public func isValid(signature: String, url: String, parameters: [(String, String)], algorithm: Algorithm = .hmacSHA1) -> Bool {
        guard let url = SignedURL(url) else { return false }
        let signedParameters = Self.signedParameters(parameters)
        var matched = false
        // Both forms are always computed, so the answer's timing does not say which one matched.
        for candidate in [url.withoutPort, url.withPort] {
            let expected = self.signature(url: candidate, signedParameters: signedParameters, algorithm: algorithm)
            matched = ConstantTime.equal(expected.utf8, signature.utf8) || matched
        }
        return matched
    }

    /// Whether `signature` is Twilio's for a request with a JSON (non-form) body.
    ///
    /// Twilio signs such a request's URL alone and vouches for the body through the `bodySHA256`
    /// query parameter (hex SHA-256 of the body), which is part of the signed URL. A request
    /// without `bodySHA256` carries nothing that covers its body and is refused.
    public func isValid(signature: String, url: String, body: some DataProtocol, algorithm: Algorithm = .hmacSHA1) -> Bool {
        guard let parsed = SignedURL(url), let expected = parsed.firstQueryValue(named: "bodySHA256") else { return false }
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let bodyMatches = ConstantTime.equal(digest.utf8, expected.utf8)
        return isValid(signature: signature, url: url, parameters: [], algorithm: algorithm) && bodyMatches
    }

    /// What is signed after the URL: each name and value, names in code point order, then each
    /// name's distinct values in code point order, as the library's `sorted(set(...))` does.
    /// Compared as UTF-8 bytes, whose order is code point order: Swift's `String` comparison would
    /// treat "é" and "e\u{301}" as equal and sort by canonical equivalence, which is not what
    /// Twilio signs.
    private static func signedParameters(_ parameters: [(String, String)]) -> [UInt8] {
        let sorted = parameters.sorted { lhs, rhs in
            lhs.0.utf8.elementsEqual(rhs.0.utf8) ? lhs.1.utf8.lexicographicallyPrecedes(rhs.1.utf8) : lhs.0.utf8.lexicographicallyPrecedes(rhs.0.utf8)
        }
        var signed: [UInt8] = []
        signed.reserveCapacity(sorted.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count })
        var previous: (String, String)?
        for pair in sorted {
            // Sorted, a repeated pair is next to its twin; the set keeps one.
            if let previous, previous.0.utf8.elementsEqual(pair.0.utf8), previous.1.utf8.elementsEqual(pair.1.utf8) { continue }
            signed.append(contentsOf: pair.0.utf8)
            signed.append(contentsOf: pair.1.utf8)
            previous = pair
        }
        return signed
    }
}

/// A webhook URL split the way Python's `urllib.parse.urlsplit` splits it, so the two port forms
/// Twilio's library checks (`add_port`, `remove_port`) come out byte for byte the same, including
/// its normalisations: a lowercased scheme and no empty `?` or `#`.
private struct SignedURL {
    let scheme: String
    let netloc: Substring
    let path: Substring
    let query: Substring
    let fragment: Substring
    /// The explicit port; 0 counts as none, as in the library (`if not uri.port`).
    let port: Int?

    init?(_ url: String) {
        guard let colon = url.firstIndex(of: ":"), colon > url.startIndex,
            url[..<colon].first?.isLetter == true,
            url[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        scheme = url[..<colon].lowercased()
        var rest = url[url.index(after: colon)...]
        guard rest.hasPrefix("//") else { return nil }
        rest = rest.dropFirst(2)
        let netlocEnd = rest.firstIndex(where: { "/?#".contains($0) }) ?? rest.endIndex
        netloc = rest[..<netlocEnd]
        rest = rest[netlocEnd...]
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[rest.index(after: hash)...]
            rest = rest[..<hash]
        } else {
            fragment = ""
        }
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        } else {
            query = ""
        }
        path = rest
        guard !netloc.isEmpty, let port = Self.port(of: netloc) else { return nil }
        self.port = port == 0 ? nil : port
    }

    /// The port as `urlsplit(...).port` reads it: after the host (a bracketed IPv6 address
    /// included), ASCII digits only, at most 65535; 0 when there is none, nil where Python raises
    /// (the URL is then refused).
    private static func port(of netloc: Substring) -> Int? {
        let hostinfo = netloc.lastIndex(of: "@").map { netloc[netloc.index(after: $0)...] } ?? netloc
        guard hostinfo.contains("[") == hostinfo.contains("]") else { return nil }
        var afterHost = hostinfo
        if let open = hostinfo.firstIndex(of: "[") {
            let bracketed = hostinfo[hostinfo.index(after: open)...]
            afterHost = bracketed.firstIndex(of: "]").map { bracketed[bracketed.index(after: $0)...] } ?? ""
        }
        guard let colon = afterHost.firstIndex(of: ":") else { return 0 }
        let digits = afterHost[afterHost.index(after: colon)...]
        if digits.isEmpty { return 0 }
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(digits), port <= 65535 else { return nil }
        return port
    }

    /// `remove_port`: everything of the authority before its first colon.
    var withoutPort: String {
        port == nil ? assembled(netloc) : assembled(netloc.prefix { $0 != ":" })
    }

    /// `add_port`: the authority with the scheme's default port appended when it has none.
    var withPort: String {
        port != nil ? assembled(netloc) : assembled("\(netloc):\(scheme == "https" ? 443 : 80)")
    }

    private func assembled(_ authority: some StringProtocol) -> String {
        var url = "\(scheme)://\(authority)\(path)"
        if !query.isEmpty { url += "?\(query)" }
        if !fragment.isEmpty { url += "#\(fragment)" }
        return url
    }

    /// The first non-empty value of a query parameter, decoded as `parse_qs` decodes it.
    func firstQueryValue(named wanted: String) -> String? {
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = Self.formDecoded(pair[..<equals]), value = Self.formDecoded(pair[pair.index(after: equals)...])
            if name == wanted, !value.isEmpty { return value }
        }
        return nil
    }

    private static func formDecoded(_ component: Substring) -> String {
        let spaced = component.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
