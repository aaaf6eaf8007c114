import Foundation
import PlatformTestSupport
import Testing

/// A partner integration in another language: Python grpcio with stubs generated from proto/.
@Suite("Partner interop (Python grpcio)", .enabled(if: PythonOracle.python != nil, "needs SERVICEPRO_TEST_PYTHON (scripts/test.sh sets it)"))
struct PartnerInteropTests {
    @Test("a Python client lists its tenant, is refused another's, and sees health and reflection", arguments: TestBackend.available)
    func pythonPartner(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Lawn Care", tier: .pro)
            try await platform.createTenant("bravo", displayName: "Bravo Cleaners")
            let partner = try await platform.token(role: .partner, tenant: "acme")
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("interop-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }

            let result = try await PythonOracle.run(
                script: "partner_interop.py",
                arguments: [platform.address, RepositoryPaths.proto.path, work.path],
                environment: ["PARTNER_TOKEN": partner])
            #expect(result.status == 0, "python said:\n\(result.output)")
            #expect(result.output.contains("ok: reflection v1 lists the services"))
        }
    }
}
