import Foundation

/// What spctl tells the person at the terminal beside the result: prompts, notes, progress and
/// errors go to stderr, so what stdout carries (a table, or JSON with `-o json`) stays the result.
enum StandardError {
    static func say(_ text: String, terminator: String = "\n") {
        FileHandle.standardError.write(Data((text + terminator).utf8))
    }
}

/// A command that could not do its work for a reason other than how it was called (no server, a
/// file it cannot write, a bridge out of reach). `SpctlCommand.main` reports it as `error:
/// <message>` with exit status 1, without the usage text a `ValidationError` brings.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) {
        self.description = message
    }
}
