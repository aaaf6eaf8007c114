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

    public init(
        home: String = ".servicepro",
        host: String = "127.0.0.1",
        port: Int = 50051,
        databaseURL: String? = nil,
        tls: RPCServer.TLSFiles? = nil,
        spctlConfigPath: String? = ClientContexts.defaultPath()
    ) {
        self.home = home
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.tls = tls
        self.spctlConfigPath = spctlConfigPath
    }

    var homeURL: URL { URL(fileURLWithPath: home, isDirectory: true).standardizedFileURL }
    var sqlitePath: String { homeURL.appendingPathComponent("servicepro.sqlite").path }
    var ownerTokenPath: String { homeURL.appendingPathComponent("owner.token").path }
    var bridgeTokenPath: String { homeURL.appendingPathComponent("bridge.token").path }
}
