import Foundation

/// The bridge key's bearer token, from the file platform-server's first start writes it to.
public enum BridgeToken {
    public struct Unreadable: Error, CustomStringConvertible {
        public let path: String
        /// Why: the file system's reason, or that the file holds no token.
        public let reason: String
        /// What to do about it, where the file came from.
        public let hint: String
        public var description: String { "cannot read the bridge token at \(path) (\(reason)): \(hint)" }
    }

    /// An empty file is refused too: every call with an empty token would be refused, and every
    /// caller would hear the fallback.
    public static func read(from path: String, hint: String) throws -> String {
        let token: String
        do {
            token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            // Not found, or not this user's to read (a bridge running as a user of its own).
            throw Unreadable(path: path, reason: (error as NSError).localizedDescription, hint: hint)
        }
        guard !token.isEmpty else { throw Unreadable(path: path, reason: "the file is empty", hint: hint) }
        return token
    }
}
