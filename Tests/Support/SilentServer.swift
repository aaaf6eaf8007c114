import NIOCore
import NIOPosix

/// A TCP server on a loopback port that accepts connections and never answers: a platform that is
/// up but hangs, for tests of the bridge's deadline.
public struct SilentServer: Sendable {
    public let port: Int
    private let channel: any Channel

    public var address: String { "127.0.0.1:\(port)" }

    /// Runs `body` with a silent server, which stops accepting when it returns.
    public static func with<Result: Sendable>(_ body: (SilentServer) async throws -> Result) async throws -> Result {
        // No handlers on accepted connections: what arrives is read and dropped.
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        do {
            guard let port = channel.localAddress?.port else { throw TestSetupError("the silent server has no port") }
            let result = try await body(SilentServer(port: port, channel: channel))
            try await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }
}
