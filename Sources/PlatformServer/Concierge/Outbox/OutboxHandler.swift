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
        let paging = try PageRequest(request)
        var conditions: [SQLStatement] = []
        if request.state != .unspecified { conditions.append("state = \(request.state.storedName)") }
        if request.channel != .unspecified { conditions.append("channel = \(request.channel.storedName)") }
        // The runtime leaves no tenant only for `tenants/-`, which it allows platform roles alone.
        let scope: DataScope = context.tenantID.map { .tenant($0) } ?? .platform
        let filters = conditions
        let messages = try await database.transaction(scope) { tx in
            try await ListOrder(column: "create_time", direction: .newestFirst, idColumn: "message_id")
                .page(of: OutboxRecords.table, where: filters, paging, tx) { try OutboxRecords.record(from: $0).message }
        }
        return ListOutboxMessagesResponse.with {
            $0.outboxMessages = messages.items
            $0.nextPageToken = messages.nextPageToken
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

extension ListOutboxMessagesRequest: PagedListRequest {}
