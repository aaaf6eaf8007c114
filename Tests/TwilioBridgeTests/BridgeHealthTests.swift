import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PlatformTestSupport
import Testing

/// The bridge executable starts, serves /healthz and reaches the platform with its own key.
@Suite("Twilio bridge")
struct BridgeHealthTests {
    @Test("/healthz reports the platform reachable with the bridge key, and unauthorized with a key it refuses")
    func healthz() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let bogus = platform.home.appendingPathComponent("bogus.token")
            try "sp_nope_nope".write(to: bogus, atomically: true, encoding: .utf8)
            for (tokenFile, expected) in [(platform.home.appendingPathComponent("bridge.token"), "reachable"), (bogus, "unauthorized")] {
                let body = try await Self.health(platform: platform, tokenFile: tokenFile, until: expected)
                #expect(body == #"{"status":"ok","platform":"\#(expected)"}"#)
            }
        }
    }

    /// Starts the bridge executable with `tokenFile`, and reads its /healthz until it says
    /// `expected` (for a few seconds at most); returns the last answer.
    private static func health(platform: TestPlatform, tokenFile: URL, until expected: String) async throws -> String {
        let port = TestPorts.unused()
        let arguments = [
            "--listen", "127.0.0.1:\(port)", "--platform", platform.address, "--token-file", tokenFile.path,
            "--spool", platform.home.appendingPathComponent("bridge-spool-\(port).sqlite").path,
        ]
        return try await ProcessRunner.whileRunning(RepositoryPaths.executable("twilio-bridge").path, arguments) {
            var body = ""
            for _ in 0..<100 where !body.contains(#""platform":"\#(expected)""#) {
                try await Task.sleep(for: .milliseconds(100))
                if let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!) {
                    body = String(decoding: data, as: UTF8.self)
                }
            }
            return body
        }
    }

    @Test("the bridge refuses to start without its token and says what to do")
    func missingToken() async throws {
        let result = try await ProcessRunner.run(RepositoryPaths.executable("twilio-bridge").path, ["--token-file", "/nonexistent/bridge.token"])
        #expect(result.status != 0)
        #expect(result.output.contains("start platform-server once"))
    }
}
