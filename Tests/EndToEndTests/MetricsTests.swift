import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PlatformTestSupport
import Testing

/// `--metrics-listen`: what Prometheus scrapes from platform-server, on a port of its own.
@Suite("Metrics")
struct MetricsTests {
    @Test("each RPC is counted by method and code with its latency, and the bridge's requests by route, at GET /metrics", .timeLimit(.minutes(1)))
    func rpcMetrics() async throws {
        let (metricsPort, bridgePort) = (TestPorts.unused(), TestPorts.unused())
        let exit = try await PlatformProcess.run(
            "metrics", arguments: ["--metrics-listen", "127.0.0.1:\(metricsPort)", "--twilio-listen", "127.0.0.1:\(bridgePort)"]) { server in
            let listed = try await server.spctlOnceUp(["tenants", "list"])
            #expect(listed.status == 0, "spctl: \(listed.output)\nserver: \(server.log)")
            let refused = try await server.spctl(["tenants", "get", "--name", "tenants/ACME"])
            #expect(refused.status != 0)
            let (_, health) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(bridgePort)/healthz")!)
            #expect((health as? HTTPURLResponse)?.statusCode == 200)

            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            /// The value of the one sample of `name` whose labels include every one of `labels`.
            func sample(_ name: String, _ labels: [String]) -> Double? {
                let matching = lines.filter { $0.hasPrefix(name + "{") && labels.allSatisfy($0.contains) }
                guard matching.count == 1, let value = matching[0].split(separator: " ").last else { return nil }
                return Double(value)
            }
            let listMethod = #"method="servicepro.tenancy.v1.TenantService/ListTenants""#
            #expect(sample("servicepro_rpc_calls_total", [listMethod, #"code="ok""#]) == 1, "\(lines.filter { $0.contains("servicepro_rpc") })")
            let getMethod = #"method="servicepro.tenancy.v1.TenantService/GetTenant""#
            #expect(sample("servicepro_rpc_calls_total", [getMethod, #"code="invalidArgument""#]) == 1)
            #expect(sample("servicepro_rpc_duration_seconds_count", [listMethod, #"code="ok""#]) == 1)
            #expect(lines.contains { $0.hasPrefix("# TYPE servicepro_rpc_duration_seconds histogram") })
            // The bridge in the same process: its requests by route and status.
            #expect(sample("hb_requests", [#"http_route="/healthz""#, #"http_response_status_code="200""#]) == 1)
        }
        #expect(exit == 0, "a clean shutdown on SIGTERM")
    }

    @Test("the metrics port is a port of its own", .timeLimit(.minutes(1)))
    func portOfItsOwn() async throws {
        let port = TestPorts.unused()
        let clash = try await ProcessRunner.run(
            RepositoryPaths.executable("platform-server").path,
            ["--home", FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)").path,
             "--listen", "127.0.0.1:\(port)", "--metrics-listen", "0.0.0.0:\(port)"],
            environment: [:])
        #expect(clash.status != 0)
        #expect(clash.output.contains("--metrics-listen needs a port of its own"), "\(clash.output)")
        let bridgeClash = try await ProcessRunner.run(
            RepositoryPaths.executable("twilio-bridge").path, ["--listen", "127.0.0.1:\(port)", "--metrics-listen", "127.0.0.1:\(port)"],
            environment: [:])
        #expect(bridgeClash.status != 0)
        #expect(bridgeClash.output.contains("--metrics-listen needs a port of its own"), "\(bridgeClash.output)")
    }
}
