import Foundation

/// Named connection contexts (server, credentials, TLS), kept in the XDG config file
/// `$XDG_CONFIG_HOME/spctl/config.json` (default `~/.config/spctl/config.json`), as kubectl does.
public struct ClientContexts: Codable, Sendable, Equatable {
    public struct Context: Codable, Sendable, Equatable {
        /// `host:port`.
        public var server: String
        /// The bearer token itself, or…
        public var token: String?
        /// …a file holding it (what the platform's first start writes, so the token stays in one place).
        public var tokenFile: String?
        public var tls: Bool
        /// PEM bundle to trust instead of the system roots; it means TLS too (``usesTLS``).
        public var caFile: String?
        /// Set while `spctl impersonate` has this context acting as a tenant: commands use the
        /// session's token instead of the context's own, which stays as it was for afterwards.
        public var impersonation: Impersonation?

        public init(
            server: String,
            token: String? = nil,
            tokenFile: String? = nil,
            tls: Bool = false,
            caFile: String? = nil,
            impersonation: Impersonation? = nil
        ) {
            self.server = server
            self.token = token
            self.tokenFile = tokenFile
            self.tls = tls
            self.caFile = caFile
            self.impersonation = impersonation
        }

        enum CodingKeys: String, CodingKey {
            case server, token, tls, impersonation
            case tokenFile = "token_file"
            case caFile = "ca_file"
        }

        /// A context written by hand may leave out `tls` (plaintext) and what it does not use.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                server: try container.decode(String.self, forKey: .server),
                token: try container.decodeIfPresent(String.self, forKey: .token),
                tokenFile: try container.decodeIfPresent(String.self, forKey: .tokenFile),
                tls: try container.decodeIfPresent(Bool.self, forKey: .tls) ?? false,
                caFile: try container.decodeIfPresent(String.self, forKey: .caFile),
                impersonation: try container.decodeIfPresent(Impersonation.self, forKey: .impersonation))
        }

        /// Whether to connect with TLS: asked for, or implied by a CA file to trust (also in
        /// configs written before `set-context --ca-file` set `tls` as well).
        public var usesTLS: Bool { tls || caFile != nil }

        /// The token, read from the token file when that is how it is stored.
        public func resolvedToken() throws -> String? {
            if let token, !token.isEmpty { return token }
            guard let tokenFile else { return nil }
            do {
                return try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw UnreadableTokenFile(path: tokenFile)
            }
        }
    }

    /// A context's token file that is gone or cannot be read.
    public struct UnreadableTokenFile: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "cannot read the token file \(path); check that it exists and is readable, or log in again (spctl login)"
        }
    }

    /// An impersonation session a context is acting through.
    public struct Impersonation: Codable, Sendable, Equatable {
        /// `impersonationSessions/{session}`.
        public var session: String
        /// The session's bearer token.
        public var token: String
        /// `tenants/{tenant}`.
        public var tenant: String
        public var tenantDisplayName: String
        /// When the platform stops taking the token.
        public var expireTime: Date

        public init(session: String, token: String, tenant: String, tenantDisplayName: String, expireTime: Date) {
            self.session = session
            self.token = token
            self.tenant = tenant
            self.tenantDisplayName = tenantDisplayName
            self.expireTime = expireTime
        }

        enum CodingKeys: String, CodingKey {
            case session, token, tenant
            case tenantDisplayName = "tenant_display_name"
            case expireTime = "expire_time"
        }
    }

    public var currentContext: String?
    public var contexts: [String: Context]

    public init(currentContext: String? = nil, contexts: [String: Context] = [:]) {
        self.currentContext = currentContext
        self.contexts = contexts
    }

    enum CodingKeys: String, CodingKey {
        case contexts
        case currentContext = "current_context"
    }

    /// Points the contexts that reach `server` directly (on this machine, or its host) and read
    /// its token file at its address and TLS setting, and returns the names of those that
    /// changed. A context's CA file goes when TLS does. One that reaches it through another host
    /// (a proxy, a tunnel) is the user's to change.
    public mutating func follow(_ server: Context) -> [String] {
        guard let tokenFile = server.tokenFile else { return [] }
        func host(_ server: String) -> String { HostPort(server)?.host ?? server }
        let direct: Set<String> = ["127.0.0.1", "localhost", "::1", "0.0.0.0", "::", host(server.server)]
        var moved: [String] = []
        for (name, context) in contexts.sorted(by: { $0.key < $1.key }) where context.tokenFile == tokenFile {
            guard direct.contains(host(context.server)) else { continue }
            guard context.server != server.server || context.usesTLS != server.tls else { continue }
            contexts[name]?.server = server.server
            contexts[name]?.tls = server.tls
            if !server.tls { contexts[name]?.caFile = nil }
            moved.append(name)
        }
        return moved
    }

    /// `$XDG_CONFIG_HOME/spctl/config.json`, or `~/.config/spctl/config.json`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/spctl/config.json"
    }

    public static func load(from path: String) throws -> ClientContexts {
        guard FileManager.default.fileExists(atPath: path) else { return ClientContexts() }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(ClientContexts.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            throw UnreadableConfig(path: path, problem: Self.explain(error))
        }
    }

    /// A config file that is not one spctl wrote, or can read.
    public struct UnreadableConfig: Error, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String {
            "cannot read the spctl config \(path): \(problem); mend it, or move it away and log in again (spctl login)"
        }
    }

    private static func explain(_ error: DecodingError) -> String {
        func at(_ path: [any CodingKey]) -> String { path.isEmpty ? "" : " at \(path.map(\.stringValue).joined(separator: "."))" }
        switch error {
        case .keyNotFound(let key, let context): return "\"\(key.stringValue)\" is missing\(at(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(context.debugDescription)\(at(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON" : "\(context.debugDescription)\(at(context.codingPath))"
        @unknown default: return "\(error)"
        }
    }

    /// Written with mode 0600: it may hold tokens.
    public func save(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try SecretFile.write(encoder.encode(self), to: path)
    }
}

/// Files holding secrets: created with mode 0600 before anything is written to them, and
/// replaced whole. The new content goes to a temporary file beside the old one, reaches the
/// disk, then takes its place in one rename: an interrupted write (Ctrl-C, a full disk) leaves
/// the old file as it was, never an empty or half-written one.
public enum SecretFile {
    public static func write(_ data: Data, to path: String) throws {
        let manager = FileManager.default
        let temporary = path + ".\(UUID().uuidString).tmp"
        guard manager.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
            guard rename(temporary, path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
            }
        } catch {
            try? manager.removeItem(atPath: temporary)
            throw error
        }
    }
}
