import Foundation
import GRPCCore
import Logging
import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

/// TLS from certificate and key files, as `--tls-cert`/`--tls-key` configure it.
@Suite("Transport security")
struct TransportSecurityTests {
    @Test("the server serves TLS from PEM files and a client trusting the CA gets through")
    func tls() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = try await ProcessRunner.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        try #require(openssl.status == 0, "\(openssl.output)")

        let configuration = PlatformConfiguration(
            home: directory.appendingPathComponent("home").path, host: "127.0.0.1", port: 0,
            tls: .init(certificateChainPath: cert, privateKeyPath: key), spctlConfigPath: nil)
        var logger = Logger(label: "test.tls")
        logger.logLevel = .critical
        let server = try await PlatformServer.start(configuration, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { server.rpcServer.beginGracefulShutdown() }
            let port = try await server.rpcServer.listeningPort
            let token = try String(contentsOfFile: directory.appendingPathComponent("home/owner.token").path, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)

            let me = try await ClientConnection.with(server: "localhost:\(port)", tls: true, caFile: cert) { client in
                try await ImpersonationService.Client(wrapping: client).whoAmI(.init(), metadata: ClientConnection.bearer(token))
            }
            #expect(me.role == .platformOwner)

            let plaintext = await failure {
                try await ClientConnection.with(server: "localhost:\(port)") { client in
                    var options = CallOptions.defaults
                    options.timeout = .seconds(2)
                    return try await ImpersonationService.Client(wrapping: client).whoAmI(.init(), metadata: ClientConnection.bearer(token), options: options)
                }
            }
            #expect(plaintext != nil, "a plaintext client must not get through to a TLS server")

            // spctl: a CA file means TLS, given to login or saved in a context.
            let spctl = RepositoryPaths.executable("spctl").path
            let environment = ["XDG_CONFIG_HOME": directory.appendingPathComponent("spctl").path, "SPCTL_SERVER": "", "SPCTL_TOKEN": ""]
            let login = try await ProcessRunner.run(spctl, ["login", "--server", "localhost:\(port)", "--token", token, "--ca-file", cert], environment: environment)
            #expect(login.status == 0, "\(login.output)")
            let saved = try await ProcessRunner.run(
                spctl, ["config", "set-context", "by-ca", "--server", "localhost:\(port)", "--token", token, "--ca-file", cert], environment: environment)
            #expect(saved.status == 0, "\(saved.output)")
            let listed = try await ProcessRunner.run(spctl, ["tenants", "list", "--context", "by-ca"], environment: environment)
            #expect(listed.status == 0, "\(listed.output)")
            #expect(listed.output.contains("Clean Machine"))

            // The bridge over TLS, trusting the CA: a text reaches the platform and is stored.
            let bridgeToken = try String(contentsOfFile: directory.appendingPathComponent("home/bridge.token").path, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try await TestBridge.with(
                platform: "localhost:\(port)", bridgeToken: bridgeToken,
                spoolPath: directory.appendingPathComponent("trusting.sqlite").path, platformCAFile: cert
            ) { bridge in
                try await bridge.waitForPlatform()
                let sent = try await bridge.post("/sms", Self.text(1))
                #expect(sent.status == 200)
                #expect(await bridge.spool.count() == 0)
            }
            let stored = try await server.database.transaction(.platform) { tx in
                try await tx.query("SELECT message_sid FROM text_messages").map { try $0.string("message_sid") }
            }
            #expect(stored == [Self.sid(1)])

            // Over TLS without trusting the self-signed certificate, the platform is out of reach:
            // the text waits in the spool, and Twilio still gets its 200.
            let untrustingSpool = directory.appendingPathComponent("untrusting.sqlite").path
            try await TestBridge.with(platform: "localhost:\(port)", bridgeToken: bridgeToken, spoolPath: untrustingSpool, platformTLS: true) { bridge in
                let sent = try await bridge.post("/sms", Self.text(2))
                #expect(sent.status == 200)
                #expect(await bridge.spool.count() == 1)
            }
        }
    }

    // A platform-server that no longer refuses would serve on, and the run would wait for it.
    @Test("a TLS certificate or key the server cannot serve with stops platform-server at once, naming the option and the file, before the store or the spctl contexts are touched", .timeLimit(.minutes(3)))
    func unusableFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func certificate(_ name: String) async throws -> (cert: String, key: String) {
            let files = (cert: directory.appendingPathComponent("\(name).pem").path, key: directory.appendingPathComponent("\(name)-key.pem").path)
            let openssl = try await ProcessRunner.run("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", files.key, "-out", files.cert, "-days", "1", "-subj", "/CN=localhost",
            ])
            try #require(openssl.status == 0, "\(openssl.output)")
            return files
        }
        let served = try await certificate("served")
        let other = try await certificate("other")
        let missing = directory.appendingPathComponent("missing-key.pem").path
        let garbled = directory.appendingPathComponent("garbled.pem").path
        try Data("not PEM at all\n".utf8).write(to: URL(fileURLWithPath: garbled))
        let home = (store: directory.appendingPathComponent("home").path, config: directory.appendingPathComponent("config").path)

        for (files, said) in [
            ((served.cert, missing), "--tls-key \(missing) cannot be read: no such file"),
            ((served.cert, garbled), "--tls-key \(garbled) does not hold a PEM private key"),
            ((garbled, served.key), "--tls-cert \(garbled) does not hold a PEM certificate chain"),
            ((served.cert, other.key), "--tls-cert \(served.cert) and --tls-key \(other.key) cannot serve TLS together"),
        ] {
            let clock = ContinuousClock()
            let began = clock.now
            let started = try await ProcessRunner.run(
                RepositoryPaths.executable("platform-server").path,
                ["--home", home.store, "--listen", "127.0.0.1:\(TestPorts.unused())", "--tls-cert", files.0, "--tls-key", files.1],
                environment: ["XDG_CONFIG_HOME": home.config])
            #expect(started.status == 1, "\(started.output)")
            #expect(started.output.contains(said), "\(started.output)")
            #expect(clock.now - began < .seconds(30), "refused at once")
            #expect(!FileManager.default.fileExists(atPath: home.store), "nothing seeded")
            #expect(!FileManager.default.fileExists(atPath: home.config), "no spctl context written")
        }
    }

    private static func sid(_ number: Int) -> String { "SM" + String(format: "%032x", number) }

    private static func text(_ number: Int) -> [(String, String)] {
        [("MessageSid", sid(number)), ("From", "+15550001111"), ("To", "+15550002222"), ("Body", "over TLS")]
    }
}
