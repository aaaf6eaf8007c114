import RPCRuntime
import ServiceProAPI

/// The bridge's copy of where each line's callers go while the platform cannot answer them
/// (servicepro.telephony.v1.InboundService.ListFallbackRoutes). Read from the phone configs
/// themselves rather than the resolver's index, so a page is never older than its read.
extension InboundHandler {
    public func listFallbackRoutes(_ request: ListFallbackRoutesRequest, context: RequestContext) async throws -> ListFallbackRoutesResponse {
        let paging = try PageRequest(request)
        let routes = try await database.transaction(.platform) { tx in
            try await ListOrder(column: "phone_number", direction: .alphabetical, idColumn: "phone_config_id")
                .page(of: "phone_configs", where: ["phone_number IS NOT NULL"], paging, tx) { row in
                    let number = try row.string("phone_number"), forward = try row.optionalString("forward_number") ?? ""
                    return FallbackRoute.with { $0.phoneNumber = number; $0.forwardNumber = forward }
                }
        }
        return ListFallbackRoutesResponse.with {
            $0.routes = routes.items
            $0.nextPageToken = routes.nextPageToken
        }
    }
}

extension ListFallbackRoutesRequest: PagedListRequest {}
