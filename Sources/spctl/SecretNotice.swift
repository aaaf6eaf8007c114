import ServiceProAPI
import SwiftProtobuf

/// The answers that carry a secret the platform stores only hashed: spctl says, beside the
/// result, that it is shown this once, so nobody closes the terminal expecting to read it again.
enum SecretNotice {
    /// What to tell the person at the terminal about `response`; nil for an answer with no secret.
    static func notice(for response: some SwiftProtobuf.Message) -> String? {
        switch response {
        case let created as CreateApiKeyResponse where !created.token.isEmpty:
            "the token is shown this once and stored only hashed: keep it now (a lost one is revoked and replaced)"
        case let created as CreateLoginLinkResponse where !created.token.isEmpty:
            "the link is shown this once and stored only hashed: send it now (a lost one is revoked and made again)"
        default:
            nil
        }
    }
}
