import GRPCCore
import GRPCProtobuf
import Synchronization

/// The standard `grpc.health.v1.Health` service. The server reports SERVING while it runs and can
/// answer (``setServing(_:)``), and NOT_SERVING once shutdown begins, so load balancers drain it
/// before it stops.
public final class HealthService: RegistrableRPCService, Sendable {
    public static let serviceName = "grpc.health.v1.Health"
    static let check = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: serviceName), method: "Check")
    static let list = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: serviceName), method: "List")
    static let watch = MethodDescriptor(service: ServiceDescriptor(fullyQualifiedService: serviceName), method: "Watch")
    public static let methods = [check, list, watch]

    private typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: Status]
        var watchers: [Int: (service: String, continuation: AsyncStream<Status>.Continuation)] = [:]
        var nextWatcher = 0
        /// Set by `markNotServing`: a Watch that opens afterwards gets NOT_SERVING and ends.
        var stopped = false
    }

    private let state: Mutex<State>

    /// `services` are the fully qualified names served; "" stands for the whole server.
    public init(services: [String]) {
        var statuses: [String: Status] = ["": .serving]
        for service in services { statuses[service] = .serving }
        state = Mutex(State(statuses: statuses))
    }

    /// Marks everything NOT_SERVING and ends every Watch stream, so shutdown is not held up.
    public func markNotServing() {
        let watchers = state.withLock { state in
            for key in state.statuses.keys { state.statuses[key] = .notServing }
            state.stopped = true
            defer { state.watchers = [:] }
            return state.watchers.values
        }
        for watcher in watchers {
            watcher.continuation.yield(.notServing)
            watcher.continuation.finish()
        }
    }

    /// Every service SERVING, or NOT_SERVING while the server cannot answer (its store is out of
    /// reach, say); Watch streams hear each change. Once shutdown began, it stays NOT_SERVING.
    public func setServing(_ serving: Bool) {
        let status: Status = serving ? .serving : .notServing
        let watchers = state.withLock { state -> [AsyncStream<Status>.Continuation] in
            guard !state.stopped, state.statuses[""] != status else { return [] }
            for key in state.statuses.keys { state.statuses[key] = status }
            return state.watchers.values.filter { state.statuses[$0.service] != nil }.map(\.continuation)
        }
        for continuation in watchers { continuation.yield(status) }
    }

    private func status(of service: String) -> Status? {
        state.withLock { $0.statuses[service] }
    }

    /// Open Watch streams.
    var watcherCount: Int { state.withLock { $0.watchers.count } }

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Self.check,
            deserializer: ProtobufDeserializer<Grpc_Health_V1_HealthCheckRequest>(),
            serializer: ProtobufSerializer<Grpc_Health_V1_HealthCheckResponse>()
        ) { request, _ in
            let message = try await ServerRequest(stream: request).message
            guard let status = self.status(of: message.service) else {
                throw RPCError(code: .notFound, message: "unknown service \(message.service)")
            }
            return StreamingServerResponse(single: ServerResponse(message: .with { $0.status = status }))
        }
        router.registerHandler(
            forMethod: Self.list,
            deserializer: ProtobufDeserializer<Grpc_Health_V1_HealthListRequest>(),
            serializer: ProtobufSerializer<Grpc_Health_V1_HealthListResponse>()
        ) { _, _ in
            let statuses = self.state.withLock { $0.statuses }
            let response = Grpc_Health_V1_HealthListResponse.with {
                $0.statuses = statuses.mapValues { status in .with { $0.status = status } }
            }
            return StreamingServerResponse(single: ServerResponse(message: response))
        }
        router.registerHandler(
            forMethod: Self.watch,
            deserializer: ProtobufDeserializer<Grpc_Health_V1_HealthCheckRequest>(),
            serializer: ProtobufSerializer<Grpc_Health_V1_HealthCheckResponse>()
        ) { request, _ in
            let service = try await ServerRequest(stream: request).message.service
            return StreamingServerResponse { writer in
                let (updates, continuation) = AsyncStream.makeStream(of: Status.self)
                let id = self.state.withLock { state -> Int? in
                    guard !state.stopped else { return nil }
                    defer { state.nextWatcher += 1 }
                    state.watchers[state.nextWatcher] = (service, continuation)
                    return state.nextWatcher
                }
                defer { if let id { _ = self.state.withLock { $0.watchers.removeValue(forKey: id) } } }
                try await writer.write(.with { $0.status = self.status(of: service) ?? .serviceUnknown })
                // Shutting down: that NOT_SERVING was the last word, so shutdown is not held up.
                guard id != nil else { return [:] }
                // grpc-swift does not cancel this task when the client goes; it calls this instead.
                try await withRPCCancellationHandler {
                    for await status in updates {
                        try await writer.write(.with { $0.status = status })
                    }
                } onCancelRPC: {
                    continuation.finish()
                }
                return [:]
            }
        }
    }
}
