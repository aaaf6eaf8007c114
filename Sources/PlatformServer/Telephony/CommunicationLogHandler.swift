import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// servicepro.telephony.v1.CommunicationLogService: a tenant's message and call logs, newest first.
public struct CommunicationLogHandler: CommunicationLogServiceHandler {
    let database: any Database

    public init(database: any Database) { self.database = database }

    public func listMessages(_ request: ListMessagesRequest, context: RequestContext) async throws -> ListMessagesResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        let conditions = try Self.conditions(
            tenantID: tenantID, direction: request.direction, phoneNumber: request.phoneNumber, customer: request.customer,
            timeColumn: "create_time", start: request.hasStartTime ? request.startTime : nil, end: request.hasEndTime ? request.endTime : nil)
        let messages = try await database.transaction(.tenant(tenantID)) { tx in
            try await ListOrder(column: "create_time", direction: .newestFirst, idColumn: "message_id")
                .page(of: "text_messages", where: conditions, paging, tx, item: CommunicationRecords.textMessage(from:))
        }
        return .with {
            $0.messages = messages.items
            $0.nextPageToken = messages.nextPageToken
        }
    }

    public func getMessage(_ request: GetMessageRequest, context: RequestContext) async throws -> TextMessage {
        let tenantID = try context.requireTenant()
        guard let id = ResourceName.id(of: request.name, after: "messages"),
              let row = try await database.withTenant(tenantID, { tx in try await tx.select(from: "text_messages", where: "message_id = \(id)").first })
        else { throw ServiceError.notFound(request.name) }
        return try CommunicationRecords.textMessage(from: row)
    }

    public func listCalls(_ request: ListCallsRequest, context: RequestContext) async throws -> ListCallsResponse {
        let tenantID = try context.requireTenant()
        let paging = try PageRequest(request)
        var conditions = try Self.conditions(
            tenantID: tenantID, direction: request.direction, phoneNumber: request.phoneNumber, customer: request.customer,
            timeColumn: "start_time", start: request.hasStartTime ? request.startTime : nil, end: request.hasEndTime ? request.endTime : nil)
        if request.status != .unspecified { conditions.append("status = \(request.status.storedName)") }
        let filters = conditions
        let calls = try await database.transaction(.tenant(tenantID)) { tx in
            try await ListOrder(column: "start_time", direction: .newestFirst, idColumn: "call_id")
                .page(of: "phone_calls", where: filters, paging, tx, item: CommunicationRecords.phoneCall(from:))
        }
        return .with {
            $0.calls = calls.items
            $0.nextPageToken = calls.nextPageToken
        }
    }

    public func getCall(_ request: GetCallRequest, context: RequestContext) async throws -> PhoneCall {
        let tenantID = try context.requireTenant()
        guard let id = ResourceName.id(of: request.name, after: "calls"),
              let row = try await database.withTenant(tenantID, { tx in try await tx.select(from: "phone_calls", where: "call_id = \(id)").first })
        else { throw ServiceError.notFound(request.name) }
        return try CommunicationRecords.phoneCall(from: row)
    }

    /// The filters both logs share: direction, a number on either end, a customer, a time range.
    /// As the other listings do, a customer of another tenant and a range that ends before it
    /// starts are refused, not answered with an empty page.
    private static func conditions(
        tenantID: String,
        direction: CommunicationDirection,
        phoneNumber: String,
        customer: String,
        timeColumn: String,
        start: Google_Protobuf_Timestamp?,
        end: Google_Protobuf_Timestamp?
    ) throws -> [SQLStatement] {
        if let start, let end, end.date <= start.date {
            throw ServiceError.invalidArgument(field: "end_time", "must be after start_time")
        }
        var conditions: [SQLStatement] = []
        if direction != .unspecified { conditions.append("direction = \(direction.storedName)") }
        if !phoneNumber.isEmpty { conditions.append("(from_number = \(phoneNumber) OR to_number = \(phoneNumber))") }
        if let customerID = try CustomerRecords.collection.filterID(customer, field: "customer", tenantID: tenantID) {
            conditions.append("customer_id = \(customerID)")
        }
        if let start { conditions.append("\(raw: timeColumn) >= \(start.date)") }
        if let end { conditions.append("\(raw: timeColumn) < \(end.date)") }
        return conditions
    }
}

extension ListMessagesRequest: PagedListRequest {}

extension ListCallsRequest: PagedListRequest {}
