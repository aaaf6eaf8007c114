import Foundation

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
public enum ProcessRunner {
    /// `separatingStandardError` keeps stderr apart, to check what stdout alone carries.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        separatingStandardError: Bool = false, in directory: URL? = nil
    ) async throws -> PythonOracle.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let errors = separatingStandardError ? Pipe() : output
        process.standardOutput = output
        process.standardError = errors
        let stdin = Pipe()
        process.standardInput = stdin
        let (exited, exit) = AsyncStream.makeStream(of: Void.self)
        process.terminationHandler = { _ in exit.finish() }
        // Read on a dispatch thread: a blocking read on the cooperative pool (two threads on a
        // two-core machine) could starve the in-process server the child is talking to.
        let collected = Self.collect(output)
        let collectedErrors = separatingStandardError ? Self.collect(errors) : nil
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        for await _ in exited {}
        let data = await collected.value
        let errorData = await collectedErrors?.value ?? Data()
        return PythonOracle.Result(
            status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), errors: String(decoding: errorData, as: UTF8.self))
    }

    private static func collect(_ pipe: Pipe) -> Task<Data, Never> {
        let reader = pipe.fileHandleForReading
        return Task {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: Self.readToEnd(reader.fileDescriptor)) }
            }
        }
    }

    /// Reads until end of file, retrying reads a signal interrupts (a child's exit, say), which
    /// Foundation's `readDataToEndOfFile` turns into a crash.
    private static func readToEnd(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count < 0, errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }
}
