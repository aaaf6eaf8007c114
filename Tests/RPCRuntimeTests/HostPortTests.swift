import RPCRuntime
import Testing

@Suite("host:port")
struct HostPortTests {
    @Test("the port follows the last colon; an IPv6 host loses its brackets; anything else is refused", arguments: [
        ("127.0.0.1:50051", "127.0.0.1", 50051), ("localhost:8080", "localhost", 8080), ("[::1]:8080", "::1", 8080), (":0", "", 0),
    ])
    func parsing(text: String, host: String, port: Int) {
        let parsed = HostPort(text)
        #expect(parsed?.host == host)
        #expect(parsed?.port == port)
    }

    @Test("what is not host:port is refused, and so is a port out of range", arguments: [
        "localhost", "localhost:", "localhost:http", "", "127.0.0.1:50051/", "127.0.0.1:65536", "127.0.0.1:-1",
    ])
    func refused(text: String) {
        #expect(HostPort(text) == nil)
    }
}
