import ArgumentParser
import Foundation
import SwiftProtobuf

/// Parses flag text into the well-known types generated commands set.
enum CLIValue {
    static func timestamp(_ text: String, flag: String) throws -> Google_Protobuf_Timestamp {
        do {
            return try Google_Protobuf_Timestamp(jsonString: "\"\(text)\"")
        } catch {
            throw ValidationError("--\(flag): \"\(text)\" is not an RFC 3339 time like 2026-11-26T17:00:00Z")
        }
    }

    /// A file a context keeps pointing at, made absolute: the context is used from any directory.
    static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// `90s`, `30m`, `2h`, or protobuf's own `1.5s`.
    static func duration(_ text: String, flag: String) throws -> Google_Protobuf_Duration {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600]
        if let unit = text.last, let multiplier = units[unit], let amount = Int64(text.dropLast()) {
            let (seconds, overflow) = amount.multipliedReportingOverflow(by: multiplier)
            guard !overflow else { throw ValidationError("--\(flag): \"\(text)\" is longer than any duration can be") }
            return Google_Protobuf_Duration(seconds: seconds)
        }
        do {
            return try Google_Protobuf_Duration(jsonString: "\"\(text)\"")
        } catch {
            throw ValidationError("--\(flag): \"\(text)\" is not a duration like 90s, 30m or 2h")
        }
    }

    /// `display_name,city` → a mask with those paths.
    static func fieldMask(_ text: String) -> Google_Protobuf_FieldMask {
        Google_Protobuf_FieldMask(protoPaths: text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }
}
