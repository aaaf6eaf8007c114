import Logging
import ServiceLifecycle

/// Runs services, one of which listens on a port it announces (bound to port 0, so tests never
/// collide), hands that port to `body`, and shuts the services down gracefully afterwards.
public enum ListeningServices {
    public static func run<Result: Sendable>(
        logger: Logger,
        _ makeServices: (_ announce: @escaping @Sendable (Int) -> Void) -> [any Service],
        _ body: (_ port: Int) async throws -> Result
    ) async throws -> Result {
        let (listening, announce) = AsyncStream.makeStream(of: Int.self)
        let group = ServiceGroup(services: makeServices { announce.yield($0) }, gracefulShutdownSignals: [], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            var port = 0
            for await bound in listening {
                port = bound
                break
            }
            let result = try await body(port)
            await group.triggerGracefulShutdown()
            return result
        }
    }
}
