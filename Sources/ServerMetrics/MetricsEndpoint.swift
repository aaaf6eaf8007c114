import CoreMetrics
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `GET /metrics` in Prometheus's text format, on an address of its own: never on the port
/// Twilio or partners reach. The process's metrics go to it from the start, so a process serves
/// at most one (`MetricsSystem` is bootstrapped once).
///
/// ```swift
/// let metrics = MetricsEndpoint.start(host: "127.0.0.1", port: 9090, logger: logger)
/// try await ServiceGroup(services: [server, metrics], logger: logger).run()
/// ```
public enum MetricsEndpoint {
    public static func start(host: String, port: Int, logger: Logger) -> some Service {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
    }
}
