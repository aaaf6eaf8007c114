/// `application/x-www-form-urlencoded`, as Twilio encodes webhook bodies and Stripe its API
/// requests. Pairs keep their order, so repeated and bracketed names (`items[0][price]`) survive.
public enum FormEncoding {
    /// The pairs joined with `&`, every byte of names and values but ASCII letters, digits and
    /// `-._~` escaped as `%XX`. A space is `%20`, which decoders read as they read `+`.
    public static func encode(_ parameters: [(String, String)]) -> String {
        var body: [UInt8] = []
        for (name, value) in parameters {
            if !body.isEmpty { body.append(UInt8(ascii: "&")) }
            escape(name, into: &body)
            body.append(UInt8(ascii: "="))
            escape(value, into: &body)
        }
        return String(decoding: body, as: UTF8.self)
    }

    private static func escape(_ component: String, into body: inout [UInt8]) {
        for byte in component.utf8 {
            if byte.isASCIILetterOrDigit || unreserved.contains(byte) {
                body.append(byte)
            } else {
                body.append(UInt8(ascii: "%"))
                body.append(hexDigits[Int(byte >> 4)])
                body.append(hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    private static let unreserved = Array("-._~".utf8)
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// The pairs of a body, in order, repeats kept: `+` is a space and `%XX` a byte. Nil when an
    /// escape is malformed or what it decodes to is not UTF-8.
    ///
    /// Byte by byte, like `encode`: every webhook the bridge serves is parsed here.
    public static func decode(_ body: [UInt8]) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        for pair in body.split(separator: UInt8(ascii: "&")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let name = pair[..<(equals ?? pair.endIndex)]
            let value = equals.map { pair[pair.index(after: $0)...] } ?? []
            guard let name = unescape(name), let value = unescape(value) else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    private static func unescape(_ component: ArraySlice<UInt8>) -> String? {
        guard component.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(validating: component, as: UTF8.self)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(component.count)
        var index = component.startIndex
        while index < component.endIndex {
            switch component[index] {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < component.endIndex,
                      let high = hexValue(component[index + 1]), let low = hexValue(component[index + 2])
                else { return nil }
                bytes.append(high << 4 | low)
                index += 3
            case let byte:
                bytes.append(byte)
                index += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
