import Glibc
import Netlink
import Synchronization
import SystemPackage

/// A namespace as a ``KernelTransport`` hands it to the builder.
public struct NamespaceRef: Sendable, Hashable {
    /// The descriptor that names the namespace in requests (`IFLA_NET_NS_FD` of a veth peer).
    /// A fake kernel hands out numbers of its own; only the transport that made it reads it.
    public var fd: Int32

    /// A reference whose requests name it by `fd`.
    public init(fd: Int32) { self.fd = fd }
}

/// A transport that broke its contract (answered a batch with the wrong number of results).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Everything a lab build asks of the kernel, in one place.
///
/// The builder (`NetnsKit`) talks to the kernel only through this protocol: it creates and pins
/// namespaces, sends pipelined rtnetlink requests and collects their acks, writes sysctls,
/// creates tun/tap devices, runs `nft`, dumps links, addresses and qdiscs while it waits for
/// links to be ready, and removes namespaces when it rolls back. ``NamespaceTransport`` is the
/// real kernel; `NetnsTesting`'s `FakeKernel` is a scripted one that needs no privileges.
///
/// Every operation names the node whose namespace it runs in. Namespaces may be created from
/// ``namespaceCreationLanes`` threads at once, so an implementation must be thread-safe.
public protocol KernelTransport: AnyObject, Sendable {
    /// How many namespaces may be created at the same time (each creation names its lane, `0..<lanes`).
    var namespaceCreationLanes: Int { get }
    /// True when a namespace is already pinned under this name (`/run/netns/NAME`).
    func pinnedNamespaceExists(_ name: String) -> Bool
    /// Readies the kernel for links of these kinds before any namespace exists (the real kernel
    /// loads their modules, which add fallback devices to every new namespace).
    func prepare(linkKinds: [String])
    /// Creates `node`'s namespace with its loopback up, writes `sysctls` in it and opens its
    /// rtnetlink socket. Throws `SysctlWriteError` when a write fails (nothing is left then).
    /// - Parameter lane: which of the ``namespaceCreationLanes`` is calling.
    func createNamespace(_ node: String, sysctls: [SysctlWrite], lane: Int) throws -> NamespaceRef
    /// The real namespace handle of `node`, when this transport has one (a fake has none).
    func namespace(_ node: String) -> NetworkNamespace?
    /// Pins `node`'s namespace as `/run/netns/NAME`.
    func pin(_ node: String, as name: String) throws
    /// Sends `requests` in `node`'s namespace, pipelined, and returns one entry per request:
    /// nil for an ack, or the kernel's error. Throws when the transport itself fails.
    func send(_ requests: [NetlinkRequest], in node: String) throws -> [NetlinkError?]
    /// Writes sysctls in `node`'s namespace, in order; throws `SysctlWriteError` at the first failure.
    func writeSysctls(_ writes: [SysctlWrite], in node: String) throws
    /// Creates a persistent tun or tap device with this index in `node`'s namespace.
    func addTunTap(name: String, mode: NetworkNamespace.TunTapMode, index: Int32, in node: String) throws
    /// Runs a program in `node`'s namespace and waits for it (`nft -f -`).
    func run(_ argv: [String], stdin: [UInt8], in node: String, timeout: Double) throws -> ProcessResult
    /// The links of `node`'s namespace (`ip link show`).
    func links(in node: String) throws -> [LinkInfo]
    /// The addresses of `node`'s namespace (`ip addr show`).
    func addresses(in node: String) throws -> [AddressInfo]
    /// The qdiscs of `node`'s namespace (`tc qdisc show`).
    func qdiscs(in node: String) throws -> [QdiscInfo]
    /// Removes `node`'s namespace (unpins it, releases it): best effort, idempotent.
    /// - Returns: what could not be removed.
    func destroyNamespace(_ node: String) -> [String]
    /// The capabilities a build needs that this process lacks (asked when the kernel says EPERM).
    func missingCapabilities() -> [Capabilities.Capability]
}

/// The real kernel: namespaces made on the namespace workers, requests on their rtnetlink sockets.
public final class NamespaceTransport: KernelTransport {
    private let made = Mutex<[String: NetworkNamespace]>([:])
    private let workers: [NamespaceWorker]
    private let prepareKinds: @Sendable ([String]) -> Void

    /// A transport that creates namespaces on the two namespace workers.
    /// - Parameter prepareLinkKinds: called by ``prepare(linkKinds:)`` (NetnsKit probes each kind
    ///   once, which loads its module).
    public init(prepareLinkKinds: @escaping @Sendable ([String]) -> Void = { _ in }) {
        workers = [.shared, .second]
        prepareKinds = prepareLinkKinds
    }

    /// The namespaces created and not destroyed, by node.
    public var namespaces: [String: NetworkNamespace] { made.withLock { $0 } }

    public var namespaceCreationLanes: Int { workers.count }

    public func pinnedNamespaceExists(_ name: String) -> Bool {
        access("\(NetworkNamespace.runDirectory)/\(name)", F_OK) == 0
    }

    public func prepare(linkKinds: [String]) { prepareKinds(linkKinds) }

    public func createNamespace(_ node: String, sysctls: [SysctlWrite], lane: Int) throws -> NamespaceRef {
        let ns = try NetworkNamespace.create(label: node, sysctls: sysctls, worker: workers[lane % workers.count])
        made.withLock { $0[node] = ns }
        return NamespaceRef(fd: ns.fd)
    }

    public func namespace(_ node: String) -> NetworkNamespace? { made.withLock { $0[node] } }

    private func ns(_ node: String) throws -> NetworkNamespace {
        guard let ns = namespace(node) else {
            throw SystemCallError("no namespace for node \(node)", .noSuchFileOrDirectory)
        }
        return ns
    }

    public func pin(_ node: String, as name: String) throws { try ns(node).pin(name: name) }

    public func send(_ requests: [NetlinkRequest], in node: String) throws -> [NetlinkError?] {
        try ns(node).socket.executeCollecting(requests)
    }

    public func writeSysctls(_ writes: [SysctlWrite], in node: String) throws { try ns(node).writeSysctls(writes) }

    public func addTunTap(name: String, mode: NetworkNamespace.TunTapMode, index: Int32, in node: String) throws {
        try ns(node).addTunTap(name: name, mode: mode, index: index)
    }

    public func run(_ argv: [String], stdin: [UInt8], in node: String, timeout: Double) throws -> ProcessResult {
        try Spawner.runBlocking(argv, in: try ns(node), stdin: stdin, timeout: timeout)
    }

    public func links(in node: String) throws -> [LinkInfo] { try ns(node).socket.links() }
    public func addresses(in node: String) throws -> [AddressInfo] { try ns(node).socket.addresses() }
    public func qdiscs(in node: String) throws -> [QdiscInfo] { try ns(node).socket.qdiscs() }

    public func destroyNamespace(_ node: String) -> [String] {
        guard let ns = made.withLock({ $0.removeValue(forKey: node) }) else { return [] }
        var problems: [String] = []
        if let p = ns.pinnedPath, !NetworkNamespace.unpin(path: p) { problems.append("could not remove \(p)") }
        ns.close()
        return problems
    }

    public func missingCapabilities() -> [Capabilities.Capability] { Capabilities.missing() }
}
