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

    /// Whether the request came as JSON: an update's mask is then the JSON's, not the flags'.
    var isGiven: Bool { json != nil || jsonFile != nil }

    /// The request from --json / --json-file, or an empty one for the flags to fill.
    func request<Request: SwiftProtobuf.Message>(_ type: Request.Type) throws -> Request {
        let text: String?
        switch (json, jsonFile) {
        case (let inline?, nil): text = inline
        case (nil, let path?):
            if path == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else if let contents = FileManager.default.contents(atPath: path) {
                text = String(decoding: contents, as: UTF8.self)
            } else {
                throw ValidationError("cannot read --json-file \(path): no such readable file; give the path of a JSON request, or '-' for stdin")
            }
        case (nil, nil): text = nil
        case (_?, _?): throw ValidationError("use either --json or --json-file, not both")
        }
        guard let text else { return Request() }
        do {
            return try Request(jsonString: text)
        } catch {
            throw ValidationError("the JSON is not a valid \(Request.protoMessageName): \(Self.explain(error))")
        }
    }

    /// swift-protobuf's decoding errors in words: they print as their case names.
    private static func explain(_ error: any Error) -> String {
        guard let decoding = error as? JSONDecodingError else { return "\(error)" }
        switch decoding {
        case .unknownField(let name): return "it has no field \"\(name)\" (fields go by their proto names, e.g. display_name)"
        case .malformedString, .invalidUTF8: return "a string value is malformed (quote it, and escape quotes and backslashes)"
        case .malformedNumber, .numberRange, .leadingZero: return "a number is malformed or out of range"
        case .malformedBool: return "a boolean must be true or false"
        case .malformedTimestamp: return "a time must be RFC 3339, like \"2026-11-26T17:00:00Z\""
        case .malformedDuration: return "a duration must be seconds with an s, like \"90s\""
        case .malformedFieldMask: return "JSON writes a field mask's paths in lowerCamelCase, comma-separated, like \"displayName,taxCents\" (or pass --update-mask display_name,tax_cents)"
        case .unrecognizedEnumValue:
            return "an enum value is not one of its names: JSON takes the proto's, like \"PLAN_TIER_PRO\" (the flags take the short ones, like --tenant.plan-tier pro)"
        case .truncated, .trailingGarbage: return "it is not well-formed JSON"
        case .failure: return "it is not well-formed JSON, or a value has the wrong type (an object for a string, say)"
        default: return "\(decoding)"
        }
    }
}
