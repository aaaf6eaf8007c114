import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PlatformTestSupport
import Testing

/// The bridge executable starts, serves /healthz and reaches the platform with its own key.
@Suite("Twilio bridge")
struct BridgeHealthTests {
    @Test("/healthz reports the platform reachable with the bridge key")
    func healthz() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let port = TestPorts.unused()
            let bridge = Process()
            bridge.executableURL = RepositoryPaths.executable("twilio-bridge")
            bridge.arguments = [
                "--listen", "127.0.0.1:\(port)", "--platform", platform.address,
                "--token-file", platform.home.appendingPathComponent("bridge.token").path,
                "--spool", platform.home.appendingPathComponent("bridge-spool.sqlite").path,
            ]
            bridge.standardError = FileHandle.nullDevice
            try bridge.run()
            defer { bridge.terminate() }

            var body = ""
            for _ in 0..<100 where !body.contains(#""platform":"reachable""#) {
                try await Task.sleep(for: .milliseconds(100))
                if let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!) {
                    body = String(decoding: data, as: UTF8.self)
                }
            }
            #expect(body == #"{"status":"ok","platform":"reachable"}"#)
        }
    }

    @Test("the bridge refuses to start without its token and says what to do")
    func missingToken() async throws {
        let result = try await ProcessRunner.run(RepositoryPaths.executable("twilio-bridge").path, ["--token-file", "/nonexistent/bridge.token"])
        #expect(result.status != 0)
        #expect(result.output.contains("start platform-server once"))
    }
}
