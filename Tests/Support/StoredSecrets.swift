import Foundation
import PlatformServer

extension SQLRow {
    /// Whether any text or blob of the row holds `secret`: for tests that a secret is never
    /// stored in the clear.
    public func holds(_ secret: String) -> Bool {
        values.values.contains { value in
            switch value {
            case .text(let text): text.contains(secret)
            case .blob(let data): data.range(of: Data(secret.utf8)) != nil
            default: false
            }
        }
    }
}
