import Glibc
import CNetlink
import Logging
import Dispatch
import Synchronization

let builderLogger = Logger(label: "netnskit.builder")
import Namespaces
import Netlink
import NetnsModel

/// How a lab's namespaces live.
public enum LabMode: Sendable, Hashable {
    /// Anonymous namespaces held by file descriptors: nothing outlives the process, even on a crash.
    case fixture
    /// Namespaces bind-mounted as `/run/netns/<prefix>-<node>`, visible to `ip netns`, kept until torn down.
    case pinned(prefix: String)
}

/// Options for building a lab.
public struct LabOptions: Sendable {
    public var mode: LabMode
    /// Called as the build advances (phase name, steps done, steps total).
    public var progress: (@Sendable (String, Int, Int) -> Void)?
    /// Wait, before returning, until the kernel has given every link it brought up its real
    /// qdisc (on by default; see `Builder.waitUntilLinksAreReady`).
    public var waitForLinks = true
    /// Testing hook: called before each kernel operation of the build (namespace creations and
    /// netlink requests, numbered from 0) with a description; an error returned fails that operation.
    public var _faultInjection: (@Sendable (Int, String) -> (any Error)?)?
    /// Called with each namespace right after it is created, before it is pinned (so a caller can
    /// record its identity before anything can outlive the process). Calls come one at a time,
    /// but not always from the same thread.
    public var onNamespaceCreated: (@Sendable (String, NetworkNamespace) -> Void)?
    /// Asked before each namespace creation and each batch of requests; when it returns true the
    /// build stops, rolls back, and throws a ``BuildError`` whose underlying error is
    /// `CancellationError` (for instance when a signal arrived).
    public var shouldCancel: (@Sendable () -> Bool)?

    public init(mode: LabMode = .fixture, progress: (@Sendable (String, Int, Int) -> Void)? = nil) {
        self.mode = mode; self.progress = progress
    }
}

/// Executes a plan against the kernel: pipelined rtnetlink, one batch per namespace and phase.
///
/// Namespaces first (two at a time, each with its sysctls, socket, loopback and pin), then
/// four phases: links; stacked links; everything else inside each namespace (masters, ups,
/// addresses, neighbours, routes, rules, qdiscs); veth peers joining their bridges.
/// Interface indexes are chosen up front (each namespace is fresh: `lo` is 1, plus whatever
/// devices the kernel adds to every new namespace by itself, learnt from the first one; ours
/// are numbered above those, across the whole lab) and given to the kernel at creation, so no
/// step ever looks an index up. Veths are created with both ends in place, final names, MTUs, one queue
/// per end and the main end's master and state in one `RTM_NEWLINK`. Any failure rolls
/// everything back.
struct Builder {
    let topology: Topology
    let plan: Plan
    let options: LabOptions

    private var namespaces: [String: NetworkNamespace] = [:]
    private var order: [String] = []
    private var indexes: [String: [String: Int32]] = [:]
    /// The next ifindex to hand out. Indexes are unique across the whole lab, not just per
    /// namespace: when both ends of a veth have the same index, the kernel's linkwatch treats
    /// their carrier change as non-urgent and attaches the real qdisc up to a second later,
    /// dropping the first packets (`ifindex == iflink`).
    private var nextIndex: Int32 = 2
    /// Devices the kernel put into every new namespace by itself (fallback tunnel devices).
    private(set) var kernelDevices: Set<String> = []
    /// Interfaces brought up at creation, whose later `link up` step is folded away.
    private var upAtCreation: Set<String> = []
    /// Veth peers that need a master once the pair exists (the kernel ignores IFLA_MASTER inside VETH_INFO_PEER).
    private var pendingMaster: [String: (index: Int32, name: String, step: Int)] = [:]
    /// Aliases to set once links exist (the kernel ignores IFLA_IFALIAS in a creating RTM_NEWLINK).
    private var pendingAlias: [String: (alias: String, step: Int)] = [:]
    private var batches: [String: [(step: Int, request: NetlinkRequest)]] = [:]
    /// Declared sysctls per node (plan step, key, value).
    private var sysctlSteps: [String: [(step: Int, key: String, value: String)]] = [:]
    private var stepsDone = 0
    private var operationNumber = 0
    private var traceStart = 0.0
    private let traceEnabled = getenv("NETNSKIT_TRACE") != nil

    init(topology: Topology, plan: Plan, options: LabOptions) {
        self.topology = topology; self.plan = plan; self.options = options
    }

    /// Builds everything; on failure rolls back and throws ``BuildError``.
    mutating func build() throws -> [String: NetworkNamespace] {
        do {
            try run()
            return namespaces
        } catch var e as BuildError {
            e.rollbackProblems = rollback()
            throw e
        } catch {
            let problems = rollback()
            var e = BuildError(declaration: "topology \(topology.name)", command: "", underlying: error)
            e.rollbackProblems = problems
            throw e
        }
    }

    private mutating func run() throws {
        traceStart = monotonicNow()
        let steps = plan.steps
        let linkUps = Set(steps.compactMap { s -> String? in
            if case .linkUp(let n) = s.operation, n != "lo" { return key(s.node, n) }
            return nil
        })

        // Namespaces: each one's sysctls are written and its rtnetlink socket opened inside it
        // in the same trip to the worker, and its loopback brought up right after.
        let nodeSteps = steps.enumerated().filter { if case .createNamespace = $0.element.operation { return true } else { return false } }
        if case .pinned(let prefix) = options.mode {
            for (_, s) in nodeSteps {
                let path = "\(NetworkNamespace.runDirectory)/\(prefix)-\(s.node)"
                if access(path, F_OK) == 0 {
                    throw BuildError(declaration: "lab \(prefix)", command: "ip netns add \(prefix)-\(s.node)",
                                     underlying: LabError.nameTaken(prefix, reason: "\(path) already exists"))
                }
            }
        }
        for (i, s) in steps.enumerated() {
            if case .setSysctl(let k, let v) = s.operation { sysctlSteps[s.node, default: []].append((i, k, v)) }
        }
        loadModulesThatAddDevices(steps)
        if options._faultInjection == nil && nodeSteps.count >= 8 {
            try createNamespacesInParallel(nodeSteps)
        } else {
            for (i, s) in nodeSteps {
                if options.shouldCancel?() == true { throw fail(i, CancellationError()) }
                do {
                    if let e = injectedFault("create namespace \(s.node)") { throw e }
                    adopt(s.node, try NetworkNamespace.create(label: s.node, sysctls: sysctlWrites(s.node)))
                    if case .pinned(let prefix) = options.mode { try namespaces[s.node]!.pin(name: "\(prefix)-\(s.node)") }
                } catch {
                    throw fail(creationStep(i, s.node, error), error)
                }
                progress("namespaces", 1 + (sysctlSteps[s.node]?.count ?? 0))
            }
        }

        trace("namespaces created", monotonicNow() - traceStart)
        try learnKernelDevices()
        // Netlink phases.
        var phase = 0
        for (i, s) in steps.enumerated() {
            let p = Self.phase(s.operation)
            if p == 0 { continue }
            if p != phase { try flush(Self.phaseNames[phase]); phase = p }
            try enqueue(i, s, linkUps: linkUps)
        }
        try flush(Self.phaseNames[phase])
        try flushPendingMasters()

        if options.shouldCancel?() == true { throw fail(steps.count - 1, CancellationError()) }
        if options.waitForLinks {
            let t = monotonicNow()
            try waitUntilLinksAreReady()
            trace("links ready", monotonicNow() - t)
        }

        // Firewalls last, through nft inside the node.
        for (i, s) in steps.enumerated() {
            guard case .loadFirewall(let ruleset) = s.operation else { continue }
            if options.shouldCancel?() == true { throw fail(i, CancellationError()) }
            if let e = injectedFault("nft -f - in \(s.node)") { throw fail(i, e) }
            let r: ProcessResult
            do {
                r = try Spawner.runBlocking(["nft", "-f", "-"], in: namespaces[s.node]!, stdin: Array(ruleset.utf8), timeout: 30)
            } catch let e as SystemCallError where e.errno == .noSuchFileOrDirectory {
                throw fail(i, UnsupportedError(feature: "nftables", detail: "the nft command is not installed (apt-get install nftables)"))
            } catch {
                throw fail(i, error)
            }
            if !r.succeeded {
                throw fail(i, FirewallError(output: (r.errorOutput + r.output).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
            progress("firewalls", 1)
        }
        // Requests and steps do not match one to one (some steps fold into others): end at the total.
        options.progress?("done", plan.steps.count, plan.steps.count)
    }

    /// The sysctls written into a node's namespace at creation.
    ///
    /// Deterministic defaults first: no DAD anywhere (link-local addresses included), so
    /// nothing is ever tentative; they are skipped where the kernel has no IPv6. Declared
    /// sysctls come after and win.
    private func sysctlWrites(_ node: String) -> [SysctlWrite] {
        let list = sysctlSteps[node] ?? []
        let declared = Set(list.map(\.key))
        return Self.baseSysctls.filter { !declared.contains($0.key) } + list.map { SysctlWrite($0.key, $0.value) }
    }

    private static let baseSysctls = [SysctlWrite("net.ipv6.conf.all.accept_dad", "0", optional: true),
                                      SysctlWrite("net.ipv6.conf.default.accept_dad", "0", optional: true)]

    /// The step to blame for a failed namespace creation: the declared sysctl that failed, if one did.
    private func creationStep(_ createStep: Int, _ node: String, _ error: any Error) -> Int {
        guard let e = error as? SysctlWriteError else { return createStep }
        return sysctlSteps[node]?.first { $0.key == e.key && $0.value == e.value }?.step ?? createStep
    }

    private mutating func adopt(_ node: String, _ ns: NetworkNamespace, announce: Bool = true) {
        if announce { options.onNamespaceCreated?(node, ns) }
        namespaces[node] = ns
        order.append(node)
        indexes[node] = ["lo": 1]
    }

    /// Loads, before any namespace exists, the modules this build's IP tunnels would otherwise
    /// load in the middle of it. The module of every IP tunnel kind (GRE, GRE-TAP, IPIP, SIT,
    /// ip6tnl, ip6gre), once loaded, puts fallback devices (`gre0`, `gretap0`, `erspan0`,
    /// `tunl0`, `sit0`, `ip6tnl0`, `ip6gre0`) into every network namespace, existing and new,
    /// unless the host sets `net.core.fb_tunnels_only_for_init_net` (we never change it); one
    /// loaded mid-build would add them to our
    /// namespaces at indexes the builder has already handed out. Creating one such link in a
    /// scratch namespace (the kernel-feature probe, cached per process) loads the module.
    private func loadModulesThatAddDevices(_ steps: [PlanStep]) {
        var kinds = Set<String>()
        for s in steps {
            if case .addTunnel(let t) = s.operation { kinds.insert(t.kind.rawValue) }
        }
        for k in kinds.sorted() { _ = KernelFeatures.shared.link(k) }
    }

    /// Learns what the kernel put into the new namespaces by itself, and hands out our
    /// indexes above it.
    ///
    /// A fresh namespace holds `lo` (index 1) and, on a kernel with the GRE, IPIP, SIT or
    /// IPv6-tunnel modules loaded, their fallback devices at 2, 3, … — the same set at the same
    /// indexes in every namespace created after the modules. One link dump of the first
    /// namespace (and of the last, to catch a module loaded during namespace creation; if they
    /// differ, of all) is enough.
    private mutating func learnKernelDevices() throws {
        guard let first = order.first else { return }
        func extra(_ node: String) throws -> [LinkInfo] {
            try namespaces[node]!.socket.links().filter { $0.index != 1 }
        }
        var found = try extra(first)
        if let last = order.last, last != first {
            let other = try extra(last)
            if Set(other.map(\.name)) != Set(found.map(\.name)) || Set(other.map(\.index)) != Set(found.map(\.index)) {
                found = try order.flatMap(extra)
            }
        }
        kernelDevices = Set(found.map(\.name))
        if let top = found.map(\.index).max() { nextIndex = max(nextIndex, top + 1) }
        if !found.isEmpty {
            trace("kernel devices in new namespaces: \(kernelDevices.sorted().joined(separator: ", "))", 0)
        }
    }

    /// Creates the namespaces two at a time, on the two namespace workers: the kernel sets
    /// namespaces up concurrently. Each is announced (`onNamespaceCreated`) and, in pinned
    /// mode, pinned by the thread that created it.
    private mutating func createNamespacesInParallel(_ nodeSteps: [(offset: Int, element: PlanStep)]) throws {
        typealias Outcome = (namespace: NetworkNamespace?, error: (any Error)?)
        let results = UnsafeMutableBufferPointer<Outcome>.allocate(capacity: nodeSteps.count)
        results.initialize(repeating: (nil, nil))
        defer { results.deallocate() }
        let workers = [NamespaceWorker.shared, NamespaceWorker.second]
        let steps = nodeSteps.map(\.element.node)
        let writes = steps.map(sysctlWrites)
        let pinPrefix: String? = if case .pinned(let p) = options.mode { p } else { nil }
        let created = options.onNamespaceCreated
        let cancel = options.shouldCancel
        let oneAtATime = Mutex(())
        nonisolated(unsafe) let out = results
        DispatchQueue.concurrentPerform(iterations: workers.count) { w in
            for k in stride(from: w, to: steps.count, by: workers.count) {
                if cancel?() == true { out[k].error = CancellationError(); continue }
                do {
                    let ns = try NetworkNamespace.create(label: steps[k], sysctls: writes[k], worker: workers[w])
                    out[k] = (ns, nil)
                    // Pinned as soon as created (the identity recorded first), so the two
                    // threads' mounts overlap the other's namespace creation.
                    oneAtATime.withLock { _ in created?(steps[k], ns) }
                    if let p = pinPrefix { try ns.pin(name: "\(p)-\(steps[k])") }
                } catch {
                    out[k].error = error
                }
            }
        }
        // Adopt every namespace that was created (so a failure rolls all of them back), then report.
        var firstFailure: (Int, any Error)?
        for (k, (i, s)) in nodeSteps.enumerated() {
            if let ns = results[k].namespace { adopt(s.node, ns, announce: false) }
            if let e = results[k].error, firstFailure == nil { firstFailure = (creationStep(i, s.node, e), e) }
        }
        if let (i, e) = firstFailure { throw fail(i, e) }
        progress("namespaces", nodeSteps.reduce(0) { $0 + 1 + (sysctlSteps[$1.element.node]?.count ?? 0) })
    }

    /// Waits until every link the build brought up has its real qdisc.
    ///
    /// The kernel attaches a link's qdisc (`dev_activate`) from its linkwatch work, after the
    /// request that brought the link up has returned; until then the link has the `noop`
    /// qdisc and drops every packet, so a probe right after the build could lose its first
    /// ARP request. One qdisc dump per namespace; in practice the first pass finds all ready.
    private func waitUntilLinksAreReady(timeout: Double = 3) throws {
        let deadline = monotonicNow() + timeout
        var pending = order
        while !pending.isEmpty {
            pending = try pending.filter { node in
                let ours = Set(indexes[node]!.filter { $0.key != "lo" }.values)
                return try namespaces[node]!.socket.qdiscs().contains { $0.kind == "noop" && ours.contains($0.index) }
            }
            if pending.isEmpty { break }
            if monotonicNow() > deadline {
                builderLogger.warning("links still without a qdisc after \(timeout) s", metadata: ["nodes": "\(pending)"])
                break
            }
            usleep(1000)
        }
    }

    // MARK: Steps to requests

    private static let phaseNames = ["", "links", "stacked links", "masters, ups, addresses, routes"]

    private static func phase(_ op: PlanOperation) -> Int {
        switch op {
        case .createNamespace, .setSysctl, .loadFirewall: return 0
        case .addBridge, .addDummy, .addVeth: return 1
        case .addVLAN, .addMacvlan, .addVXLAN, .addTunnel, .addWireGuard: return 2
        // Everything after link creation happens inside one namespace, in plan order, so it
        // goes out as one batch per namespace.
        case .setMaster, .setBridgeVLAN, .linkUp, .addAddress, .addNeighbor, .addRoute, .addRule, .addQdisc: return 3
        }
    }

    private func key(_ node: String, _ ifname: String) -> String { node + "\u{0}" + ifname }

    private mutating func allocate(_ node: String, _ ifname: String) -> Int32 {
        let i = nextIndex
        nextIndex = i + 1
        indexes[node]![ifname] = i
        return i
    }

    private func index(_ node: String, _ ifname: String, step: Int) throws -> Int32 {
        if let i = indexes[node]?[ifname] { return i }
        throw fail(step, LabError.unknownInterface(ifname, node: node, known: Array(indexes[node]?.keys ?? [:].keys).sorted()))
    }

    private mutating func enqueue(_ i: Int, _ s: PlanStep, linkUps: Set<String>) throws {
        let node = s.node
        let what = s.description
        func mtu(_ m: Int?) -> UInt32? { m.map { UInt32(clamping: $0) } }
        func parentIsUp(_ parent: String) -> Bool { upAtCreation.contains(key(node, parent)) }
        func upNow(_ name: String) -> Bool {
            if linkUps.contains(key(node, name)) { upAtCreation.insert(key(node, name)); return true }
            return false
        }
        var request: NetlinkRequest
        switch s.operation {
        case .createNamespace, .setSysctl, .loadFirewall:
            return
        case .addBridge(let b):
            let idx = allocate(node, b.name)
            request = .newLink(LinkSpec(name: b.name, index: idx, kind: .bridge(stp: b.stp, vlanFiltering: b.vlanFiltering),
                                        mtu: mtu(b.mtu), mac: b.mac, up: upNow(b.name)), what: what)
        case .addDummy(let name, let m):
            let idx = allocate(node, name)
            request = .newLink(LinkSpec(name: name, index: idx, kind: .dummy, mtu: mtu(m), up: upNow(name)), what: what)
        case .addVeth(let v):
            guard let peerNS = namespaces[v.peerNode] else { throw fail(i, LabError.unknownNode(v.peerNode, known: order)) }
            let master = try v.master.map { try index(node, $0, step: i) }
            let idx = allocate(node, v.name)
            let peerIdx = allocate(v.peerNode, v.peerName)
            if let pm = v.peerMaster { pendingMaster[key(v.peerNode, v.peerName)] = (try index(v.peerNode, pm, step: i), pm, i) }
            if let a = v.alias { pendingAlias[key(node, v.name)] = (a, i) }
            if let a = v.peerAlias { pendingAlias[key(v.peerNode, v.peerName)] = (a, i) }
            // One queue per end: see LinkSpec.queues.
            let peer = VethPeer(name: v.peerName, index: peerIdx, namespaceFD: peerNS.fd, mtu: mtu(v.peerMTU ?? v.mtu),
                                mac: v.peerMAC, queues: 1)
            request = .newLink(LinkSpec(name: v.name, index: idx, kind: .veth(peer: peer), mtu: mtu(v.mtu ?? v.peerMTU),
                                        mac: v.mac, up: upNow(v.name), master: master, queues: 1), what: what)
        case .addVLAN(let name, let parent, let id):
            let p = try index(node, parent, step: i)
            let idx = allocate(node, name)
            // A VLAN device cannot be opened while its parent is down (ENETDOWN): fold its
            // `link up` into creation only when the parent came up at creation too (a veth
            // peer, for one, comes up later, in plan order).
            request = .newLink(LinkSpec(name: name, index: idx, kind: .vlan(id: UInt16(clamping: id)),
                                        up: parentIsUp(parent) && upNow(name), parent: p), what: what)
        case .addMacvlan(let name, let parent, let mode, let mac):
            let p = try index(node, parent, step: i)
            let idx = allocate(node, name)
            let m: MacvlanMode = MacvlanMode.allCases.first { $0.name == mode.rawValue } ?? .bridge
            request = .newLink(LinkSpec(name: name, index: idx, kind: .macvlan(mode: m), mac: mac,
                                        up: parentIsUp(parent) && upNow(name), parent: p), what: what)
        case .addVXLAN(let x):
            let under = try x.underlayDevice.map { try index(node, $0, step: i) }
            let master = try x.master.map { try index(node, $0, step: i) }
            let idx = allocate(node, x.name)
            request = .newLink(LinkSpec(name: x.name, index: idx,
                                        kind: .vxlan(VXLANOptions(vni: x.vni, remote: x.remote, local: x.local, port: x.port,
                                                                  underlayIndex: under)),
                                        mtu: mtu(x.mtu), up: upNow(x.name), master: master), what: what)
        case .addTunnel(let t):
            let master = try t.master.map { try index(node, $0, step: i) }
            let idx = allocate(node, t.name)
            let o = TunnelOptions(local: t.local, remote: t.remote, ttl: t.ttl)
            let kind: LinkKind
            switch t.kind {
            case .gre, .ip6gre: kind = .gre(o)
            case .gretap, .ip6gretap: kind = .gretap(o)
            case .ipip: kind = .ipip(o)
            case .sit: kind = .sit(o)
            case .ip6tnl: kind = .ip6tnl(o)
            }
            request = .newLink(LinkSpec(name: t.name, index: idx, kind: kind, mtu: mtu(t.mtu), up: upNow(t.name), master: master), what: what)
        case .addWireGuard(let w):
            let idx = allocate(node, w.name)
            request = .newLink(LinkSpec(name: w.name, index: idx, kind: .wireguard, mtu: mtu(w.mtu)), what: what)
        case .setMaster(let ifname, let master):
            let idx = try index(node, ifname, step: i)
            pendingMaster[key(node, ifname)] = nil
            request = .setLink(index: idx, LinkChange(master: try index(node, master, step: i)), what: what)
        case .setBridgeVLAN(let port, let pvid, let vlans):
            let idx = try index(node, port, step: i)
            // Port VLANs need the port in its bridge: a veth peer's deferred master goes first.
            if let m = pendingMaster.removeValue(forKey: key(node, port)) {
                append(node, i, .setLink(index: idx, LinkChange(master: m.index), what: what))
            }
            if let p = pvid { append(node, i, .bridgeVLAN(portIndex: idx, vid: p, pvid: true, what: what)) }
            for v in vlans { append(node, i, .bridgeVLAN(portIndex: idx, vid: v, pvid: false, what: what)) }
            return
        case .linkUp(let ifname):
            if ifname == "lo" { return }
            let idx = try index(node, ifname, step: i)
            let up: Bool? = upAtCreation.contains(key(node, ifname)) ? nil : true
            // A veth peer that is brought up here joins its bridge at the very end of the build
            // (flushPendingMasters): until then it receives its peer's first IPv6 autoconf
            // packets (router solicitation, MLD reports) alone, instead of the bridge flooding
            // them into every other port while the build still runs. Same end state; for a
            // 200-port star this phase went from 60–130 ms to 45–65 ms.
            let master = up == true ? nil : pendingMaster.removeValue(forKey: key(node, ifname))?.index
            let alias = pendingAlias.removeValue(forKey: key(node, ifname))?.alias
            if up == nil && master == nil && alias == nil { return }
            request = .setLink(index: idx, LinkChange(up: up, master: master, alias: alias), what: what)
        case .addAddress(let ifname, let prefix, let nodad):
            request = .newAddress(index: try index(node, ifname, step: i), prefix, noDAD: nodad, what: what)
        case .addNeighbor(let ifname, let ip, let mac):
            request = .newNeighbor(NeighborInfo(family: ip.family, index: try index(node, ifname, step: i), address: ip, mac: mac),
                                   what: what)
        case .addRoute(let r):
            var info = RouteInfo(family: r.family == .ipv4 ? AF.inet : AF.inet6,
                                 destination: r.destination.length == 0 ? nil : r.destination,
                                 gateway: r.gateway, outputIndex: try r.device.map { try index(node, $0, step: i) })
            info.table = r.table
            info.metric = r.metric
            info.scope = r.scope
            info.proto = r.proto
            info.type = r.type
            info.preferredSource = r.source
            info.onlink = r.onlink
            info.nexthops = try r.nexthops.map { h in
                RouteNexthop(gateway: h.gateway, index: try h.device.map { try index(node, $0, step: i) } ?? 0, weight: h.weight)
            }
            request = .newRoute(info, what: what)
        case .addRule(let r):
            var info = RuleInfo(family: r.family == .ipv4 ? AF.inet : AF.inet6, priority: r.priority, source: r.from, destination: r.to)
            info.inputInterface = r.iif
            info.outputInterface = r.oif
            info.fwmark = r.fwmark
            info.fwmask = r.fwmask
            switch r.action {
            case .lookup(let t): info.table = t; info.action = FRA.actToTbl
            case .blackhole: info.action = FRA.actBlackhole
            case .unreachable: info.action = FRA.actUnreachable
            case .prohibit: info.action = FRA.actProhibit
            }
            request = .newRule(info, what: what)
        case .addQdisc(let ifname, let kind):
            let idx = try index(node, ifname, step: i)
            switch kind {
            case let .tbf(rate, burst, limit):
                let bytes: Int
                switch limit {
                case .bytes(let b): bytes = b
                case .latency(let d):
                    let secs = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
                    bytes = Int(Double(rate.bitsPerSecond) / 8 * secs) + burst
                }
                request = .newQdisc(index: idx, .tbf(rateBitsPerSecond: rate.bitsPerSecond, burstBytes: UInt32(clamping: burst),
                                                      limitBytes: UInt32(clamping: bytes)), what: what)
            case let .htb(defaultClass, classes):
                append(node, i, .newQdisc(index: idx, .htb(defaultClass: defaultClass, classes: []), what: what))
                for c in classes {
                    append(node, i, .newHTBClass(index: idx, HTBClass(id: c.id, rateBitsPerSecond: c.rate.bitsPerSecond,
                                                                       ceilBitsPerSecond: c.ceil?.bitsPerSecond), what: what))
                }
                return
            case let .netem(delay, jitter, loss):
                func us(_ d: Duration) -> UInt32 {
                    UInt32(clamping: d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000)
                }
                request = .newQdisc(index: idx, .netem(delayMicroseconds: us(delay), jitterMicroseconds: us(jitter),
                                                        lossPercent: loss, limitPackets: 1000), what: what)
            }
        }
        append(node, i, request)
    }

    private mutating func append(_ node: String, _ step: Int, _ r: NetlinkRequest) {
        batches[node, default: []].append((step, r))
    }

    /// Sends every pending batch (one pipelined write per namespace) and checks every ack.
    private mutating func flush(_ phaseName: String) throws {
        let t0 = monotonicNow()
        let requests = batches.values.reduce(0) { $0 + $1.count }
        defer { if requests > 0 { trace("\(phaseName) (\(requests) requests)", monotonicNow() - t0) } }
        for node in order {
            guard let batch = batches.removeValue(forKey: node), !batch.isEmpty else { continue }
            if options.shouldCancel?() == true { throw fail(batch[0].step, CancellationError()) }
            var injected: (at: Int, error: any Error)?
            if options._faultInjection != nil {
                for (k, item) in batch.enumerated() {
                    if let e = injectedFault(item.request.what) { injected = (k, e); break }
                }
            }
            let toSend = injected.map { Array(batch[..<$0.at]) } ?? batch
            let results: [NetlinkError?]
            do {
                results = toSend.isEmpty ? [] : try namespaces[node]!.socket.executeCollecting(toSend.map(\.request))
            } catch {
                throw fail(batch[0].step, error)
            }
            if let (k, e) = injected, !results.contains(where: { $0 != nil }) { throw fail(batch[k].step, e) }
            if let k = results.firstIndex(where: { $0 != nil }) {
                throw fail(batch[k].step, results[k]!)
            }
            if let wg = batch.first(where: { if case .addWireGuard = plan.steps[$0.step].operation { return true }; return false }) {
                throw fail(wg.step, UnsupportedError(feature: "WireGuard key configuration (generic netlink)",
                                                     detail: "the wireguard link was created, but NetnsKit cannot configure keys and peers yet"))
            }
            progress(phaseName, batch.count)
        }
    }

    private mutating func injectedFault(_ what: String) -> (any Error)? {
        guard let hook = options._faultInjection else { return nil }
        defer { operationNumber += 1 }
        return hook(operationNumber, what)
    }

    /// Aliases that had no `link up` step to ride on, then the masters of veth peers (last:
    /// see the `.linkUp` case of `enqueue`).
    private mutating func flushPendingMasters() throws {
        for (k, a) in pendingAlias.sorted(by: { $0.key < $1.key }) {
            let parts = k.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            let idx = indexes[parts[0]]![parts[1]]!
            append(parts[0], a.step,
                   .setLink(index: idx, LinkChange(alias: a.alias), what: "ip -n \(parts[0]) link set \(parts[1]) alias \"\(a.alias)\""))
        }
        pendingAlias = [:]
        guard !pendingMaster.isEmpty else { try flush("aliases"); return }
        for (k, m) in pendingMaster.sorted(by: { $0.key < $1.key }) {
            let parts = k.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            let idx = indexes[parts[0]]![parts[1]]!
            append(parts[0], m.step,
                   .setLink(index: idx, LinkChange(master: m.index), what: "ip -n \(parts[0]) link set \(parts[1]) master \(m.name)"))
        }
        pendingMaster = [:]
        try flush("bridge ports")
    }

    /// Logs phase timings at debug level (swift-log, label `netnskit.builder`); with
    /// `NETNSKIT_TRACE` set they also go to stderr, whatever the logging backend.
    private func trace(_ what: String, _ seconds: Double) {
        let ms = (seconds * 1e5).rounded() / 100
        builderLogger.debug("\(what)", metadata: ["ms": "\(ms)", "topology": "\(topology.name)"])
        guard traceEnabled else { return }
        let line = Array("netnskit: \(what): \(ms) ms\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    private mutating func progress(_ phase: String, _ n: Int) {
        stepsDone += n
        options.progress?(phase, min(stepsDone, max(0, plan.steps.count - 1)), plan.steps.count)
    }

    // MARK: Failure and rollback

    private func fail(_ step: Int, _ error: any Error) -> BuildError {
        let s = plan.steps[step]
        // A bare EPERM means missing privileges: name the capability and how to get it.
        var eperm = false
        if let e = error as? SystemCallError { eperm = e.errno == .notPermitted || e.errno == .permissionDenied }
        if let e = error as? SysctlWriteError { eperm = e.errno == .notPermitted || e.errno == .permissionDenied }
        if let e = error as? NetlinkError { eperm = e.errno == 1 }
        if eperm {
            let missing = Capabilities.missing()
            if !missing.isEmpty {
                return BuildError(declaration: s.origin, command: s.description,
                                  underlying: MissingCapabilitiesError(missing: missing))
            }
        }
        var feature: String?
        if let ne = error as? NetlinkError {
            if ne.isUnknownLinkKind, let k = Self.linkKind(s.operation) { feature = k }
            if ne.isUnknownQdiscKind, case .addQdisc(_, let q) = s.operation { feature = "\(q.name) qdisc" }
            if case .addBridge(let b) = s.operation, b.vlanFiltering, ne.errno == 95 { feature = "bridge VLAN filtering" }
            if case .setBridgeVLAN = s.operation, ne.errno == 95 { feature = "bridge VLAN filtering" }
        }
        if let u = error as? UnsupportedError { feature = u.feature }
        return BuildError(declaration: s.origin, command: s.description, underlying: error, unsupportedFeature: feature)
    }

    private static func linkKind(_ op: PlanOperation) -> String? {
        switch op {
        case .addDummy: return "dummy"
        case .addVLAN: return "vlan (802.1Q)"
        case .addMacvlan: return "macvlan"
        case .addVXLAN: return "vxlan"
        case .addTunnel(let t): return t.kind.rawValue
        case .addWireGuard: return "wireguard"
        case .addBridge: return "bridge"
        case .addVeth: return "veth"
        default: return nil
        }
    }

    /// Removes everything built so far. Returns what could not be removed.
    private mutating func rollback() -> [String] {
        var problems: [String] = []
        for node in order.reversed() {
            guard let ns = namespaces[node] else { continue }
            if let p = ns.pinnedPath, !NetworkNamespace.unpin(path: p) {
                problems.append("could not remove \(p)")
            }
            ns.close()
        }
        namespaces = [:]
        order = []
        return problems
    }
}

/// nft refused a ruleset.
public struct FirewallError: Error, Sendable, CustomStringConvertible {
    public var output: String
    public var description: String { "nft rejected the ruleset: \(output)" }
}

/// A feature the kernel (or NetnsKit) does not have.
public struct UnsupportedError: Error, Sendable, CustomStringConvertible {
    public var feature: String
    public var detail: String
    public var description: String { "\(feature) is not supported: \(detail)" }
}
