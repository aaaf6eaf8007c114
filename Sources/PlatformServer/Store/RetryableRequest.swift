import Crypto
import Foundation
import ServiceProAPI
import SwiftProtobuf

/// A create or action its caller may retry under the same `request_id` (AIP-155). The retry gets
/// the first answer; the id sent again with a different request is refused, as a mistake in the
/// caller's bookkeeping, rather than answered with a result that belongs to another request.
protocol RetryableRequest: SwiftProtobuf.Message {
    var requestID: String { get }
    /// The request as a retry must repeat it. A request that carries a secret leaves it out: the
    /// store keeps a digest of this, and a digest of a short secret is easier to attack than the
    /// sealed copy the store keeps of it.
    var retryFingerprint: Self { get }
}

extension RetryableRequest {
    var retryFingerprint: Self { self }

    /// SHA-256 of the fingerprint's deterministic encoding: the same request, however a client
    /// ordered its fields or map entries, gives the same digest.
    var retryDigest: Data {
        get throws {
            var options = BinaryEncodingOptions()
            options.useDeterministicOrdering = true
            let bytes: [UInt8] = try retryFingerprint.serializedBytes(options: options)
            return Data(SHA256.hash(data: bytes))
        }
    }
}

extension CreatePhoneConfigRequest: RetryableRequest {
    var retryFingerprint: Self {
        var fingerprint = self
        fingerprint.phoneConfig.sipPassword = ""
        return fingerprint
    }
}

extension RedeemLoginLinkRequest: RetryableRequest {
    /// The token is the secret itself; its link already scopes the record (``IdempotencyRecords``).
    var retryFingerprint: Self {
        var fingerprint = self
        fingerprint.token = ""
        return fingerprint
    }
}

extension ApplyIndustryPackRequest: RetryableRequest {}
extension ChangePlanRequest: RetryableRequest {}
extension CreateApiKeyRequest: RetryableRequest {}
extension CreateAppointmentRequest: RetryableRequest {}
extension CreateCatalogItemRequest: RetryableRequest {}
extension CreateConciergeTenantRequest: RetryableRequest {}
extension CreateCustomerRequest: RetryableRequest {}
extension CreateInvoiceRequest: RetryableRequest {}
extension CreateLoginLinkRequest: RetryableRequest {}
extension CreateTenantRequest: RetryableRequest {}
extension RevokeImpersonationRequest: RetryableRequest {}
extension RevokeLoginLinkRequest: RetryableRequest {}
extension SendOnboardingRequest: RetryableRequest {}
extension SetTenantStatusRequest: RetryableRequest {}
extension StartExportRequest: RetryableRequest {}
extension StartImpersonationRequest: RetryableRequest {}
extension StopImpersonationRequest: RetryableRequest {}
