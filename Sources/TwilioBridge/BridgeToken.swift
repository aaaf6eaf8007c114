import Foundation

/// The bridge key's bearer token, from the file platform-server's first start writes it to.
public enum BridgeToken {
    public struct Unreadable: Error, CustomStringConvertible {
        public let path: String
        /// What to do about it, where the file came from.
        public let hint: String
        public var description: String { "cannot read the bridge token at \(path): \(hint)" }
    }

    public static func read(from path: String, hint: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw Unreadable(path: path, hint: hint)
        }
    }
}
