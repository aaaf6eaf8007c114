import Foundation
import RPCRuntime
import ServiceProAPI

/// The number releases of servicepro.telephony.v1.PhoneConfigService, read-only: platform staff
/// read one tenant's (`tenants/{tenant}`) or every tenant's (`tenants/-`).
extension PhoneConfigHandler {
    public func listNumberReleases(_ request: ListNumberReleasesRequest, context: RequestContext) async throws -> ListNumberReleasesResponse {
        let paging = try PageRequest(request)
        var conditions: [SQLStatement] = []
        if request.state != .unspecified { conditions.append("state = \(request.state.storedName)") }
        // The runtime leaves no tenant only for `tenants/-`, which it allows platform roles alone.
        let scope: DataScope = context.tenantID.map { .tenant($0) } ?? .platform
        let filters = conditions
        let releases = try await database.transaction(scope) { tx in
            try await ListOrder(column: "create_time", direction: .newestFirst, idColumn: "number_sid")
                .page(of: NumberReleaseRecords.table, where: filters, paging, tx) { try NumberReleaseRecords.record(from: $0).release }
        }
        return ListNumberReleasesResponse.with {
            $0.numberReleases = releases.items
            $0.nextPageToken = releases.nextPageToken
        }
    }

    public func getNumberRelease(_ request: GetNumberReleaseRequest, context: RequestContext) async throws -> NumberRelease {
        let tenantID = try context.requireTenant()
        let id = try NumberReleaseRecords.collection.requireID(in: request.name, tenantID: tenantID, field: "name")
        guard let record = try await database.withTenant(tenantID, { try await NumberReleaseRecords.find(numberSID: id, $0) }) else {
            throw ServiceError.notFound(request.name)
        }
        return record.release
    }
}

extension ListNumberReleasesRequest: PagedListRequest {}
