import GRPCCore
import GRPCProtobuf
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// Driven by the generated policy table: every method refuses every role its policy does not
/// list, and every caller without a token, before any handler runs.
@Suite("Policy enforcement")
struct PolicyEnforcementTests {
    static let roles: [Role: Servicepro_Options_V1_Role] = [
        .platformOwner: .platformOwner, .platformStaff: .platformStaff, .telephonyBridge: .telephonyBridge,
        .tenantAdmin: .tenantAdmin, .tenantMember: .tenantMember, .partner: .partner,
    ]

    @Test("every method denies the roles its policy does not allow")
    func rolesOutsideThePolicyAreDenied() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme", tier: .pro)  // partner keys need the partner API
            var tokens: [Role: String] = [.platformOwner: platform.ownerToken, .telephonyBridge: platform.bridgeToken]
            tokens[.platformStaff] = try await platform.token(role: .platformStaff, tenant: "root")
            for role in [Role.tenantAdmin, .tenantMember, .partner] {
                tokens[role] = try await platform.token(role: Self.roles[role]!, tenant: "acme")
            }

            var checked = 0
            for service in platform.server.services {
                for method in service.methods {
                    let policy = try #require(method.policy as MethodPolicy?, "\(method.descriptor) has no policy")
                    guard !policy.unauthenticated else { continue }
                    for (role, token) in tokens where !policy.roles.contains(role) {
                        let failure = await failure { try await Self.call(method.descriptor, on: platform, token: token) }
                        #expect(failure?.code == .permissionDenied, "\(method.descriptor.fullyQualifiedMethod) as \(role): \(String(describing: failure))")
                        #expect(failure?.reason == "role_not_allowed")
                        checked += 1
                    }
                }
            }
            #expect(checked > 100)
        }
    }

    @Test("every method needs a bearer token, unless it carries its own credential")
    func missingTokenIsUnauthenticated() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            for service in platform.server.services {
                for method in service.methods where method.policy?.unauthenticated == false {
                    let missing = await failure { try await Self.call(method.descriptor, on: platform, token: nil) }
                    #expect(missing?.code == .unauthenticated, "\(method.descriptor.fullyQualifiedMethod)")
                    #expect(missing?.reason == "missing_credentials")
                    let bogus = await failure { try await Self.call(method.descriptor, on: platform, token: "sp_nosuchkey_secret") }
                    #expect(bogus?.code == .unauthenticated)
                    #expect(bogus?.reason == "invalid_token")
                }
            }
        }
    }

    /// Calls any method with an empty request: the interceptors decide before it is decoded.
    static func call(_ method: MethodDescriptor, on platform: TestPlatform, token: String?) async throws {
        let request = ClientRequest(message: Google_Protobuf_Empty(), metadata: token.map(ClientConnection.bearer) ?? [:])
        let serializer = ProtobufSerializer<Google_Protobuf_Empty>()
        let deserializer = ProtobufDeserializer<Google_Protobuf_Empty>()
        // Unary framing works for streaming methods too: they fail before sending anything.
        _ = try await platform.client.unary(request: request, descriptor: method, serializer: serializer, deserializer: deserializer, options: .defaults) { try $0.message }
    }
}
