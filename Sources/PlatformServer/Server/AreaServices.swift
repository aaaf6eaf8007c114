import RPCRuntime
import ServiceProAPI

/// The areas whose handlers come in later work. They are registered now, with their policies,
/// and answer UNIMPLEMENTED with the method's name.
enum AreaServices {
    static let unimplemented: [any PolicedRPCService] = [
        IndustryPackService.Service(handler: IndustryPackService.UnimplementedHandler()),
        ConciergeService.Service(handler: ConciergeService.UnimplementedHandler()),
        OutboxService.Service(handler: OutboxService.UnimplementedHandler()),
        LoginLinkService.Service(handler: LoginLinkService.UnimplementedHandler()),
    ]
}
