import Foundation

/// The public URL a webhook was sent to: what Twilio signed, which is not what the bridge sees when
/// it runs behind a load balancer or TLS proxy (there the request arrives over plain HTTP, often
/// to another host and port).
///
/// A configured base URL is the reliable source and wins. Without one the URL is rebuilt from the
/// proxy's `X-Forwarded-Proto` and `X-Forwarded-Host`, else `Host`. Those headers come from the
/// client, so a sender could present the URL of another service signed with the same account
/// token; configure the base URL in production.
///
/// ```swift
/// let url = TwilioWebhookURL.resolve(
///     requestTarget: request.uri.description,  // "/twilio/voice/gather?attempt=2"
///     configuredBase: configuration.publicURL,
///     forwardedProto: request.headers[HTTPField.Name("X-Forwarded-Proto")!],
///     forwardedHost: request.headers[HTTPField.Name("X-Forwarded-Host")!],
///     host: request.head.authority)  // HTTPTypes carries Host as the authority
/// ```
public enum TwilioWebhookURL {
    /// - Parameters:
    ///   - requestTarget: the path and query exactly as received, still percent-encoded, because
    ///     Twilio signed the characters it sent.
    ///   - configuredBase: the public scheme, host, optional port and any path prefix a proxy
    ///     strips before forwarding, e.g. `https://example.com/servicepro-bridge`.
    ///   - forwardedProto, forwardedHost, host: the header values, used without a base. Through
    ///     several proxies these are lists; the first entry is the one the client called.
    /// - Returns: nil when there is no base and no host to build the URL from.
    public static func resolve(
        requestTarget: String,
        configuredBase: String?,
        forwardedProto: String? = nil,
        forwardedHost: String? = nil,
        host: String? = nil
    ) -> String? {
        let target = requestTarget.hasPrefix("/") ? requestTarget : "/" + requestTarget
        if var base = configuredBase.flatMap(nonEmpty) {
            while base.hasSuffix("/") { base.removeLast() }
            return base + target
        }
        guard let authority = firstEntry(forwardedHost) ?? firstEntry(host) else { return nil }
        // The bridge itself serves plain HTTP; TLS, when there is any, ends at the proxy that says so.
        let scheme = firstEntry(forwardedProto)?.lowercased() ?? "http"
        return "\(scheme)://\(authority)\(target)"
    }

    private static func firstEntry(_ header: String?) -> String? {
        header.flatMap { $0.split(separator: ",", maxSplits: 1).first }.flatMap { nonEmpty(String($0)) }
    }

    private static func nonEmpty(_ value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }
}
