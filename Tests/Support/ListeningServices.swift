import Hummingbird
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

    /// Serves `router` over HTTP on a loopback port; `body` gets the base URL. The local fakes of
    /// providers' APIs run this way.
    public static func serve<Result: Sendable>(
        _ router: Router<BasicRequestContext>,
        logger: Logger,
        _ body: (_ baseURL: String) async throws -> Result
    ) async throws -> Result {
        try await run(logger: logger) { announce in
            [Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in announce(channel.localAddress?.port ?? 0) },
                logger: logger)]
        } _: { port in
            try await body("http://127.0.0.1:\(port)")
        }
    }
}
