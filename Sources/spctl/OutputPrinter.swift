import Foundation
import SwiftProtobuf

/// Prints responses as JSON (proto field names) or as a table: one row per item for listings,
/// one `field  value` row per field otherwise.
struct OutputPrinter {
    var format: OutputFormat

    func print(_ message: some SwiftProtobuf.Message) throws {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        let json = try message.jsonUTF8Data(options: options)
        switch format {
        case .json:
            try Self.printJSON(try JSONSerialization.jsonObject(with: json))
        case .table:
            let object = try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
            Swift.print(Self.table(object), terminator: "")
        }
    }

    /// `object` as JSON the way every command prints it: indented, keys sorted.
    static func printJSON(_ object: Any) throws {
        let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        Swift.print(String(decoding: pretty, as: UTF8.self))
    }

    static func table(_ object: [String: Any]) -> String {
        // A listing is a response of one list and its paging fields; a resource that happens to
        // hold a list (an export's entity counts) prints field by field.
        let lists = object.filter { $0.value is [[String: Any]] }
        let paging: Set<String> = ["next_page_token", "total_size"]
        if lists.count == 1, let (key, items) = lists.first, let rows = items as? [[String: Any]],
           object.keys.allSatisfy({ $0 == key || paging.contains($0) }) {
            var text = listTable(rows)
            if let next = object["next_page_token"] as? String, !next.isEmpty {
                text += "\n(more: --page-token \(next))\n"
            }
            return text
        }
        if object.isEmpty, lists.isEmpty { return "(empty)\n" }
        let rows = flatten(object, prefix: "").sorted { $0.0 < $1.0 }.map { [$0.0, $0.1] }
        return render(header: ["FIELD", "VALUE"], rows: rows)
    }

    private static func listTable(_ items: [[String: Any]]) -> String {
        guard !items.isEmpty else { return "(none)\n" }
        var columns: [String] = []
        for item in items {
            for key in item.keys.sorted() where !(item[key] is [String: Any]) && !(item[key] is [Any]) && !columns.contains(key) {
                columns.append(key)
            }
        }
        // The resource name first, then the rest alphabetically.
        columns.sort { ($0 == "name" ? "" : $0) < ($1 == "name" ? "" : $1) }
        let rows = items.map { item in columns.map { describe(item[$0]) } }
        return render(header: columns.map { $0.uppercased() }, rows: rows)
    }

    private static func flatten(_ object: [String: Any], prefix: String) -> [(String, String)] {
        object.flatMap { key, value -> [(String, String)] in
            if let nested = value as? [String: Any] { return flatten(nested, prefix: prefix + key + ".") }
            return [(prefix + key, describe(value))]
        }
    }

    private static func describe(_ value: Any?) -> String {
        switch value {
        case nil: return ""
        case let string as String: return string
        case let objects as [[String: Any]]:
            return objects.map { item in item.keys.sorted().map { "\($0)=\(describe(item[$0]))" }.joined(separator: " ") }.joined(separator: "; ")
        case let array as [Any]: return array.map { describe($0) }.joined(separator: ",")
        case let number as NSNumber: return number.stringValue
        default: return "\(value!)"
        }
    }

    private static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
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
