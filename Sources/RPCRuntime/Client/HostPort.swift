import Foundation

/// `host:port`, as the servers' `--listen` and the clients' `--server` take it. The port is what
/// follows the last colon, so an IPv6 host in brackets (`[::1]:50051`) works; the brackets go.
public struct HostPort: Sendable, Hashable {
    public let host: String
    public let port: Int

    /// Nil when `text` is not of that form, or its port is not one (0 to 65535). A URL
    /// (`https://platform.example.com:443`) is not: its host would be looked up as
    /// "https://platform.example.com" on every call, and never found.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard !host.contains("/") else { return nil }
        self.host = host
        self.port = port
    }
}
