import Foundation
import RPCRuntime
import SwiftProtobuf

/// A one-time secret in a response, and how the response's idempotency record keeps it: sealed
/// with the ``SecretSealer`` and bound to the resource it belongs to. A retry gets the secret
/// back; the store never holds it in the clear.
struct SealedToken<Response: SwiftProtobuf.Message>: Sendable {
    private let field: WritableKeyPath<Response, String> & Sendable
    private let owner: @Sendable (Response) -> String
    private let sealer: SecretSealer

    /// `owner` names what the secret belongs to, e.g. the key or session the token opens.
    init(_ field: WritableKeyPath<Response, String> & Sendable, boundTo owner: @escaping @Sendable (Response) -> String, with sealer: SecretSealer) {
        self.field = field
        self.owner = owner
        self.sealer = sealer
    }

    func sealed(_ response: Response) throws -> Response {
        var stored = response
        stored[keyPath: field] = try sealer.seal(response[keyPath: field], boundTo: owner(response)).base64EncodedString()
        return stored
    }

    func opened(_ stored: Response) throws -> Response {
        guard let sealed = Data(base64Encoded: stored[keyPath: field]) else {
            throw ServiceError.internal("the idempotency record of \(owner(stored)) holds no sealed token")
        }
        var response = stored
        response[keyPath: field] = try sealer.open(sealed, boundTo: owner(stored))
        return response
    }
}
