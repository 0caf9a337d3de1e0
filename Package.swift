// swift-tools-version:6.0
import PackageDescription

/// Hot numeric code is optimized even in debug builds, so that `swift test` trains real models
/// in seconds. `-ffp-contract=off` keeps every int8 backend bit-identical to the reference.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-ffp-contract=off"])]
let optimizedSwift: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "starling",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "starling", targets: ["starling"]),
        .executable(name: "starling-agent", targets: ["starling-agent"]),
        .executable(name: "starling-hub", targets: ["starling-hub"]),
        .library(name: "Core", targets: ["Core"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // MARK: - C and system libraries
        .target(name: "CKernels", cSettings: kernelFlags),
        .systemLibrary(name: "CXNNPACK"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd"),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto"),

        // MARK: - Libraries
        .target(
            name: "Core",
            dependencies: ["CKernels", "CXNNPACK", "CZstd", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimizedSwift
        ),
        .target(name: "TransportMQTT", dependencies: ["Core", "CMosquitto"]),
        .target(
            name: "ONNXImport",
            dependencies: ["Core", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/onnx.proto"]
        ),
        .target(
            name: "Agent",
            dependencies: [
                "Core", "TransportMQTT",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "Hub",
            dependencies: [
                "Core", "ONNXImport", "TransportMQTT",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // MARK: - Executables
        .executableTarget(
            name: "starling",
            dependencies: [
                "Core", "ONNXImport", "TransportMQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "starling-agent",
            dependencies: ["Agent", "TransportMQTT", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "starling-hub",
            dependencies: ["Hub", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "starling-bench",
            dependencies: ["Core", "ONNXImport"],
            path: "Benchmarks/starling-bench",
            swiftSettings: optimizedSwift
        ),
        .executableTarget(
            name: "starling-transport-bench",
            dependencies: ["Core", "TransportMQTT"],
            path: "Benchmarks/transport",
            exclude: ["README.md", "paho_pub.py"],
            swiftSettings: optimizedSwift
        ),
        .executableTarget(
            name: "starling-hub-ingest-bench",
            dependencies: ["Core", "Hub", "TransportMQTT"],
            path: "Benchmarks/hub-ingest",
            exclude: ["README.md"],
            swiftSettings: optimizedSwift
        ),
        .executableTarget(
            name: "starling-store-bench",
            dependencies: ["Agent"],
            path: "Benchmarks/agent-store",
            swiftSettings: optimizedSwift
        ),

        // MARK: - Tests
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels"]),
        .testTarget(name: "CoreTests", dependencies: ["Core"], exclude: ["Fixtures"]),
        .testTarget(name: "ONNXImportTests", dependencies: ["ONNXImport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["Core"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent"], exclude: ["Python"]),
        .testTarget(
            name: "HubTests",
            dependencies: ["Hub", .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "IntegrationTests", dependencies: ["Core", "TransportMQTT", "Agent", "Hub"], exclude: ["Python"]),
    ]
)
