import ArgumentParser
import Foundation

/// What spctl tells the person at the terminal beside the result: prompts, notes, progress and
/// errors go to stderr, so what stdout carries (a table, or JSON with `-o json`) stays the result.
enum StandardError {
    static func say(_ text: String, terminator: String = "\n") {
        FileHandle.standardError.write(Data((text + terminator).utf8))
    }

    /// A command that could not do its work for a reason other than how it was called: `error:
    /// <message>` and exit status 1, without the usage text a `ValidationError` brings.
    static func failure(_ message: String) -> ExitCode {
        say("error: \(message)")
        return ExitCode(1)
    }
}
