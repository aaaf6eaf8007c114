import ArgumentParser
import Foundation
import SwiftProtobuf

/// A generated command's whole request as JSON, which its flags then override. Hand-written
/// commands build their requests from flags alone, so they do not take these.
struct RequestJSONOptions: ParsableArguments {
    @Option(name: .customLong("json"), help: "The whole request as JSON (proto field names); flags given too override its fields.")
    var json: String?

    @Option(name: .customLong("json-file"), help: "Read the whole request as JSON from a file ('-' for stdin).")
    var jsonFile: String?

    /// The request from --json / --json-file, or an empty one for the flags to fill.
    func request<Request: SwiftProtobuf.Message>(_ type: Request.Type) throws -> Request {
        let text: String?
        switch (json, jsonFile) {
        case (let inline?, nil): text = inline
        case (nil, let path?):
            text = path == "-"
                ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                : try String(contentsOfFile: path, encoding: .utf8)
        case (nil, nil): text = nil
        case (_?, _?): throw ValidationError("use either --json or --json-file, not both")
        }
        guard let text else { return Request() }
        do {
            return try Request(jsonString: text)
        } catch {
            throw ValidationError("the JSON is not a valid \(Request.protoMessageName): \(error)")
        }
    }
}
