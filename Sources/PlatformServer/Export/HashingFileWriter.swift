import Crypto
import Foundation

/// Appends bytes to a new file through a buffer, hashing them on the way: the SHA-256 of what
/// was written is known the moment the file is closed, without reading it again.
final class HashingFileWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var hasher = SHA256()
    private(set) var size: Int64 = 0
    private let flushAt = 1 << 20

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        buffer.reserveCapacity(flushAt + 64 * 1024)
    }

    func write(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushAt { try flush() }
    }

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= flushAt { try flush() }
    }

    /// Writes what is buffered, closes the file and returns its lowercase hex SHA-256.
    func finish() throws -> String {
        try flush()
        try handle.close()
        return hasher.finalize().hex
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        hasher.update(data: buffer)
        try handle.write(contentsOf: buffer)
        size += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}


/// SHA-256 of a file, read in pieces.
enum FileDigest {
    static func sha256(path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().hex
    }
}
