import Foundation
import RPCRuntime
import SwiftProtobuf

/// Prints responses as JSON (proto field names, proto enum names) or as a table: one row per item
/// for listings, one `field  value` row per field otherwise. Tables follow the proto's field order
/// and print enum values by the short names flags take (`OutputSchema`), and times to the second.
struct OutputPrinter {
    var format: OutputFormat

    func print(_ message: some SwiftProtobuf.Message) throws {
        let json = try Self.jsonObject(message)
        switch format {
        case .json:
            try Self.printJSON(json)
        case .table:
            Swift.print(Self.table(json as? [String: Any] ?? [:], type: type(of: message).protoMessageName), terminator: "")
        }
    }

    /// `message` in protobuf's JSON mapping with the proto's field names, as Foundation objects.
    private static func jsonObject(_ message: some SwiftProtobuf.Message) throws -> Any {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return try JSONSerialization.jsonObject(with: try message.jsonUTF8Data(options: options))
    }

    /// `object` as JSON the way every command prints it: indented, keys sorted.
    static func printJSON(_ object: Any) throws {
        let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        Swift.print(String(decoding: pretty, as: UTF8.self))
    }

    /// Enum field `field` of `message` by the short name flags take (`ai-agent`, `past-due`), for
    /// the hand-written commands' own lines.
    static func enumName(_ field: String, of message: some SwiftProtobuf.Message) -> String {
        guard let object = try? jsonObject(message) as? [String: Any] else { return "" }
        // JSON leaves out an enum at its zero value.
        guard let value = object[field] else { return "unspecified" }
        let schema = OutputSchema.messages[type(of: message).protoMessageName]?.first { $0.name == field }
        return describe(value, as: schema ?? OutputField(field))
    }

    /// Paging fields beside a listing's items.
    private static let paging: Set<String> = ["next_page_token", "total_size"]

    /// `object`, a message of `type` (its full proto name) as JSON.
    static func table(_ object: [String: Any], type: String) -> String {
        let fields = fields(of: type, in: object)
        // A listing is a response of one list of messages and its paging fields; a resource that
        // happens to hold a list (an export's entity counts) prints field by field.
        let lists = fields.filter { $0.repeated && $0.message != nil }
        if lists.count == 1, let list = lists.first, fields.allSatisfy({ $0.name == list.name || paging.contains($0.name) }) {
            var text = listTable(object[list.name] as? [[String: Any]] ?? [], type: list.message!)
            if let next = object["next_page_token"] as? String, !next.isEmpty {
                text += "\n(more: --page-token \(next))\n"
            }
            return text
        }
        let rows = flatten(object, fields: fields, prefix: "").map { [$0.0, $0.1] }
        // An empty answer (a delete's) means the call went through.
        return rows.isEmpty ? "Done.\n" : render(header: ["FIELD", "VALUE"], rows: rows)
    }

    /// One column per field of the type, in proto order, set or not, so that every page of a
    /// listing has the same columns; nested messages are left to `get` or `-o json`, and so is
    /// the etag, which only updates need. A long value is cut short (`get` shows it whole), but
    /// never the resource's name, which other commands take, nor a list.
    private static func listTable(_ items: [[String: Any]], type: String) -> String {
        guard !items.isEmpty else { return "(none)\n" }
        let columns = (OutputSchema.messages[type] ?? Set(items.flatMap(\.keys)).sorted().map { OutputField($0) }).filter { field in
            field.message == nil && field.name != "etag"
        }
        let rows = items.map { item in
            columns.map { column in
                let cell = describe(column.valueInRow(item[column.name]), as: column).escapedToOneLine
                // A list (a plan's features) is read item by item: cut, it would hide some.
                return column.name == "name" || column.repeated ? cell : cut(cell)
            }
        }
        return render(header: columns.map { $0.name.uppercased() }, rows: rows)
    }

    /// The most characters a listing's cell shows.
    static let cellLimit = 60

    /// Both ends of a long cell, the middle cut out: a method's path ends with the method, and a
    /// long note reads as where it starts and where it goes.
    private static func cut(_ cell: String) -> String {
        guard cell.count > cellLimit else { return cell }
        let head = (cellLimit - 1) / 2
        return String(cell.prefix(head)) + "…" + String(cell.suffix(cellLimit - 1 - head))
    }

    /// The fields of a message of `type`: the schema's, or, for a message it does not know, the
    /// keys `object` has, sorted.
    private static func fields(of type: String, in object: [String: Any]) -> [OutputField] {
        if let known = OutputSchema.messages[type] { return known }
        return object.keys.sorted().map { OutputField($0, repeated: object[$0] is [Any]) }
    }

    /// `field.subfield` rows for the fields `object` sets, nested messages spelled out.
    private static func flatten(_ object: [String: Any], fields: [OutputField], prefix: String) -> [(String, String)] {
        fields.flatMap { field -> [(String, String)] in
            guard let value = object[field.name] else { return [] }
            if let nested = value as? [String: Any], !field.repeated {
                return flatten(nested, fields: Self.fields(of: field.message ?? "", in: nested), prefix: prefix + field.name + ".")
            }
            // A list of messages: a row each, so a long one reads down the page, not across it.
            if let items = value as? [[String: Any]] {
                return items.enumerated().map { index, item in ("\(prefix)\(field.name)[\(index)]", describe([item], as: field)) }
            }
            return [(prefix + field.name, describe(value, as: field))]
        }
    }

    private static func describe(_ value: Any?, as field: OutputField) -> String {
        switch value {
        case nil: return ""
        case let items as [[String: Any]]:
            return items.map { item in
                fields(of: field.message ?? "", in: item).compactMap { inner in
                    inner.valueInRow(item[inner.name]).map { "\(inner.name)=\(describe($0, as: inner))" }
                }.joined(separator: " ")
            }.joined(separator: "; ")
        case let array as [Any]: return array.map { describe($0, as: field.element) }.joined(separator: ",")
        case let string as String:
            if let enumType = field.enumType { return OutputSchema.enumValues[enumType]?[string] ?? string }
            if field.time { return toTheSecond(string) }
            return field.duration ? wholeUnits(string) : string
        case let number as NSNumber:
            if field.bool { return number.boolValue ? "true" : "false" }
            return number.stringValue
        // A map (an audit event's details): its entries by key.
        case let map as [String: Any]:
            return map.keys.sorted().map { "\($0)=\(map[$0].map { "\($0)" } ?? "")" }.joined(separator: " ")
        default: return "\(value!)"
        }
    }

    /// `2026-11-28T03:17:38.408334017Z` as `2026-11-28T03:17:38Z`: a table is read, not parsed.
    private static func toTheSecond(_ time: String) -> String {
        guard let dot = time.firstIndex(of: "."), time.hasSuffix("Z") else { return time }
        return String(time[..<dot]) + "Z"
    }

    /// `1800s` as `30m`, `7200s` as `2h`: as flags take durations. Anything else stays as it is.
    private static func wholeUnits(_ duration: String) -> String {
        guard duration.hasSuffix("s"), let seconds = Int64(duration.dropLast()), seconds > 0 else { return duration }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return duration
    }

    private static func render(header: [String], rows: [[String]]) -> String {
        // Whoever wrote a value (a text's sender, say), it keeps to its row.
        let all = [header] + rows.map { $0.map(\.escapedToOneLine) }
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                // Padded by characters, as the widths are counted: NSString's padding counts UTF-16
                // units, and would cut a cell with an emoji in it, mid-character.
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "   ")
        }.joined(separator: "\n") + "\n"
    }
}
