// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "NetnsKit",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "NetnsKit", targets: ["NetnsKit"]),
        .library(name: "NetnsTesting", targets: ["NetnsTesting"]),
        .library(name: "Scenarios", targets: ["Scenarios"]),
        // SwiftNIO inside lab nodes; a separate product, so NetnsKit itself stays free of NIO.
        .library(name: "NetnsNIO", targets: ["NetnsNIO"]),
        .executable(name: "nslab", targets: ["nslab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // `swift package generate-documentation`: the DocC catalogs of the library products.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Percentiles of `nslab bench` (p50/p99/max per cycle).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Kernel headers and out-of-line wrappers for what Swift cannot import.
        .target(name: "CNetlink"),
        // libcap (apt: libcap-dev).
        .systemLibrary(name: "CLibcap", providers: [.apt(["libcap-dev"])]),
        // Pure netlink codec: messages, attributes, rtnetlink bodies, address text. No syscalls
        // (SystemPackage for the `Errno` type only).
        .target(name: "Netlink", dependencies: [.product(name: "SystemPackage", package: "swift-system")]),
        // The kernel edge: syscalls, namespaces, the rtnetlink socket, spawning, capabilities.
        .target(
            name: "Namespaces",
            dependencies: [
                "Netlink", "CNetlink", "CLibcap",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Pure topology model: DSL, validation, YAML/JSON, planner, graph export. No I/O.
        .target(
            name: "NetnsModel",
            dependencies: ["Netlink", .product(name: "Yams", package: "Yams")],
            exclude: ["FileFormat.md"]),
        // The kernel edge's sockets: probes (ICMP, TCP, UDP), the echo server, packet capture,
        // lab nodes' sockets. Its system calls go through Namespaces' `sys`.
        .target(
            name: "Probes",
            dependencies: [
                "Namespaces", "Netlink", "CNetlink",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Builder, running labs, expectations. No system calls: no Glibc, no CNetlink; the
        // kernel is reached through Namespaces and Probes.
        .target(
            name: "NetnsKit",
            dependencies: [
                "NetnsModel", "Namespaces", "Probes", "Netlink",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // The benchmarks of `nslab bench`: workloads, the `ip -batch` comparison, percentiles.
        // Not a product: no library user imports it.
        .target(
            name: "NetnsBench",
            dependencies: [
                "NetnsKit", "NetnsModel", "Namespaces", "Netlink",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),
        // Swift Testing traits and XCTest helpers.
        .target(name: "NetnsTesting", dependencies: ["NetnsKit", "Namespaces", .product(name: "SystemPackage", package: "swift-system")]),
        // SwiftNIO event loops and bootstraps whose sockets live in a lab node.
        .target(
            name: "NetnsNIO",
            dependencies: [
                "NetnsKit", "Namespaces", "CNetlink",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        // The catalogue of ready scenarios: one YAML file each in Scenarios/catalogue, copied as a resource.
        .target(name: "Scenarios", dependencies: ["NetnsKit"], path: "Scenarios", resources: [.copy("catalogue")]),
        .executableTarget(
            name: "nslab",
            dependencies: [
                "NetnsKit", "NetnsBench", "Scenarios",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(
            name: "NamespacesTests",
            dependencies: ["Namespaces", "Netlink", "CNetlink", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "NetnsModelTests", dependencies: ["NetnsModel"]),
        .testTarget(
            name: "NetnsKitTests",
            dependencies: ["NetnsKit", "NetnsTesting", "Scenarios", "NetnsBench", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "NetnsBenchTests", dependencies: ["NetnsBench", "NetnsKit", "NetnsTesting", "Namespaces"]),
        .testTarget(name: "NslabTests", dependencies: ["nslab"]),
        .testTarget(
            name: "NetnsNIOTests",
            dependencies: [
                "NetnsNIO", "NetnsKit", "NetnsTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
