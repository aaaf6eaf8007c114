import NIOCore
import NIOPosix

/// A TCP server on a loopback port that accepts connections and never answers: a platform that is
/// up but hangs, for tests of the bridge's deadline.
public struct SilentServer: Sendable {
    public let port: Int
    private let channel: any Channel

    public static func start() async throws -> SilentServer {
        // No handlers on accepted connections: what arrives is read and dropped.
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return SilentServer(port: channel.localAddress?.port ?? 0, channel: channel)
    }

    public var address: String { "127.0.0.1:\(port)" }

    /// Stops accepting; connections already open close when their clients close them.
    public func close() async throws {
        try await channel.close()
    }
}
