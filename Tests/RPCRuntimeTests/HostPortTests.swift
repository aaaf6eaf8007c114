import Foundation
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
        "https://platform.example.com:443", "//platform.example.com:443",
    ])
    func refused(text: String) {
        #expect(HostPort(text) == nil)
    }

    @Test("a URL given for host:port says its scheme goes")
    func urlExplained() {
        #expect(ClientConnection.AddressError(server: "https://platform.example.com:443").description.contains("a URL's scheme goes: TLS is an option of its own"))
        #expect(!ClientConnection.AddressError(server: "platform").description.contains("URL"))
    }

    @Test("a context written by hand may leave out tls; a config spctl cannot read is named, with what is wrong in it")
    func handWrittenContexts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("contexts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.json").path
        try Data(#"{"current_context":"prod","contexts":{"prod":{"server":"platform.example.com:443","token_file":"/tmp/t"}}}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let loaded = try ClientContexts.load(from: path)
        #expect(loaded.contexts["prod"]?.server == "platform.example.com:443")
        #expect(loaded.contexts["prod"]?.usesTLS == false)
        try Data(#"{"contexts":{"prod":{"token":"sp_x"}}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let refused = #expect(throws: ClientContexts.UnreadableConfig.self) { try ClientContexts.load(from: path) }
        #expect(refused?.description.contains(path) == true)
        #expect(refused?.description.contains("\"server\" is missing at contexts.prod") == true, "\(String(describing: refused))")
    }
}
