import Foundation
import PlatformTestSupport
import Testing

/// The README's run command, as a newcomer meets it: start platform-server on an empty home,
/// then spctl works with no flags at all; SIGTERM stops it cleanly.
@Suite("First run")
struct FirstRunTests {
    @Test("platform-server bootstraps a working spctl context and shuts down gracefully")
    func firstRun() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("first-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = Int.random(in: 41000...48999)
        let environment = ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path, "SPCTL_SERVER": "", "SPCTL_TOKEN": ""]

        let server = Process()
        server.executableURL = RepositoryPaths.executable("platform-server")
        server.arguments = ["--home", directory.appendingPathComponent("home").path, "--listen", "127.0.0.1:\(port)"]
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        server.standardError = try FileHandle(forWritingTo: log)
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        var listed = PythonOracle.Result(status: -1, output: "")
        for _ in 0..<100 where listed.status != 0 {
            try await Task.sleep(for: .milliseconds(100))
            listed = try await ProcessRunner.run(RepositoryPaths.executable("spctl").path, ["tenants", "list"], environment: environment)
        }
        #expect(listed.status == 0, "spctl: \(listed.output)\nserver: \((try? String(contentsOfFile: log.path, encoding: .utf8)) ?? "")")
        #expect(listed.output.contains("Clean Machine"))

        let home = directory.appendingPathComponent("home")
        for file in ["owner.token", "bridge.token"] {
            let mode = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent(file).path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }

        server.terminate()
        for _ in 0..<100 where server.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!server.isRunning)
        #expect(server.terminationStatus == 0)
    }
}
