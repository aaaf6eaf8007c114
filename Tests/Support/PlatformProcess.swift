import Foundation

/// `platform-server` as a child process in a temporary directory, the way a user starts it: its
/// home and spctl's config inside the directory, its stderr in `server.log` there.
public final class PlatformProcess {
    public let directory: URL
    public let port: Int
    /// What spctl runs with: the config under `directory`, no server or token from the caller's shell.
    public let environment: [String: String]
    private let process: Process

    /// Starts `platform-server --home <directory>/home --listen 127.0.0.1:<port>` plus `arguments`.
    public init(_ label: String, arguments: [String] = [], environment extra: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = TestPorts.unused()
        environment = ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path, "SPCTL_SERVER": "", "SPCTL_TOKEN": ""]
            .merging(extra) { $1 }
        process = Process()
        process.executableURL = RepositoryPaths.executable("platform-server")
        process.arguments = ["--home", home.path, "--listen", "127.0.0.1:\(port)"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
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

    /// SIGTERM, then waits up to 10 s; the exit status, or nil if it is still running.
    public func terminate() async throws -> Int32? {
        process.terminate()
        for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
