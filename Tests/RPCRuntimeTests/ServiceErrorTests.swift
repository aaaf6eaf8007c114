import GRPCCore
import GRPCProtobuf
import RPCRuntime
import Testing

@Suite("Errors on the wire")
struct ServiceErrorTests {
    @Test("a domain error becomes google.rpc.Status with ErrorInfo and BadRequest")
    func roundTrip() throws {
        let error = ServiceError.invalidArgument([FieldViolation(field: "tenant.contact.phone", description: "must be E.164")])
        let rpcError = RPCError(error)
        #expect(rpcError.code == .invalidArgument)
        let status = try #require(try rpcError.unpackGoogleRPCStatus())
        let info = try #require(status.details.compactMap(\.errorInfo).first)
        #expect(info.domain == "servicepro.dev")
        #expect(info.reason == "invalid_argument")
        let fields = status.details.compactMap(\.badRequest).flatMap(\.violations).map(\.field)
        #expect(fields == ["tenant.contact.phone"])
    }

    @Test("any error as a client is told of it: a domain error as it is, an RPC error with its reason, a cancellation, anything else INTERNAL")
    func fromAnyError() throws {
        let backlog = ServiceError(code: .unavailable, reason: "inbound_backlog", message: "too many")
        #expect(ServiceError(backlog as any Error) == backlog)
        let received = ServiceError(RPCError(backlog) as any Error)
        #expect(received.code == .unavailable)
        #expect(received.reason == "inbound_backlog")
        #expect(received.message == "too many")
        #expect(ServiceError(CancellationError()).code == .cancelled)
        struct StoreFault: Error { let table = "text_messages" }
        let fault = ServiceError(StoreFault())
        #expect(fault.code == .internalError)
        #expect(fault.message == "internal error")
        #expect(fault.metadata["detail"]?.contains("text_messages") == true)
    }

    @Test("internal errors keep their detail out of the wire")
    func internalDetailStaysHome() throws {
        let status = try #require(try RPCError(ServiceError.internal("connection to db-7 refused")).unpackGoogleRPCStatus())
        #expect(status.message == "internal error")
        #expect(status.details.compactMap(\.errorInfo).first?.metadata.isEmpty == true)
    }

    @Test("a long value echoed from the request is cut short, even one character of many code points")
    func echoedValuesAreClipped() throws {
        for name in ["tenants/acme/customers/" + String(repeating: "x", count: 100_000),
                     "tenants/acme/customers/x" + String(repeating: "\u{301}", count: 100_000)] {
            let status = try #require(try RPCError(ServiceError.notFound(name)).unpackGoogleRPCStatus())
            #expect(status.message.utf8.count < 8 * 1024)
            let resource = try #require(status.details.compactMap(\.errorInfo).first?.metadata["resource"])
            #expect(resource.utf8.count < 8 * 1024)
            #expect(resource.hasSuffix("…"))
        }
    }

    @Test("a request with hundreds of bad fields gets the first of them and a count of the rest, in trailers any gRPC client takes")
    func manyViolationsAreBounded() throws {
        let violations = (0..<500).map { FieldViolation(field: "invoice.lines[\($0)].quantity", description: "must be at least 1 (got 0)") }
        let rpcError = RPCError(ServiceError.invalidArgument(violations))
        let trailerBytes = rpcError.metadata.reduce(0) { total, entry in
            switch entry.value {
            case .string(let value): total + entry.key.utf8.count + value.utf8.count
            case .binary(let bytes): total + entry.key.utf8.count + (bytes.count + 2) / 3 * 4  // sent in base64
            }
        } + rpcError.message.utf8.count
        #expect(trailerBytes < 6 * 1024, "clients take 8 KiB of metadata by default: \(trailerBytes) bytes")
        let sent = try #require(try rpcError.unpackGoogleRPCStatus()).details.compactMap(\.badRequest).flatMap(\.violations)
        #expect(sent.first?.field == "invoice.lines[0].quantity")
        let last = try #require(sent.last)
        #expect(last.field == "invoice.lines[\(sent.count - 1)].quantity")
        // 500 is past what validators collect (they stop looking), so the count is a floor.
        #expect(last.violationDescription.hasPrefix("and at least \(500 - (sent.count - 1)) more problems"), "\(last.violationDescription)")

        let fewer = (0..<80).map { FieldViolation(field: "invoice.lines[\($0)].quantity", description: "must be at least 1 (got 0)") }
        let listed = try #require(try RPCError(ServiceError.invalidArgument(fewer)).unpackGoogleRPCStatus()).details.compactMap(\.badRequest).flatMap(\.violations)
        #expect(try #require(listed.last).violationDescription.hasPrefix("and \(80 - (listed.count - 1)) more problems"))
    }

    @Test("a long value echoed from the request in characters of several bytes still fits the trailers clients take")
    func nonASCIIEchoesAreBounded() throws {
        let path = String(repeating: "😀", count: 1_024)
        let rpcError = RPCError(ServiceError.invalidArgument(field: "update_mask", "\(path) is not a field of tenant"))
        // grpc-message goes percent-encoded (three bytes for each byte that is not ASCII).
        let message = rpcError.message.utf8.count * 3
        let details = rpcError.metadata.reduce(0) { total, entry in
            guard case .binary(let bytes) = entry.value else { return total }
            return total + (bytes.count + 2) / 3 * 4
        }
        #expect(message + details < 6 * 1024, "clients take 8 KiB of metadata by default: \(message + details) bytes")
    }

    @Test("resource names")
    func resourceNames() {
        #expect(ResourceName.tenantID(of: "tenants/acme/apiKeys/k1") == "acme")
        #expect(ResourceName.tenantID(of: "tenants/") == nil)
        #expect(ResourceName.tenantID(of: "industryPacks/lawn") == nil)
        #expect(ResourceName.id(of: "tenants/acme/apiKeys/k1", after: "apiKeys") == "k1")
    }
}
