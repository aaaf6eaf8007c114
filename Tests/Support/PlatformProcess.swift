import Foundation
import Subprocess
import SystemPackage

/// `platform-server` as a child process in a temporary directory, the way a user starts it: its
/// home and spctl's config inside the directory, its stderr in `server.log` there.
public struct PlatformProcess: Sendable {
    public let directory: URL
    public let port: Int
    /// What spctl runs with: the config under `directory`, no server or token from the caller's shell.
    public let environment: [String: String]

    /// Runs `platform-server --home <directory>/home --listen 127.0.0.1:<port>` plus `arguments`
    /// while `body` runs, then stops it with SIGTERM (and SIGKILL after 10 s); returns its exit
    /// status, which a clean shutdown makes 0.
    public static func run(
        _ label: String, arguments: [String] = [], environment extra: [String: String] = [:],
        _ body: (PlatformProcess) async throws -> Void
    ) async throws -> Int32 {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = PlatformProcess(
            directory: directory, port: TestPorts.unused(),
            environment: ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path, "SPCTL_SERVER": "", "SPCTL_TOKEN": ""]
                .merging(extra) { $1 })
        let log = try FileDescriptor.open(
            FilePath(directory.appendingPathComponent("server.log").path), .writeOnly,
            options: [.create, .truncate], permissions: [.ownerReadWrite])
        let result = try await Subprocess.run(
            .path(FilePath(RepositoryPaths.executable("platform-server").path)),
            arguments: Arguments(["--home", server.home.path, "--listen", "127.0.0.1:\(server.port)"] + arguments),
            environment: .inherit.updating(server.environment.reduce(into: [Environment.Key: String?]()) { $0[Environment.Key(stringLiteral: $1.key)] = $1.value }),
            input: .none, output: .discarded, error: .fileDescriptor(log, closeAfterSpawningProcess: true)
        ) { execution in
            do {
                try await body(server)
            } catch {
                await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(10))])
                throw error
            }
            await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(10))])
        }
        return result.terminationStatus.code
    }

    public var home: URL { directory.appendingPathComponent("home") }
    public var log: String { (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? "" }

    /// Runs spctl against this server until it exits 0, for up to 10 s while the server starts.
    public func spctlOnceUp(_ arguments: [String]) async throws -> PythonOracle.Result {
        var result = PythonOracle.Result(status: -1, output: "")
        for _ in 0..<100 where result.status != 0 {
            try await Task.sleep(for: .milliseconds(100))
            result = try await spctl(arguments)
        }
        return result
    }

    public func spctl(_ arguments: [String]) async throws -> PythonOracle.Result {
        try await ProcessRunner.run(RepositoryPaths.executable("spctl").path, arguments, environment: environment)
    }
}
