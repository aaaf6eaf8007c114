/// Runs `operation` with `beat` called every `interval` beside it until it ends: a lease kept
/// alive while long, blocking work (deflating a large file) goes on. A beat that throws (the
/// lease was lost) ends the wait with its error, once the operation, which cannot be stopped
/// halfway, has finished.
func withHeartbeat<Result: Sendable>(
    every interval: Duration,
    _ beat: @escaping @Sendable () async throws -> Void,
    during operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            while true {
                try await Task.sleep(for: interval)
                try await beat()
            }
        }
        defer { group.cancelAll() }
        // The first to finish: the operation's result, or the beat's error.
        guard let result = try await group.next() ?? nil else {
            throw CancellationError()
        }
        return result
    }
}
