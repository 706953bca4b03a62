import Foundation
import Testing

/// Every system call goes through the kernel edge: only its targets (and the C shim) may
/// import Glibc or CNetlink. Package.swift gives the other targets no CNetlink, but Swift
/// finds a C module of a dependency's dependency anyway, and Glibc needs no dependency at
/// all, so this test reads the sources.
@Suite struct KernelEdgeTests {
    /// The targets that may make system calls.
    static let edge: Set<String> = ["Namespaces", "Probes"]
    /// Files still outside the edge, each with the reason it may be; none may be added.
    static let pending: [String: String] = [
        // A node's event-loop threads enter and leave the node's namespace themselves.
        "NetnsNIO/NodeEventLoopGroup.swift": "NIO event-loop threads set their own namespace",
    ]

    static var sources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
    }

    /// The files under `Sources` (relative paths) that import Glibc or CNetlink.
    static func importers(under root: URL) throws -> [String] {
        let paths = try #require(FileManager.default.subpathsOfDirectory(atPath: root.path) as [String]?)
        return try paths.filter { $0.hasSuffix(".swift") }.sorted().filter { path in
            let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            return text.split(separator: "\n").contains { line in
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count else { return false }
                return words[..<i].allSatisfy { $0.hasPrefix("@") } && ["Glibc", "CNetlink"].contains(words[i + 1])
            }
        }
    }

    @Test func onlyTheKernelEdgeImportsGlibcOrCNetlink() throws {
        let found = try Self.importers(under: Self.sources)
        #expect(found.contains { $0.hasPrefix("Namespaces/") }, "the scan found no kernel edge: \(Self.sources.path)")
        let outside = found.filter { !Self.edge.contains(String($0.prefix { $0 != "/" })) && Self.pending[$0] == nil }
        #expect(outside.isEmpty, "system calls outside the kernel edge (Namespaces, Probes): \(outside)")
    }

    /// The scan itself: a file outside the edge that imports Glibc is found.
    @Test func theScanFindsAnImportOutsideTheEdge() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("edge-scan-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("NetnsKit"), withIntermediateDirectories: true)
        try "import Foundation\n@preconcurrency import Glibc\n".write(to: root.appendingPathComponent("NetnsKit/A.swift"), atomically: true, encoding: .utf8)
        try "import Netlink\n// import Glibc is not an import\n".write(to: root.appendingPathComponent("NetnsKit/B.swift"), atomically: true, encoding: .utf8)
        #expect(try Self.importers(under: root) == ["NetnsKit/A.swift"])
    }
}
