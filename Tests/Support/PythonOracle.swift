import Foundation
import Subprocess
import SystemPackage

/// Runs the Python scripts that use third-party client libraries (grpcio, twilio, stripe) as
/// independent oracles, with the interpreter of the test venv.
public enum PythonOracle {
    public static let python = ProcessInfo.processInfo.environment["SERVICEPRO_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }

    public struct Result: Sendable {
        public let status: Int32
        /// stdout and stderr together, in the order written; only stdout when they were kept apart.
        public let output: String
        /// stderr, when it was kept apart from stdout.
        public let errors: String

        public init(status: Int32, output: String, errors: String = "") {
            self.status = status
            self.output = output
            self.errors = errors
        }
    }

    /// Runs `Tests/EndToEndTests/Python/<script>` and collects stdout and stderr together.
    public static func run(script: String, arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        guard let python else { throw TestSetupError("SERVICEPRO_TEST_PYTHON is not set; run scripts/test.sh") }
        let scriptPath = RepositoryPaths.root.appendingPathComponent("Tests/EndToEndTests/Python/\(script)").path
        return try await ProcessRunner.run(python, [scriptPath] + arguments, environment: environment)
    }
}

/// Paths in the source tree, found from this file's location.
public enum RepositoryPaths {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let proto = root.appendingPathComponent("proto")

    /// A built executable of this package (`platform-server`, `spctl`, `twilio-bridge`).
    public static func executable(_ name: String) -> URL {
        // Test bundles sit next to the products they were built with.
        let bundle = Bundle.main.bundleURL
        for directory in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/\(name)")
    }
}

/// Runs a process to completion, without blocking a concurrency thread while it runs.
///
/// Children are started with swift-subprocess, not Foundation's `Process`: on Linux,
/// `Process.run()` reads past a buffer while it lists the open descriptors to close in the
/// child, and crashes a test process with many of them open now and then.
public enum ProcessRunner {
    /// Output a test reads is a few kilobytes; more is a runaway child.
    static let outputLimit = 16 * 1024 * 1024

    /// `separatingStandardError` keeps stderr apart, to check what stdout alone carries.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        separatingStandardError: Bool = false, in directory: URL? = nil
    ) async throws -> PythonOracle.Result {
        let configuration = Configuration(
            executable: .path(FilePath(executable)),
            arguments: Arguments(arguments),
            environment: .inherit.updating(environment.reduce(into: [Environment.Key: String?]()) { $0[Environment.Key(stringLiteral: $1.key)] = $1.value }),
            workingDirectory: directory.map { FilePath($0.path) })
        let stdin: StringInput<String, UTF8>? = input.map { .string($0) }
        if separatingStandardError {
            let result = try await Subprocess.run(
                configuration, input: stdin ?? .string(""), output: .string(limit: outputLimit), error: .string(limit: outputLimit))
            return PythonOracle.Result(
                status: result.terminationStatus.code, output: result.standardOutput, errors: result.standardError)
        }
        let result = try await Subprocess.run(
            configuration, input: stdin ?? .string(""), output: .string(limit: outputLimit), error: .combinedWithOutput)
        return PythonOracle.Result(status: result.terminationStatus.code, output: result.standardOutput)
    }
}

extension ProcessRunner {
    /// Runs `executable` while `body` runs, then kills it; returns what `body` returns. Its
    /// output is discarded.
    public static func whileRunning<Result: Sendable>(
        _ executable: String, _ arguments: [String], _ body: () async throws -> Result
    ) async throws -> Result {
        try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(arguments), input: .none, output: .discarded, error: .discarded
        ) { execution in
            defer { try? execution.send(signal: .kill) }
            return try await body()
        }.closureResult
    }
}

extension TerminationStatus {
    /// The exit code, or the signal that ended the process (as `Process.terminationStatus` has it).
    var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): signal
        }
    }
}
