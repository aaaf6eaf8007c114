// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "ServicePro",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "platform-server", targets: ["platform-server"]),
        .executable(name: "twilio-bridge", targets: ["twilio-bridge"]),
        .executable(name: "spctl", targets: ["spctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Already in the graph through hummingbird; named for the benchmark's HTTP/1.1 client.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Already in the graph through grpc's transport; named to check TLS files before serving.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Tests start the executables and Python oracles as child processes (see ProcessRunner).
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        // Its FilePath and FileDescriptor, which swift-subprocess takes.
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // The request pipeline every service runs through: auth, policy, validation, errors, logs.
        .target(
            name: "RPCRuntime",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The timer behind `CallDeadline`.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // Each call's count and latency (`CallMetrics`), for whatever backend the process runs.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // `--metrics-listen`: the process's metrics for Prometheus to scrape.
        .target(
            name: "ServerMetrics",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Generated from proto/ by codegen/generate.sh: messages, handler protocols, clients, policy.
        .target(
            name: "ServiceProAPI",
            dependencies: [
                "RPCRuntime",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The services of each area and the store they share.
        .target(
            name: "PlatformServer",
            dependencies: [
                "RPCRuntime",
                "ServiceProAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // A PostgreSQL server tried once at start, and TLS files checked before serving.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // Stripe, Twilio REST and SendGrid clients.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // Export archives.
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            // The industry packs, read and checked at start.
            resources: [.copy("Concierge/PackData")]
        ),
        // Twilio webhooks in, one RPC each, TwiML out.
        .target(
            name: "TwilioBridge",
            dependencies: [
                "RPCRuntime",
                "ServiceProAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The operators' CLI: the generated command tree plus config, login and wizards.
        .target(
            name: "SpctlCommands",
            dependencies: [
                "RPCRuntime",
                "ServiceProAPI",
                // For `spctl twilio simulate`, which signs webhooks exactly as the bridge checks them.
                "TwilioBridge",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                // Checks downloaded export archives.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/spctl"
        ),
        .executableTarget(
            name: "platform-server",
            dependencies: [
                "PlatformServer",
                "RPCRuntime",
                "ServiceProAPI",
                // --twilio-listen: the bridge in this process.
                "TwilioBridge",
                "ServerMetrics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Executables/platform-server"
        ),
        .executableTarget(
            name: "twilio-bridge",
            dependencies: [
                "TwilioBridge",
                "ServerMetrics",
                "RPCRuntime",
                "ServiceProAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Executables/twilio-bridge"
        ),
        .executableTarget(
            name: "spctl",
            dependencies: ["SpctlCommands"],
            path: "Sources/Executables/spctl"
        ),
        // Not a test: inbound SMS end to end vs the bridge's static baseline; see docs/benchmarks.md.
        .executableTarget(
            name: "webhook-bench",
            dependencies: [
                "PlatformServer",
                "TwilioBridge",
                "RPCRuntime",
                "ServiceProAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "bench/WebhookBench"
        ),
        // Not a test: the floor under the webhook bench, one unary gRPC call with nothing behind it.
        .executableTarget(
            name: "rpc-floor",
            dependencies: [
                "RPCRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/RPCFloor"
        ),
        // Not a test: export of a tenant with a million messages, time and peak RSS; see docs/benchmarks.md.
        .executableTarget(
            name: "export-bench",
            dependencies: [
                "PlatformServer",
                "RPCRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/ExportBench"
        ),
        // Starts real platforms (SQLite, or PostgreSQL when SERVICEPRO_TEST_DATABASE_URL is set) for tests.
        .target(
            name: "PlatformTestSupport",
            dependencies: [
                "PlatformServer",
                "RPCRuntime",
                "ServiceProAPI",
                "TwilioBridge",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                // The local fake of Stripe's API, and Stripe's webhook signatures.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                // A platform that accepts connections and never answers.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "RPCRuntimeTests",
            dependencies: [
                "RPCRuntime", "ServiceProAPI", "PlatformTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "PlatformServerTests", dependencies: ["PlatformServer", "PlatformTestSupport"]),
        .testTarget(
            name: "TwilioBridgeTests",
            dependencies: [
                "TwilioBridge", "PlatformTestSupport",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                // The fake platforms the spool's tests stand up in the test process.
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]),
        .testTarget(name: "SpctlTests", dependencies: ["SpctlCommands", "PlatformTestSupport"]),
        // The Python oracles run from the source tree, not as bundled resources.
        .testTarget(name: "EndToEndTests", dependencies: ["PlatformServer", "PlatformTestSupport"], exclude: ["Python"]),
    ]
)
