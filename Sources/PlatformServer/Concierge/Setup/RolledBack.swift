/// Runs `body` in a transaction and rolls it back whatever happens: a dry run that computes
/// exactly what the real change would, with the real code, and leaves nothing behind.
enum RolledBack {
    private struct Discard<Result: Sendable>: Error {
        let result: Result
    }

    static func run<Result: Sendable>(
        _ database: any Database,
        _ scope: DataScope,
        _ body: @escaping @Sendable (any SQLTransaction) async throws -> Result
    ) async throws -> Result {
        do {
            // The body's result leaves as an error, so the transaction never commits.
            return try await database.transaction(scope) { tx -> Result in
                throw Discard(result: try await body(tx))
            }
        } catch let discarded as Discard<Result> {
            return discarded.result
        }
    }
}
