import CoreMetrics
import GRPCCore

/// What each call adds to the process's metrics beside its log line: a count by method and
/// outcome, and its latency, labelled as the log line is (`code` is "ok" or the error's code).
/// They go nowhere until the process bootstraps a metrics backend, as `--metrics-listen` does.
enum CallMetrics {
    static func record(method: MethodDescriptor, code: RPCError.Code?, latency: Duration) {
        let dimensions = [("method", method.fullyQualifiedMethod), ("code", code.map { "\($0)" } ?? "ok")]
        Counter(label: "servicepro_rpc_calls_total", dimensions: dimensions).increment()
        let (seconds, attoseconds) = latency.components
        Timer(label: "servicepro_rpc_duration_seconds", dimensions: dimensions)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
