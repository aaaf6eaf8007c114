import RPCRuntime
import ServiceProAPI

/// servicepro.impersonation.v1.ImpersonationService. WhoAmI works today; impersonation
/// sessions themselves are not built yet and answer UNIMPLEMENTED.
public struct ImpersonationHandler: ImpersonationServiceHandler {
    private let pending = ImpersonationService.UnimplementedHandler()

    public init() {}

    public func whoAmI(_ request: WhoAmIRequest, context: RequestContext) async throws -> WhoAmIResponse {
        let principal = context.principal
        return WhoAmIResponse.with {
            $0.principal = principal.subject
            $0.realActor = principal.realActor
            $0.role = principal.role.proto
            if !principal.role.isPlatform || principal.isImpersonating {
                $0.effectiveTenant = ResourceName.tenant(principal.tenantID)
            }
        }
    }

    public func startImpersonation(_ request: StartImpersonationRequest, context: RequestContext) async throws -> StartImpersonationResponse {
        try await pending.startImpersonation(request, context: context)
    }

    public func stopImpersonation(_ request: StopImpersonationRequest, context: RequestContext) async throws -> ImpersonationSession {
        try await pending.stopImpersonation(request, context: context)
    }

    public func revokeImpersonation(_ request: RevokeImpersonationRequest, context: RequestContext) async throws -> ImpersonationSession {
        try await pending.revokeImpersonation(request, context: context)
    }

    public func getImpersonationSession(_ request: GetImpersonationSessionRequest, context: RequestContext) async throws -> ImpersonationSession {
        try await pending.getImpersonationSession(request, context: context)
    }

    public func listImpersonationSessions(_ request: ListImpersonationSessionsRequest, context: RequestContext) async throws -> ListImpersonationSessionsResponse {
        try await pending.listImpersonationSessions(request, context: context)
    }
}
