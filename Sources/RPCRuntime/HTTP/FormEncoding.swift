import Foundation

/// `application/x-www-form-urlencoded`, as Twilio encodes webhook bodies and Stripe its API
/// requests. Pairs keep their order, so repeated and bracketed names (`items[0][price]`) survive.
public enum FormEncoding {
    public static func encode(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { name, value in
            "\(name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
    }
}
