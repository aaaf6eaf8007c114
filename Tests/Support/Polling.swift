/// Waits until `condition` holds, checking every 10 ms, for what happens soon but not at once
/// (a notification, a background drain). Past `limit` it throws, naming `what`.
public func poll(_ what: String, within limit: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestSetupError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}
