import Foundation
import RPCRuntime
import ServiceProAPI

/// servicepro.concierge.v1.IndustryPackService: the catalogue, read-only. Packs are platform
/// data, the same for every tenant, so tenant admins browse them too.
public struct IndustryPackHandler: IndustryPackServiceHandler {
    let catalog: IndustryPackCatalog
    /// As ListIndustryPacks returns them: by display name, then by name.
    private let listed: [IndustryPack]

    public init(catalog: IndustryPackCatalog) {
        self.catalog = catalog
        self.listed = catalog.all.sorted { ($0.displayName, $0.name) < ($1.displayName, $1.name) }
    }

    /// The catalogue is fixed while the server runs, so, as for plans, a page token is simply the
    /// name of the first pack of the next page.
    public func listIndustryPacks(_ request: ListIndustryPacksRequest, context: RequestContext) async throws -> ListIndustryPacksResponse {
        let pageSize = try PageCursor.pageSize(request.pageSize)
        var start = 0
        if !request.pageToken.isEmpty {
            guard let index = listed.firstIndex(where: { $0.name == request.pageToken }) else {
                throw ServiceError.invalidArgument(field: "page_token", "is not a token this method returned")
            }
            start = index
        }
        let end = min(start + pageSize, listed.count)
        return ListIndustryPacksResponse.with {
            $0.industryPacks = Array(listed[start..<end])
            if end < listed.count { $0.nextPageToken = listed[end].name }
        }
    }

    public func getIndustryPack(_ request: GetIndustryPackRequest, context: RequestContext) async throws -> IndustryPack {
        guard let pack = catalog.pack(named: request.name) else { throw ServiceError.notFound(request.name) }
        return pack
    }
}
