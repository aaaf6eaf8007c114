import RPCRuntime

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
        guard let parameters = FormEncoding.decode(bytes) else {
            // Only a refused body is looked at again, to say which way it is wrong.
            throw String(validating: bytes, as: UTF8.self) == nil ? ParseError.notUTF8 : ParseError.malformed
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
}
