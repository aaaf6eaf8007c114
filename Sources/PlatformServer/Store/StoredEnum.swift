import Synchronization
import SwiftProtobuf

/// Enum values as stored: the Swift case name in snake case (`pastDue` → `past_due`), which is
/// the proto value name without its prefix, lowercased.
protocol StoredEnum: SwiftProtobuf.Enum, CaseIterable {}

extension StoredEnum {
    var storedName: String { StoredEnumNames.of(Self.self).names[rawValue] ?? "" }

    init(storedName: String) {
        self = Self(rawValue: StoredEnumNames.of(Self.self).values[storedName] ?? 0) ?? Self(rawValue: 0)!
    }
}

/// Each stored enum's names, worked out once per type: rows are read and written by the
/// million, and `String(describing:)` on every one would show in every profile.
enum StoredEnumNames {
    struct Table: Sendable {
        var names: [Int: String]
        var values: [String: Int]
    }

    private static let tables = Mutex<[ObjectIdentifier: Table]>([:])

    static func of<E: StoredEnum>(_ type: E.Type) -> Table {
        if let table = tables.withLock({ $0[ObjectIdentifier(type)] }) { return table }
        var table = Table(names: [:], values: [:])
        for value in E.allCases {
            let name = String(describing: value).reduce(into: "") { result, character in
                if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
            }
            table.names[value.rawValue] = name
            table.values[name] = value.rawValue
        }
        tables.withLock { $0[ObjectIdentifier(type)] = table }
        return table
    }
}
