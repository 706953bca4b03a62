import SystemPackage
import NetnsKit
import Synchronization

/// The real kernel with one operation made to fail: for the few fault tests that must see a
/// rollback remove real namespaces, pins and links (the rest use ``FakeKernel``).
///
/// Operations are numbered from 0 in the order they come: namespace creations, pins, each
/// rtnetlink request, each sysctl written after creation, tun/tap devices and processes (not
/// dumps, nor namespace removals). The failing operation is not forwarded; it fails with
/// `errno` as the real one would (`NetlinkError`, `SystemCallError` or `SysctlWriteError`),
/// and the requests around it in its batch still go to the kernel.
///
/// ```swift
/// let t = FaultInjectingTransport(wrapping: NamespaceTransport(), failing: 12, errno: .fileExists)
/// #expect(throws: BuildError.self) { try Lab.build(topology, on: t) }
/// ```
public final class FaultInjectingTransport: KernelTransport {
    private let inner: any KernelTransport
    private let failing: Int?
    private let errno: Errno
    private let counter = Mutex(0)

    /// `inner`, with operation `failing` (nil: none) failing with `errno`.
    public init(wrapping inner: any KernelTransport, failing: Int?, errno: Errno) {
        self.inner = inner; self.failing = failing; self.errno = errno
    }

    /// How many operations have been counted so far (run a clean build to learn a build's total).
    public var operationCount: Int { counter.withLock { $0 } }

    /// Counts `n` operations; returns the offset among them of the one that must fail.
    private func next(_ n: Int = 1) -> Int? {
        counter.withLock { c in
            defer { c += n }
            guard let f = failing, f >= c, f < c + n else { return nil }
            return f - c
        }
    }

    public var namespaceCreationLanes: Int { inner.namespaceCreationLanes }
    public func pinnedNamespaceExists(_ name: String) -> Bool { inner.pinnedNamespaceExists(name) }
    public func prepare(linkKinds: [String]) { inner.prepare(linkKinds: linkKinds) }
    public func namespace(_ node: String) -> NetworkNamespace? { inner.namespace(node) }

    public func createNamespace(_ node: String, sysctls: [SysctlWrite], lane: Int) throws -> NamespaceRef {
        if next() != nil { throw SystemCallError("unshare(CLONE_NEWNET) for \(node) (injected)", errno: errno) }
        return try inner.createNamespace(node, sysctls: sysctls, lane: lane)
    }

    public func pin(_ node: String, as name: String) throws {
        if next() != nil { throw SystemCallError("bind-mounting namespace at /run/netns/\(name) (injected)", errno: errno) }
        try inner.pin(node, as: name)
    }

    public func send(_ requests: [NetlinkRequest], in node: String) throws -> [NetlinkError?] {
        guard let k = next(requests.count) else { return try inner.send(requests, in: node) }
        var others = requests
        others.remove(at: k)
        var results = others.isEmpty ? [] : try inner.send(others, in: node)
        results.insert(NetlinkError(errno: errno, kernelMessage: nil, attribute: nil, request: RTM.name(requests[k].type),
                                    what: requests[k].what), at: k)
        return results
    }

    public func writeSysctls(_ writes: [SysctlWrite], in node: String) throws {
        guard let k = next(writes.count) else { return try inner.writeSysctls(writes, in: node) }
        if k > 0 { try inner.writeSysctls(Array(writes[..<k]), in: node) }
        throw SysctlWriteError(key: writes[k].key, value: writes[k].value, index: k,
                               underlying: SystemCallError("write \(writes[k].key) (injected)", errno: errno))
    }

    public func addTunTap(name: String, mode: NetworkNamespace.TunTapMode, index: Int32, in node: String) throws {
        if next() != nil { throw SystemCallError("open /dev/net/tun (injected)", errno: errno) }
        try inner.addTunTap(name: name, mode: mode, index: index, in: node)
    }

    public func run(_ argv: [String], stdin: [UInt8], in node: String, timeout: Double) throws -> ProcessResult {
        if next() != nil { throw SystemCallError("posix_spawn \(argv.first ?? "") (injected)", errno: errno) }
        return try inner.run(argv, stdin: stdin, in: node, timeout: timeout)
    }

    public func links(in node: String) throws -> [LinkInfo] { try inner.links(in: node) }
    public func addresses(in node: String) throws -> [AddressInfo] { try inner.addresses(in: node) }
    public func qdiscs(in node: String) throws -> [QdiscInfo] { try inner.qdiscs(in: node) }
    public func destroyNamespace(_ node: String) -> [String] { inner.destroyNamespace(node) }
    public func missingCapabilities() -> [Capabilities.Capability] { inner.missingCapabilities() }
}
