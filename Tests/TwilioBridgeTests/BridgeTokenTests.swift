import Foundation
import Testing
import TwilioBridge

@Suite("Bridge token file")
struct BridgeTokenTests {
    @Test("a token file that is missing or empty stops the bridge at start, saying why and what to do")
    func unreadable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bridge.token").path

        let missing = #expect(throws: BridgeToken.Unreadable.self) { try BridgeToken.read(from: path, hint: "pass --token-file") }
        #expect(missing?.description.hasPrefix("cannot read the bridge token at \(path) (") == true, "\(String(describing: missing))")
        #expect(missing?.description.hasSuffix("): pass --token-file") == true)

        try Data(" \n".utf8).write(to: URL(fileURLWithPath: path))
        let empty = #expect(throws: BridgeToken.Unreadable.self) { try BridgeToken.read(from: path, hint: "pass --token-file") }
        #expect(empty?.description == "cannot read the bridge token at \(path) (the file is empty): pass --token-file")

        try Data("sp_bridge_secret\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try BridgeToken.read(from: path, hint: "") == "sp_bridge_secret")
    }
}
