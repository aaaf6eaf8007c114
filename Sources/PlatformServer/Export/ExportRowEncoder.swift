import Foundation

/// One stored row as a CSV record (RFC 4180: quoted when it holds a comma, quote or line break)
/// and as a JSON object on one line. Built byte by byte: a million rows go through here.
///
/// Anyone can text a tenant's number, and a spreadsheet runs a cell that starts like a formula
/// (`=HYPERLINK(…)`) when the tenant opens messages.csv: such text cells start with a `'` in the
/// CSV (OWASP's advice), which spreadsheets show as plain text. The JSON lines keep every value
/// exactly as stored.
struct ExportRowEncoder {
    let table: ExportTable
    /// `"name":` of each column, encoded once.
    private let keys: [[UInt8]]

    init(table: ExportTable) {
        self.table = table
        keys = table.columns.map { column in
            var key: [UInt8] = []
            Self.appendJSONString(column.name, to: &key)
            key.append(UInt8(ascii: ":"))
            return key
        }
    }

    var csvHeader: String { table.columns.map(\.name).joined(separator: ",") + "\r\n" }

    /// The row's values in column order: each looked up once, for both files.
    func cells(of row: SQLRow) -> [SQLValue] {
        table.columns.map { row.values[$0.name] ?? .null }
    }

    func csv(_ cells: [SQLValue], into out: inout [UInt8]) {
        for (index, column) in table.columns.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            switch cells[index] {
            case .null: break
            case .integer(let value) where column.kind == .time: RFC3339.append(microseconds: value, to: &out)
            case .integer(let value) where column.kind == .boolean: out.append(contentsOf: (value != 0 ? "true" : "false").utf8)
            case .integer(let value): out.append(contentsOf: String(value).utf8)
            case .text(let text): Self.appendCSVField(text, to: &out)
            case .real(let value): out.append(contentsOf: String(value).utf8)
            case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
            case .blob(let data): out.append(contentsOf: data.base64EncodedString().utf8)
            }
        }
        out.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
    }

    func json(_ cells: [SQLValue], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, column) in table.columns.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: keys[index])
            switch cells[index] {
            case .null: out.append(contentsOf: "null".utf8)
            case .integer(let value) where column.kind == .time:
                out.append(UInt8(ascii: "\""))
                RFC3339.append(microseconds: value, to: &out)
                out.append(UInt8(ascii: "\""))
            case .integer(let value) where column.kind == .boolean: out.append(contentsOf: (value != 0 ? "true" : "false").utf8)
            case .integer(let value): out.append(contentsOf: String(value).utf8)
            case .text(let text) where column.kind == .json: out.append(contentsOf: text.utf8)
            case .text(let text): Self.appendJSONString(text, to: &out)
            case .real(let value): out.append(contentsOf: String(value).utf8)
            case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
            case .blob(let data): Self.appendJSONString(data.base64EncodedString(), to: &out)
            }
        }
        out.append(contentsOf: [UInt8(ascii: "}"), UInt8(ascii: "\n")])
    }

    static func appendCSVField(_ text: String, to out: inout [UInt8]) {
        let text = startsLikeFormula(text) ? "'" + text : text
        let needsQuotes = text.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else {
            out.append(contentsOf: text.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A cell a spreadsheet would evaluate: one starting with `=`, `@`, a tab or a carriage
    /// return, or with `+` or `-` followed by more than a number (`+19185550101` stays as it is).
    static func startsLikeFormula(_ text: String) -> Bool {
        guard let first = text.utf8.first else { return false }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "@"), 0x09, 0x0D: return true
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            return !text.utf8.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: ".") }
        default: return false
        }
    }

    /// Copies runs of bytes that need no escaping in one go; most text is one run.
    static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// `2026-11-27T02:07:26.725385Z` from microseconds since 1970, without a formatter per row.
enum RFC3339 {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: four-digit years, as RFC 3339 has.
    static let representable: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999

    /// A time outside the representable range (stored before requests' times were validated)
    /// is written as the nearest one, not as a malformed year.
    static func append(microseconds: Int64, to out: inout [UInt8]) {
        let microseconds = min(max(microseconds, representable.lowerBound), representable.upperBound)
        var seconds = time_t(microseconds.floorDivided(by: 1_000_000))
        let micros = Int(microseconds - Int64(seconds) * 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var value = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor))
                value %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(micros, 6); out.append(UInt8(ascii: "Z"))
    }
}

extension Int64 {
    /// Rounds toward negative infinity, so times before 1970 split into seconds correctly.
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
