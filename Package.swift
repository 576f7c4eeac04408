// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "agentcore",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "agentcore", targets: ["agentcore"]),
        .library(name: "AgentCoreModel", targets: ["AgentCoreModel"]),
        .library(name: "AgentCoreStore", targets: ["AgentCoreStore"]),
        .library(name: "AgentCoreKafka", targets: ["AgentCoreKafka"]),
        .library(name: "AgentCoreWorker", targets: ["AgentCoreWorker"]),
        .library(name: "AgentCoreClient", targets: ["AgentCoreClient"]),
        .library(name: "AgentCoreHTTP", targets: ["AgentCoreHTTP"]),
        .library(name: "AgentCoreAgents", targets: ["AgentCoreAgents"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CAgentCoreShims"),
        .target(name: "AgentCoreModel", swiftSettings: strict),
        .target(
            name: "AgentCoreStore",
            dependencies: ["AgentCoreModel", "CSQLite", "CLZ4"],
            swiftSettings: strict
        ),
        .target(
            name: "AgentCoreKafka",
            dependencies: [
                "CRdKafka", "CAgentCoreShims",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgentCoreWorker",
            dependencies: [
                "AgentCoreModel", "AgentCoreStore", "AgentCoreKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgentCoreHTTP",
            dependencies: [
                "AgentCoreModel", "AgentCoreStore", "AgentCoreKafka", "AgentCoreWorker", "AgentCoreClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [
                .embedInCode("Console/index.html"), .embedInCode("Console/app.js"), .embedInCode("Console/style.css"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AgentCoreClient",
            dependencies: [
                "AgentCoreModel", "AgentCoreKafka",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Agent authors' API and the agent host: built on the client only (never the store
        // or the worker), as a host talks to the cluster through the contract alone.
        .target(
            name: "AgentCoreAgents",
            dependencies: [
                "AgentCoreModel", "AgentCoreKafka", "AgentCoreClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "agentcore",
            dependencies: [
                "AgentCoreModel", "AgentCoreStore", "AgentCoreKafka", "AgentCoreWorker",
                "AgentCoreClient", "AgentCoreHTTP", "AgentCoreAgents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "AgentCoreModelTests", dependencies: ["AgentCoreModel"], swiftSettings: strict),
        .testTarget(
            name: "AgentCoreStoreTests",
            dependencies: ["AgentCoreModel", "AgentCoreStore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AgentCoreKafkaTests",
            dependencies: ["AgentCoreKafka"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AgentCoreWorkerTests",
            dependencies: [
                "AgentCoreModel", "AgentCoreStore", "AgentCoreKafka", "AgentCoreWorker", "AgentCoreClient", "AgentCoreHTTP",
                "AgentCoreAgents",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
