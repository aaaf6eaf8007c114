import Foundation
import RPCRuntime

/// How the platform server starts; see `platform-server --help`.
public struct PlatformConfiguration: Sendable {
    /// Holds the SQLite file, the bootstrap tokens and other local state.
    public var home: String
    public var host: String
    public var port: Int
    /// PostgreSQL when set; the embedded SQLite store otherwise.
    public var databaseURL: String?
    public var tls: RPCServer.TLSFiles?
    /// Where the first start writes the spctl context; nil to leave spctl's config alone.
    public var spctlConfigPath: String?
    /// The AES key that seals secrets at rest, created on the first start of an empty store; nil
    /// for `<home>/secrets.key`. `SERVICEPRO_SECRETS_KEY` (base64 of 32 bytes) takes precedence.
    /// A store refuses to start with a key other than the one it recorded, or with none.
    public var secretsKeyPath: String?
    /// Stripe and the billing lifecycle; see `BillingSettings.fromEnvironment`.
    public var billing: BillingSettings
    /// Export archives and their worker.
    public var exports: ExportSettings
    /// Email and SMS delivery: providers, retries and the worker; see `OutboxSettings.fromEnvironment`.
    public var outbox: OutboxSettings
    /// Number provisioning and login links for concierge setup.
    public var concierge: ConciergeSettings

    public init(
        home: String = ".servicepro",
        host: String = "127.0.0.1",
        port: Int = 50051,
        databaseURL: String? = nil,
        tls: RPCServer.TLSFiles? = nil,
        spctlConfigPath: String? = ClientContexts.defaultPath(),
        secretsKeyPath: String? = nil,
        billing: BillingSettings = BillingSettings(),
        exports: ExportSettings = ExportSettings(),
        outbox: OutboxSettings = OutboxSettings(),
        concierge: ConciergeSettings = ConciergeSettings()
    ) {
        self.home = home
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.tls = tls
        self.spctlConfigPath = spctlConfigPath
        self.secretsKeyPath = secretsKeyPath
        self.billing = billing
        self.exports = exports
        self.outbox = outbox
        self.concierge = concierge
    }

    var homeURL: URL { URL(fileURLWithPath: home, isDirectory: true).standardizedFileURL }
    var sqlitePath: String { homeURL.appendingPathComponent("servicepro.sqlite").path }
    var ownerTokenPath: String { homeURL.appendingPathComponent("owner.token").path }
    public var bridgeTokenPath: String { homeURL.appendingPathComponent("bridge.token").path }
    var secretsKeyFile: String { secretsKeyPath ?? homeURL.appendingPathComponent("secrets.key").path }
    var exportsDirectory: URL {
        exports.directory.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? homeURL.appendingPathComponent("exports", isDirectory: true)
    }
}
