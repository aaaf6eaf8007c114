// swift-tools-version:6.1
import PackageDescription

// The bundled generator: a protoc plugin that turns proto/ into everything service-shaped
// (handler protocols, registration, clients, policy, validators, the spctl command tree).
// It is its own package so the product build never compiles it; codegen/generate.sh runs it.
let package = Package(
    name: "ServiceProCodegen",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "protoc-gen-servicepro", targets: ["protoc-gen-servicepro"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "ServiceProCodegen",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "protoc-gen-servicepro",
            dependencies: [
                "ServiceProCodegen",
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "ServiceProCodegenTests",
            dependencies: [
                "ServiceProCodegen",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
            ],
            exclude: ["update-golden.sh"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
