import Foundation
import RPCRuntime
import ServiceProAPI

/// servicepro.concierge.v1.OutboxService: the delivery state of the emails and texts sent for
/// tenants, read-only. Platform staff read one tenant's (`tenants/{tenant}`) or every tenant's
/// (`tenants/-`); bodies are never returned.
public struct OutboxHandler: OutboxServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func listOutboxMessages(_ request: ListOutboxMessagesRequest, context: RequestContext) async throws -> ListOutboxMessagesResponse {
        var unpaged = request
        unpaged.pageSize = 0
        unpaged.pageToken = ""
        let fingerprint = try PageCursor.fingerprint(of: unpaged)
        let pageSize = try PageCursor.pageSize(request.pageSize)
        let cursor = try PageCursor.decode(request.pageToken, filter: fingerprint)
        // The runtime leaves no tenant only for `tenants/-`, which it allows platform roles alone.
        let scope: DataScope = context.tenantID.map { .tenant($0) } ?? .platform
        let records = try await database.transaction(scope) { tx in
            try await OutboxRecords.list(state: request.state, channel: request.channel, after: cursor, limit: pageSize + 1, tx)
        }
        return ListOutboxMessagesResponse.with {
            let page = records.prefix(pageSize)
            $0.outboxMessages = page.map(\.message)
            if records.count > pageSize, let last = page.last {
                $0.nextPageToken = PageCursor(
                    time: Int64((last.createTime.timeIntervalSince1970 * 1_000_000).rounded()),
                    id: last.messageID,
                    filter: fingerprint
                ).encoded()
            }
        }
    }

    public func getOutboxMessage(_ request: GetOutboxMessageRequest, context: RequestContext) async throws -> OutboxMessage {
        let tenantID = try context.requireTenant()
        guard let messageID = ResourceName.id(of: request.name, after: "outboxMessages"),
              let record = try await database.withTenant(tenantID, { try await OutboxRecords.find(messageID: messageID, $0) })
        else { throw ServiceError.notFound(request.name) }
        return record.message
    }
}
