import Foundation

/// An `application/x-www-form-urlencoded` body, as Twilio posts its webhooks: parameters in the
/// order sent, repeats kept (Twilio's signature covers every value).
struct FormBody: Sendable {
    let parameters: [(String, String)]

    enum ParseError: Error, CustomStringConvertible {
        case notUTF8
        case malformed

        var description: String {
            switch self {
            case .notUTF8: return "the request body is not UTF-8"
            case .malformed: return "the request body is not form-encoded"
            }
        }
    }

    init(_ bytes: [UInt8]) throws {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ParseError.notUTF8 }
        var parameters: [(String, String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), let value = Self.decode(parts.count > 1 ? parts[1] : "") else {
                throw ParseError.malformed
            }
            parameters.append((name, value))
        }
        self.parameters = parameters
    }

    /// The first value of a parameter, or "" when absent.
    subscript(name: String) -> String {
        parameters.first { $0.0 == name }?.1 ?? ""
    }

    /// Every value of a parameter with a numbered name, e.g. MediaUrl0, MediaUrl1, ...
    func numbered(_ prefix: String) -> [String] {
        var values: [String] = []
        while let value = parameters.first(where: { $0.0 == "\(prefix)\(values.count)" })?.1 {
            values.append(value)
        }
        return values
    }

    private static func decode(_ component: Substring) -> String? {
        String(component).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
