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

    /// The catalogue is fixed while the server runs, as the plans are.
    public func listIndustryPacks(_ request: ListIndustryPacksRequest, context: RequestContext) async throws -> ListIndustryPacksResponse {
        let page = try FixedListPage(of: listed, name: \.name, pageSize: request.pageSize, pageToken: request.pageToken)
        return ListIndustryPacksResponse.with {
            $0.industryPacks = page.items
            $0.nextPageToken = page.nextPageToken
        }
    }

    public func getIndustryPack(_ request: GetIndustryPackRequest, context: RequestContext) async throws -> IndustryPack {
        guard let pack = catalog.pack(named: request.name) else { throw ServiceError.notFound(request.name) }
        return pack
    }
}
