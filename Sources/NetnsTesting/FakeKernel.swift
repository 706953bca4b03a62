import SystemPackage
import NetnsKit
import Synchronization
import Testing

/// A scripted kernel for builds that need no privileges: a `KernelTransport` that records
/// every operation a build asks for, fails the ones a test scripts, and keeps its own view of
/// the namespaces and links that exist.
///
/// ```swift
/// let kernel = FakeKernel()
/// kernel.fail(.request(RTM.newAddr), nth: 2, errno: .fileExists, extack: "ipv4: Address already assigned")
/// #expect(throws: BuildError.self) { try Lab.build(topology, on: kernel) }
/// #expect(kernel.namespaces.isEmpty)   // the rollback removed everything
/// try kernel.finish()                   // every scripted fault was used
/// ```
///
/// Like a real kernel, it refuses a link name or ifindex already taken in a namespace
/// (`EEXIST`, `EBUSY`), a request for an ifindex that does not exist (`ENODEV`) and an
/// address added twice (`EEXIST`); a veth's two ends live in their two namespaces, and both
/// go when either namespace does. Other requests (routes, rules, neighbours, qdiscs, FDB
/// entries) are recorded and acknowledged. A link that is up has carrier at once, a port of
/// a bridge forwards at once, and there are no qdisc, so a build never waits for readiness.
///
/// Thread-safe: a build creates namespaces from two threads at once (``namespaceCreationLanes``).
public final class FakeKernel: KernelTransport {
    /// What an operation was.
    public enum Kind: Hashable, Sendable, CustomStringConvertible {
        /// A namespace created (with its loopback up and its socket open).
        case createNamespace
        /// A sysctl written: at namespace creation or later, one operation per key.
        case sysctl
        /// A namespace pinned under `/run/netns`.
        case pin
        /// One rtnetlink request, by message type (`RTM.newLink`, `RTM.newAddr`, …).
        case request(UInt16)
        /// A tun or tap device created through `/dev/net/tun`.
        case tunTap
        /// A program run inside a namespace (`nft -f -`).
        case process
        /// A dump of links, addresses or qdiscs.
        case dump
        /// A namespace removed (rollback or teardown).
        case destroyNamespace

        /// `RTM_NEWLINK`, `create namespace`, `sysctl`, …
        public var description: String {
            switch self {
            case .createNamespace: return "create namespace"
            case .sysctl: return "sysctl"
            case .pin: return "pin"
            case .request(let t): return RTM.name(t)
            case .tunTap: return "tun/tap"
            case .process: return "process"
            case .dump: return "dump"
            case .destroyNamespace: return "destroy namespace"
            }
        }
    }

    /// One operation the fake was asked to do, in the order asked.
    public struct Operation: Sendable, CustomStringConvertible {
        /// Its number, from 0, in the order the operations came (across threads).
        public var number: Int
        /// What it was.
        public var kind: Kind
        /// The node whose namespace it ran in.
        public var node: String
        /// What it did, in words (a request's `what`, `sysctl -w KEY=VALUE`, `nft -f -`, …).
        public var what: String
        /// The request, for a ``Kind/request(_:)`` operation.
        public var request: NetlinkRequest?
        /// The error it failed with (scripted, or the fake's own `EEXIST`/`ENODEV`…), if it failed.
        public var error: String?
        /// For a namespace creation, the lane (thread) the builder created it from.
        public var lane: Int?

        /// `#3 RTM_NEWLINK in h1: ip -n h1 link add …`, and the error when it failed.
        public var description: String {
            "#\(number) \(kind) in \(node): \(what)" + (error.map { " -> \($0)" } ?? "")
        }
    }

    /// A scripted failure not used yet, as ``finish()`` reports it.
    public struct Script: Sendable, CustomStringConvertible {
        /// Which operation it fails (`operation 7`, `2nd RTM_NEWADDR`, …).
        public var match: String
        /// The errno it fails with.
        public var errno: Errno
        /// The extended-ack text it carries, if any.
        public var extack: String?
        /// Where the test scripted it.
        public var sourceLocation: SourceLocation

        /// The match, the errno by name, the extack and the place it was scripted.
        public var description: String {
            "\(match) -> \(ErrnoNames.name(errno))" + (extack.map { " \"\($0)\"" } ?? "") + " (scripted at \(sourceLocation))"
        }
    }

    /// Scripts that ``finish()`` found unused.
    public struct UnusedScriptsError: Error, Sendable, CustomStringConvertible {
        /// The scripts no operation matched.
        public var scripts: [Script]
        /// One line per unused script.
        public var description: String {
            "\(scripts.count) scripted fault(s) never fired:\n" + scripts.map { "  \($0)" }.joined(separator: "\n")
        }
    }

    private struct Pending: Sendable {
        var script: Script
        var number: Int?
        var kind: Kind?
        var nth: Int
        var whatContains: String?
        var node: String?
        var seen = 0
    }

    private struct FakeLink: Sendable {
        var info: LinkInfo
        /// The other end of a veth: node and index.
        var peer: (node: String, index: Int32)?
    }

    private struct Namespace: Sendable {
        var fd: Int32
        var pinnedAs: String?
        var links: [Int32: FakeLink] = [:]
        var addresses: [AddressInfo] = []
        var sysctls: [String: String] = [:]
    }

    private struct State: Sendable {
        var namespaces: [String: Namespace] = [:]
        var operations: [Operation] = []
        var scripts: [Pending] = []
        var nextFD: Int32 = 1000
        var pins: Set<String> = []
    }

    private let state = Mutex(State())
    private let kernelDevices: [String]
    private let lanes: Int
    private let missing: [Capabilities.Capability]

    /// A fake kernel with no namespaces.
    /// - Parameters:
    ///   - lanes: how many namespaces a build may create at once (2, as the real kernel's two
    ///     namespace workers; 1 makes every build take the one-at-a-time path).
    ///   - devicesInNewNamespaces: devices every new namespace is born with after `lo`, at
    ///     indexes 2, 3, … (as a kernel with the GRE or IPIP modules loaded adds `gre0`, `tunl0`…).
    ///   - pinned: names already pinned under `/run/netns` by someone else.
    ///   - missingCapabilities: what the build is told it lacks when an operation fails with EPERM.
    public init(lanes: Int = 2, devicesInNewNamespaces: [String] = [], pinned: Set<String> = [],
                missingCapabilities: [Capabilities.Capability] = []) {
        self.lanes = max(1, lanes)
        kernelDevices = devicesInNewNamespaces
        missing = missingCapabilities
        state.withLock { $0.pins = pinned }
    }

    // MARK: Scripting

    /// Fails the `nth` operation (from 1) of `kind` whose description contains `whatContains`
    /// and that runs in `node` (each nil: any), once.
    ///
    /// A request fails with a `NetlinkError` carrying `errno` and `extack`; a namespace
    /// creation, pin, tun/tap or process with a `SystemCallError`; a sysctl with a
    /// `SysctlWriteError`; a dump with a `NetlinkError`; a namespace removal with a problem in
    /// the rollback report (the namespace stays). A process with an `extack` exits 1 instead,
    /// printing it on its standard error.
    public func fail(_ kind: Kind? = nil, nth: Int = 1, whatContains: String? = nil, in node: String? = nil,
                     errno: Errno, extack: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        var match = "\(Self.ordinal(nth)) \(kind.map { "\($0)" } ?? "operation")"
        if let w = whatContains { match += " containing \"\(w)\"" }
        if let n = node { match += " in \(n)" }
        let s = Script(match: match, errno: errno, extack: extack, sourceLocation: sourceLocation)
        state.withLock { $0.scripts.append(Pending(script: s, kind: kind, nth: max(1, nth), whatContains: whatContains, node: node)) }
    }

    /// Fails operation `number` (counted from 0 across the whole run, see ``operations``), once.
    public func fail(operation number: Int, errno: Errno, extack: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let s = Script(match: "operation \(number)", errno: errno, extack: extack, sourceLocation: sourceLocation)
        state.withLock { $0.scripts.append(Pending(script: s, number: number, nth: 1)) }
    }

    /// Throws ``UnusedScriptsError`` when some scripted fault never fired, as swift-nio's
    /// `EmbeddedChannel.finish()` reports what is left over. Call it at the end of a test.
    public func finish() throws {
        let left = state.withLock { $0.scripts.map(\.script) }
        if !left.isEmpty { throw UnusedScriptsError(scripts: left) }
    }

    /// The scripted faults not used yet.
    public var unusedScripts: [Script] { state.withLock { $0.scripts.map(\.script) } }

    private static func ordinal(_ n: Int) -> String {
        let suffix = (11...13).contains(n % 100) ? "th" : [1: "st", 2: "nd", 3: "rd"][n % 10] ?? "th"
        return "\(n)\(suffix)"
    }

    // MARK: What a test reads

    /// Every operation so far, in order.
    public var operations: [Operation] { state.withLock { $0.operations } }
    /// The rtnetlink requests so far, in order (the ``Operation/request`` of each).
    public var requests: [NetlinkRequest] { state.withLock { $0.operations.compactMap(\.request) } }
    /// The nodes whose namespaces exist now, sorted.
    public var namespaces: [String] { state.withLock { $0.namespaces.keys.sorted() } }
    /// The names pinned under `/run/netns` now (the fake's, and those given at init), sorted.
    public var pinnedNames: [String] { state.withLock { $0.pins.sorted() } }
    /// Every link that exists now, but loopback and the devices each namespace is born with, as
    /// `node:ifname`, sorted.
    public var links: [String] {
        state.withLock { s in
            s.namespaces.flatMap { node, ns in ns.links.values.map { "\(node):\($0.info.name)" } }.sorted()
        }
    }
    /// The sysctls written in `node`'s namespace (the last value of each key).
    public func sysctls(in node: String) -> [String: String] { state.withLock { $0.namespaces[node]?.sysctls ?? [:] } }

    // MARK: KernelTransport

    public var namespaceCreationLanes: Int { lanes }

    public func pinnedNamespaceExists(_ name: String) -> Bool { state.withLock { $0.pins.contains(name) } }

    public func prepare(linkKinds: [String]) {}

    public func namespace(_ node: String) -> NetworkNamespace? { nil }

    public func createNamespace(_ node: String, sysctls: [SysctlWrite], lane: Int) throws -> NamespaceRef {
        try state.withLock { s in
            if let f = Self.take(&s, .createNamespace, node, "create namespace \(node)", lane: lane) {
                throw SystemCallError("unshare(CLONE_NEWNET) for \(node)", errno: f.errno)
            }
            guard s.namespaces[node] == nil else {
                Self.markFailed(&s, "EEXIST")
                throw SystemCallError("create namespace \(node): the fake already has one", errno: .fileExists)
            }
            var ns = Namespace(fd: s.nextFD)
            for (k, w) in sysctls.enumerated() {
                if let f = Self.take(&s, .sysctl, node, "sysctl -w \(w.key)=\(w.value)") {
                    // As the real creation: nothing is left of a namespace whose sysctl failed.
                    throw SysctlWriteError(key: w.key, value: w.value, index: k,
                                           underlying: SystemCallError("write \(w.key)", errno: f.errno))
                }
                ns.sysctls[w.key] = w.value
            }
            for (k, d) in kernelDevices.enumerated() {
                var l = LinkInfo(index: Int32(k + 2), name: d)
                l.operState = 2
                ns.links[l.index] = FakeLink(info: l)
            }
            s.nextFD += 1
            s.namespaces[node] = ns
            return NamespaceRef(fd: ns.fd)
        }
    }

    public func pin(_ node: String, as name: String) throws {
        try state.withLock { s in
            if let f = Self.take(&s, .pin, node, "ip netns attach \(name)") {
                throw SystemCallError("bind-mounting namespace at /run/netns/\(name)", errno: f.errno)
            }
            guard s.namespaces[node] != nil else { throw Self.noNamespace(&s, node) }
            guard !s.pins.contains(name) else {
                Self.markFailed(&s, "EEXIST")
                throw SystemCallError("create /run/netns/\(name)", errno: .fileExists)
            }
            s.pins.insert(name)
            s.namespaces[node]!.pinnedAs = name
        }
    }

    public func send(_ requests: [NetlinkRequest], in node: String) throws -> [NetlinkError?] {
        state.withLock { s in requests.map { Self.apply($0, in: node, &s) } }
    }

    public func writeSysctls(_ writes: [SysctlWrite], in node: String) throws {
        try state.withLock { s in
            for (k, w) in writes.enumerated() {
                if let f = Self.take(&s, .sysctl, node, "sysctl -w \(w.key)=\(w.value)") {
                    throw SysctlWriteError(key: w.key, value: w.value, index: k,
                                           underlying: SystemCallError("write \(w.key)", errno: f.errno))
                }
                guard s.namespaces[node] != nil else { throw Self.noNamespace(&s, node) }
                s.namespaces[node]!.sysctls[w.key] = w.value
            }
        }
    }

    public func addTunTap(name: String, mode: NetworkNamespace.TunTapMode, index: Int32, in node: String) throws {
        try state.withLock { s in
            if let f = Self.take(&s, .tunTap, node, "ip -n \(node) tuntap add \(name) mode \(mode == .tun ? "tun" : "tap")") {
                throw SystemCallError("open /dev/net/tun", errno: f.errno)
            }
            guard s.namespaces[node] != nil else { throw Self.noNamespace(&s, node) }
            if let e = Self.addLink(LinkInfo(index: index, name: name), kind: mode == .tun ? "tun" : "tap", in: node, &s) {
                Self.markFailed(&s, ErrnoNames.name(e))
                throw SystemCallError("TUNSETIFF \(name)", errno: e)
            }
        }
    }

    public func run(_ argv: [String], stdin: [UInt8], in node: String, timeout: Double) throws -> ProcessResult {
        try state.withLock { s in
            if let f = Self.take(&s, .process, node, argv.joined(separator: " ")) {
                if let text = f.extack { return ProcessResult(status: 1, stderr: Array(text.utf8)) }
                throw SystemCallError("posix_spawn \(argv.first ?? "")", errno: f.errno)
            }
            guard s.namespaces[node] != nil else { throw Self.noNamespace(&s, node) }
            return ProcessResult(status: 0)
        }
    }

    public func links(in node: String) throws -> [LinkInfo] {
        try dump(node, "ip -n \(node) link show", RTM.getLink) { ns in
            var lo = LinkInfo(index: 1, name: "lo", flags: [.up, .lowerUp])
            lo.operState = 0
            return [lo] + ns.links.values.map(\.info).sorted { $0.index < $1.index }
        }
    }

    public func addresses(in node: String) throws -> [AddressInfo] {
        try dump(node, "ip -n \(node) address show", RTM.getAddr) { $0.addresses }
    }

    public func qdiscs(in node: String) throws -> [QdiscInfo] {
        try dump(node, "tc -n \(node) qdisc show", RTM.getQdisc) { _ in [] }
    }

    public func destroyNamespace(_ node: String) -> [String] {
        state.withLock { s in
            if let f = Self.take(&s, .destroyNamespace, node, "destroy namespace \(node)") {
                return ["could not remove namespace \(node): \(ErrnoNames.name(f.errno))"]
            }
            guard let ns = s.namespaces.removeValue(forKey: node) else { return [] }
            if let p = ns.pinnedAs { s.pins.remove(p) }
            // The other ends of its veths go with it.
            for l in ns.links.values {
                if let p = l.peer, p.node != node { s.namespaces[p.node]?.links[p.index] = nil }
            }
            return []
        }
    }

    public func missingCapabilities() -> [Capabilities.Capability] { missing }

    // MARK: The fake's kernel

    private func dump<T>(_ node: String, _ what: String, _ type: UInt16, _ body: (Namespace) -> [T]) throws -> [T] {
        try state.withLock { s in
            if let f = Self.take(&s, .dump, node, what) {
                throw NetlinkError(errno: f.errno, kernelMessage: f.extack, attribute: nil, request: RTM.name(type), what: what)
            }
            guard let ns = s.namespaces[node] else { throw Self.noNamespace(&s, node) }
            return body(ns)
        }
    }

    private static func noNamespace(_ s: inout State, _ node: String) -> SystemCallError {
        markFailed(&s, "ENOENT")
        return SystemCallError("no namespace for node \(node)", errno: .noSuchFileOrDirectory)
    }

    /// Records an operation and returns the script it fires, if any (removing that script).
    private static func take(_ s: inout State, _ kind: Kind, _ node: String, _ what: String,
                             request: NetlinkRequest? = nil, lane: Int? = nil) -> Script? {
        let number = s.operations.count
        s.operations.append(Operation(number: number, kind: kind, node: node, what: what, request: request, lane: lane))
        var fired: Int?
        for i in s.scripts.indices {
            let p = s.scripts[i]
            if let n = p.number {
                if n == number && fired == nil { fired = i }
                continue
            }
            if let k = p.kind, k != kind { continue }
            if let n = p.node, n != node { continue }
            if let w = p.whatContains, !what.contains(w) { continue }
            s.scripts[i].seen += 1
            if s.scripts[i].seen == p.nth && fired == nil { fired = i }
        }
        guard let i = fired else { return nil }
        let script = s.scripts.remove(at: i).script
        markFailed(&s, ErrnoNames.name(script.errno) + " (scripted)")
        return script
    }

    private static func markFailed(_ s: inout State, _ error: String) {
        if !s.operations.isEmpty { s.operations[s.operations.count - 1].error = error }
    }

    /// One request, as the kernel would answer it.
    private static func apply(_ r: NetlinkRequest, in node: String, _ s: inout State) -> NetlinkError? {
        func error(_ e: Errno, _ text: String? = nil) -> NetlinkError {
            NetlinkError(errno: e, kernelMessage: text, attribute: nil, request: RTM.name(r.type), what: r.what)
        }
        if let f = take(&s, .request(r.type), node, r.what, request: r) {
            return error(f.errno, f.extack)
        }
        guard s.namespaces[node] != nil else { markFailed(&s, "EBADF"); return error(.badFileDescriptor) }
        let e: Errno?
        do {
            guard let m = try NetlinkMessage.parse(r.encoded(sequence: 1)).first else { return error(.invalidArgument) }
            switch r.type {
            case RTM.newLink where r.flags.contains(.create): e = try createLink(m, in: node, &s)
            case RTM.newLink, RTM.setLink: e = try changeLink(m, in: node, &s)
            case RTM.newAddr:
                let a = try AddressInfo(message: m)
                if s.namespaces[node]!.links[Int32(bitPattern: a.index)] == nil { e = .operationNotSupportedByDevice }
                else if s.namespaces[node]!.addresses.contains(where: { $0.index == a.index && $0.prefix == a.prefix }) { e = .fileExists }
                else { s.namespaces[node]!.addresses.append(a); e = nil }
            default: e = nil
            }
        } catch {
            e = .invalidArgument
        }
        guard let e else { return nil }
        markFailed(&s, ErrnoNames.name(e))
        return error(e)
    }

    /// The namespace a descriptor names, or nil.
    private static func node(ofFD fd: Int32, _ s: State) -> String? {
        s.namespaces.first { $0.value.fd == fd }?.key
    }

    private static func createLink(_ m: NetlinkMessage, in node: String, _ s: inout State) throws -> Errno? {
        var info = try LinkInfo(message: m)
        let attrs = try Attribute.parse(m.body.dropFirst(IfInfoMsg.size))
        var target = node
        if let fd = attrs.first(IFLA.netnsFD) {
            guard let n = self.node(ofFD: try fd.int32(), s) else { return .badFileDescriptor }
            target = n
        }
        if info.master != nil && s.namespaces[target]!.links[info.master!] == nil { return .invalidArgument }
        var peer: (name: String, index: Int32, node: String)?
        if info.kind == "veth", let li = attrs.first(IFLA.linkinfo),
           let data = try li.nested().first(IFLA.infoData), let p = try data.nested().first(IFLA.vethInfoPeer) {
            let hdr = try IfInfoMsg(p.payload)
            let pa = try Attribute.parse(p.payload.dropFirst(IfInfoMsg.size))
            var peerNode = target
            if let fd = pa.first(IFLA.netnsFD) {
                guard let n = self.node(ofFD: try fd.int32(), s) else { return .badFileDescriptor }
                peerNode = n
            }
            peer = (pa.first(IFLA.ifname)?.string() ?? "", hdr.index, peerNode)
        }
        if info.flags.contains(.up) { info.flags.insert(.lowerUp); info.operState = 6 } else { info.operState = 2 }
        if info.master != nil { info.bridgePortState = 3 }
        if let e = checkFree(info.name, &info.index, in: target, s) { return e }
        if let p = peer {
            var pi = p.index
            if p.name.isEmpty { return .invalidArgument }
            if p.node == target && p.name == info.name { return .fileExists }
            if let e = checkFree(p.name, &pi, in: p.node, s, alsoTaken: p.node == target ? [info.index] : []) { return e }
            var pl = LinkInfo(index: pi, name: p.name)
            pl.kind = "veth"; pl.operState = 2
            s.namespaces[target]!.links[info.index] = FakeLink(info: info, peer: (p.node, pi))
            s.namespaces[p.node]!.links[pi] = FakeLink(info: pl, peer: (target, info.index))
        } else {
            s.namespaces[target]!.links[info.index] = FakeLink(info: info)
        }
        return nil
    }

    /// EEXIST for a name taken, EBUSY for an index taken; picks an index when `index` is 0.
    private static func checkFree(_ name: String, _ index: inout Int32, in node: String, _ s: State,
                                  alsoTaken: [Int32] = []) -> Errno? {
        let ns = s.namespaces[node]!
        if name.isEmpty || name.utf8.count > 15 { return .invalidArgument }
        if name == "lo" || ns.links.values.contains(where: { $0.info.name == name }) { return .fileExists }
        if index == 0 { index = max(ns.links.keys.max() ?? 1, alsoTaken.max() ?? 1) + 1 }
        if index == 1 || ns.links[index] != nil || alsoTaken.contains(index) { return .resourceBusy }
        return nil
    }

    private static func addLink(_ l: LinkInfo, kind: String, in node: String, _ s: inout State) -> Errno? {
        var l = l
        if let e = checkFree(l.name, &l.index, in: node, s) { return e }
        l.kind = kind; l.operState = 2
        s.namespaces[node]!.links[l.index] = FakeLink(info: l)
        return nil
    }

    private static func changeLink(_ m: NetlinkMessage, in node: String, _ s: inout State) throws -> Errno? {
        let hdr = try IfInfoMsg(m.body)
        let change = try LinkInfo(message: m)
        let ns = s.namespaces[node]!
        let index: Int32? = hdr.index != 0 ? hdr.index : ns.links.values.first { $0.info.name == change.name }?.info.index
        guard let i = index, var l = ns.links[i]?.info else { return .operationNotSupportedByDevice }
        if let master = change.master {
            if master != 0 && ns.links[master] == nil { return .invalidArgument }
            l.master = master == 0 ? nil : master
            l.bridgePortState = master == 0 ? nil : 3
        }
        if hdr.change & InterfaceFlags.up.rawValue != 0 {
            if hdr.flags.contains(.up) { l.flags.formUnion([.up, .lowerUp]); l.operState = 6 }
            else { l.flags.subtract([.up, .lowerUp]); l.operState = 2 }
        }
        if let mtu = change.mtu { l.mtu = mtu }
        if let a = change.alias { l.alias = a }
        if let mac = change.mac { l.mac = mac }
        s.namespaces[node]!.links[i]!.info = l
        return nil
    }
}
