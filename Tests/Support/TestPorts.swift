import Synchronization

/// Ports for servers a test must name before they start: a child process's `--listen`, or a
/// platform restarted on the port it had.
///
/// They come from below Linux's ephemeral range (32768–60999), where the kernel also picks the
/// local ports of outgoing connections. There, a client retrying a port nobody listens on yet can
/// be given that very port and connect to itself, and the server then cannot bind it. Each call
/// returns a port no earlier call in this process returned.
public enum TestPorts {
    private static let next = Atomic(20_000 + Int.random(in: 0..<1_000) * 10)

    public static func unused() -> Int {
        next.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
