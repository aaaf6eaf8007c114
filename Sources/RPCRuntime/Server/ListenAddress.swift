import NIOCore
import NIOPosix

/// The address a server is told to listen on, checked before the server does anything else, so a
/// start that cannot serve fails at once with advice, not after it has seeded a store and pointed
/// the operator's spctl context at itself.
public struct ListenAddress: Sendable, Hashable {
    /// An IP address: gRPC's server binds addresses, not names.
    public let host: String
    public let port: Int
    /// The flag it came from, for advice.
    public let option: String

    public struct Unusable: Error, CustomStringConvertible {
        public let description: String
    }

    /// `address` as `host:port` (an IPv6 host in brackets); `localhost` is 127.0.0.1.
    public init(_ address: String, option: String) throws {
        guard let parsed = HostPort(address) else {
            throw Unusable(description: "\(option) must be host:port, e.g. 127.0.0.1:50051 or [::]:50051")
        }
        let host = parsed.host == "localhost" ? "127.0.0.1" : parsed.host
        guard (try? SocketAddress(ipAddress: host, port: parsed.port)) != nil else {
            throw Unusable(description: "\(option) needs an IP address, not \"\(parsed.host)\": e.g. 127.0.0.1:\(parsed.port), or [::]:\(parsed.port) for every interface")
        }
        self.host = host
        self.port = parsed.port
        self.option = option
    }

    /// Whether two servers could not both listen here: the same port (not 0, which picks a free
    /// one), on the same address or where either takes every address.
    public func overlaps(_ other: ListenAddress) -> Bool {
        let everyAddress: Set<String> = ["0.0.0.0", "::"]
        return port != 0 && port == other.port && (host == other.host || everyAddress.contains(host) || everyAddress.contains(other.host))
    }

    /// Throws when nothing can listen here now: the port is taken (another server, perhaps this
    /// one already running), or the address is not one of this machine's.
    public func checkAvailable() async throws {
        guard port != 0 else { return }
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        do {
            // As the server will: SO_REUSEADDR, so a port whose last connections linger is free.
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
            try await channel.close()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw Unusable(description: "\(shown) is already in use (is another server running there?); stop it, or pass \(option) with another port")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw Unusable(description: "\(shown) is not an address of this machine; use 127.0.0.1, [::1], 0.0.0.0 or [::]")
        }
    }
}
