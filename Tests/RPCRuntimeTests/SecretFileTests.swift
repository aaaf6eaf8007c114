import Foundation
import RPCRuntime
import Testing

@Suite("Secret files")
struct SecretFileTests {
    @Test("a secret file is replaced whole, readable by its owner only, with nothing left beside it")
    func replacedWhole() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secret-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.json").path

        try SecretFile.write(Data("first, and longer than the second".utf8), to: path)
        try SecretFile.write(Data("second".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["config.json"])

        // A write that cannot finish leaves the old file as it was.
        let blocked = directory.appendingPathComponent("blocked").path
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: false)
        #expect(throws: (any Error).self) { try SecretFile.write(Data("x".utf8), to: blocked) }
        #expect(FileManager.default.fileExists(atPath: blocked + "/inside"), "a directory in the way is not replaced")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["blocked", "config.json"])
    }
}
