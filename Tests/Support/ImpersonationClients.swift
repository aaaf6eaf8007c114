import GRPCCore
import GRPCNIOTransportHTTP2
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

extension TestPlatform {
    public func impersonation(_ token: String) -> AuthenticatedImpersonation {
        AuthenticatedImpersonation(client: ImpersonationService.Client(wrapping: client), metadata: metadata(token))
    }

    public func audit(_ token: String) -> AuthenticatedAudit {
        AuthenticatedAudit(client: AuditService.Client(wrapping: client), metadata: metadata(token))
    }

    /// The owner impersonating `tenant`: the new session and its token.
    public func impersonate(_ tenant: String, reason: String = "support ticket 4711", ttl: Google_Protobuf_Duration? = nil) async throws -> StartImpersonationResponse {
        try await impersonation(ownerToken).start(.with {
            $0.tenant = "tenants/\(tenant)"
            $0.reason = reason
            if let ttl { $0.ttl = ttl }
        })
    }

    /// Every tenant's audit events, newest first, as the owner reads them.
    public func auditEvents(_ filter: ListAuditEventsRequest = .init()) async throws -> [AuditEvent] {
        var request = filter
        if request.parent.isEmpty { request.parent = "tenants/-" }
        request.pageSize = 1000
        return try await audit(ownerToken).list(request).auditEvents
    }
}

/// An impersonation client with one caller's credentials attached to every call.
public struct AuthenticatedImpersonation: Sendable {
    let client: ImpersonationService.Client<HTTP2ClientTransport.Posix>
    let metadata: Metadata

    public func start(_ request: StartImpersonationRequest) async throws -> StartImpersonationResponse { try await client.startImpersonation(request, metadata: metadata) }
    public func stop(_ request: StopImpersonationRequest = .init()) async throws -> ImpersonationSession { try await client.stopImpersonation(request, metadata: metadata) }
    public func revoke(_ request: RevokeImpersonationRequest) async throws -> ImpersonationSession { try await client.revokeImpersonation(request, metadata: metadata) }
    public func get(_ request: GetImpersonationSessionRequest) async throws -> ImpersonationSession { try await client.getImpersonationSession(request, metadata: metadata) }
    public func list(_ request: ListImpersonationSessionsRequest) async throws -> ListImpersonationSessionsResponse { try await client.listImpersonationSessions(request, metadata: metadata) }
    public func whoAmI() async throws -> WhoAmIResponse { try await client.whoAmI(WhoAmIRequest(), metadata: metadata) }
}

public struct AuthenticatedAudit: Sendable {
    let client: AuditService.Client<HTTP2ClientTransport.Posix>
    let metadata: Metadata

    public func list(_ request: ListAuditEventsRequest) async throws -> ListAuditEventsResponse { try await client.listAuditEvents(request, metadata: metadata) }
    public func get(_ request: GetAuditEventRequest) async throws -> AuditEvent { try await client.getAuditEvent(request, metadata: metadata) }
}
