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
    /// Fixture (namespaces gone with the process, the default) or pinned under `/run/netns`.
    public var mode: LabMode
    /// Called as the build advances (phase name, steps done, steps total).
    public var progress: (@Sendable (String, Int, Int) -> Void)?
    /// Wait, before returning, until the kernel has given every link it brought up its real
    /// qdisc (on by default; see `Builder.waitUntilLinksAreReady`).
    public var waitForLinks = true
    /// Called with each namespace right after it is created, before it is pinned (so a caller can
    /// record its identity before anything can outlive the process). Calls come one at a time,
    /// but not always from the same thread. Not called by a transport without real namespaces
    /// (a fake kernel).
    public var onNamespaceCreated: (@Sendable (String, NetworkNamespace) -> Void)?
    /// Asked before each namespace creation and each batch of requests; when it returns true the
    /// build stops, rolls back, and throws a ``BuildError`` whose underlying error is
    /// `CancellationError` (for instance when a signal arrived).
    public var shouldCancel: (@Sendable () -> Bool)?

    /// Options for building in `mode`, reporting progress to `progress` when given.
    public init(mode: LabMode = .fixture, progress: (@Sendable (String, Int, Int) -> Void)? = nil) {
        self.mode = mode; self.progress = progress
    }
}

/// Executes a plan's physical program (``Plan/program()``) against the kernel: pipelined
/// rtnetlink, one batch per namespace and phase.
///
/// Namespaces first (two at a time, each with its sysctls, socket, loopback and pin), then the
/// program's phases: links; stacked links; per-interface sysctls (one trip into each namespace
/// that has any); everything else inside each namespace (masters, ups, addresses, neighbours,
/// routes, rules, routes to remove, qdiscs); veth peers joining their bridges. What each step
/// sends (folded ups, deferred peer masters and aliases) is the program's; the builder binds
/// its interface names to ifindexes (``RequestMapper``): chosen up front, since each namespace
/// is fresh (`lo` is 1, plus whatever devices the kernel adds to every new namespace by itself,
/// learnt from the first one; ours are numbered above those, across the whole lab) and given to
/// the kernel at creation, so no step ever looks an index up. Any failure rolls everything back.
///
/// Every kernel operation (namespace creation, pins, requests and their acks, sysctl writes,
/// dumps, rollback) goes through one ``KernelTransport``: the real kernel for ``Lab/up(_:options:)``,
/// a scripted fake (`NetnsTesting`'s `FakeKernel`) in tests that need no privileges.
struct Builder {
    let topology: Topology
    let plan: Plan
    let options: LabOptions
    let transport: any KernelTransport

    /// What to send: the plan's physical program (folded ups, deferred peer masters and aliases).
    let program: BuildProgram
    /// The program's namespaces by node.
    private let namespaceSetups: [String: NamespaceSetup]

    private var namespaces: [String: NamespaceRef] = [:]
    private var order: [String] = []
    /// Binds interface names to ifindexes and maps each program step to its requests.
    private var mapper = RequestMapper()
    /// Devices the kernel put into every new namespace by itself (fallback tunnel devices).
    private(set) var kernelDevices: Set<String> = []
    private var batches: [String: [(step: Int, request: NetlinkRequest)]] = [:]
    /// Declared sysctls per node (plan step, key, value).
    private var sysctlSteps: [String: [(step: Int, key: String, value: String)]] = [:]
    /// Per-interface sysctls waiting for the next flush (plan step, key, value).
    private var interfaceSysctls: [String: [(step: Int, key: String, value: String)]] = [:]
    private var stepsDone = 0
    private var traceStart = 0.0
    private let traceEnabled = ProcessFacts.environment("NETNSKIT_TRACE") != nil

    init(topology: Topology, plan: Plan, options: LabOptions, transport: any KernelTransport) {
        self.topology = topology; self.plan = plan; self.options = options; self.transport = transport
        program = plan.program()
        namespaceSetups = Dictionary(program.namespaces.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Builds everything; on failure rolls back and throws ``BuildError``.
    /// - Returns: the namespaces, by node, as the transport handed them out.
    mutating func build() throws -> [String: NamespaceRef] {
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

        // Namespaces: each one's sysctls are written and its rtnetlink socket opened inside it
        // in the same trip to the worker, and its loopback brought up right after.
        let nodeSteps = steps.enumerated().filter { if case .createNamespace = $0.element.operation { return true } else { return false } }
        if case .pinned(let prefix) = options.mode {
            for (_, s) in nodeSteps {
                let path = "\(NetworkNamespace.runDirectory)/\(prefix)-\(s.node)"
                if transport.pinnedNamespaceExists("\(prefix)-\(s.node)") {
                    throw BuildError(declaration: "lab \(prefix)", command: "ip netns add \(prefix)-\(s.node)",
                                     underlying: LabError.nameTaken(prefix, reason: "\(path) already exists"))
                }
            }
        }
        for ns in program.namespaces {
            for s in ns.sysctls { if let i = s.planStep { sysctlSteps[ns.node, default: []].append((i, s.key, s.value)) } }
        }
        loadModulesThatAddDevices(steps)
        // From the namespaces' creation to the last link, no module that adds devices to every
        // namespace is loaded by this process (another lab's tunnel, a feature probe).
        try DeviceModuleGate.shared.shared { () throws -> Void in try self.createNamespacesAndLinks(nodeSteps) }

        if options.shouldCancel?() == true { throw fail(steps.count - 1, CancellationError()) }
        try finishBuild()
    }

    /// The namespaces, then every netlink phase.
    private mutating func createNamespacesAndLinks(_ nodeSteps: [(offset: Int, element: PlanStep)]) throws {
        if transport.namespaceCreationLanes > 1 && nodeSteps.count >= 8 {
            try createNamespacesInParallel(nodeSteps)
        } else {
            for (i, s) in nodeSteps {
                if options.shouldCancel?() == true { throw fail(i, CancellationError()) }
                do {
                    adopt(s.node, try transport.createNamespace(s.node, sysctls: sysctlWrites(s.node), lane: 0))
                    if case .pinned(let prefix) = options.mode { try transport.pin(s.node, as: "\(prefix)-\(s.node)") }
                } catch {
                    throw fail(creationStep(i, s.node, error), error)
                }
                progress("namespaces", 1 + (sysctlSteps[s.node]?.count ?? 0))
            }
        }

        trace("namespaces created", monotonicNow() - traceStart)
        try learnKernelDevices()
        // Netlink phases, one pipelined batch per namespace each.
        for phase in program.phases {
            for batch in phase.batches {
                for step in batch.steps { try enqueue(step, in: batch.node) }
            }
            try flush(phase.name)
        }
    }

    /// Waits for the links, then loads the firewalls.
    private mutating func finishBuild() throws {
        let steps = plan.steps
        if options.waitForLinks {
            let t = monotonicNow()
            try waitUntilLinksAreReady()
            trace("links ready", monotonicNow() - t)
        }

        // Firewalls last, through nft inside the node.
        for (i, s) in steps.enumerated() {
            guard case .loadFirewall(let ruleset) = s.operation else { continue }
            if options.shouldCancel?() == true { throw fail(i, CancellationError()) }
            let r: ProcessResult
            do {
                r = try transport.run(["nft", "-f", "-"], stdin: Array(ruleset.utf8), in: s.node, timeout: 30)
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

    /// The sysctls written into a node's namespace at creation, as the program says: the
    /// deterministic defaults (``Plan/defaultSysctls``, skipped where the kernel has no IPv6),
    /// then the declared sysctls.
    private func sysctlWrites(_ node: String) -> [SysctlWrite] {
        (namespaceSetups[node]?.sysctls ?? []).map { SysctlWrite($0.key, $0.value, optional: $0.optional) }
    }

    /// The step to blame for a failed namespace creation: the declared sysctl that failed, if one did.
    private func creationStep(_ createStep: Int, _ node: String, _ error: any Error) -> Int {
        guard let e = error as? SysctlWriteError else { return createStep }
        return sysctlSteps[node]?.first { $0.key == e.key && $0.value == e.value }?.step ?? createStep
    }

    private mutating func adopt(_ node: String, _ ns: NamespaceRef, announce: Bool = true) {
        if announce, let real = transport.namespace(node) { options.onNamespaceCreated?(node, real) }
        namespaces[node] = ns
        order.append(node)
        mapper.addNamespace(node, fd: ns.fd)
    }

    /// Loads, before any namespace exists, the modules this build's IP tunnels would otherwise
    /// load in the middle of it. The module of every IP tunnel kind (GRE, GRE-TAP, IPIP, SIT,
    /// ip6tnl, ip6gre), once loaded, puts fallback devices (`gre0`, `gretap0`, `erspan0`,
    /// `tunl0`, `sit0`, `ip6tnl0`, `ip6gre0`) into every network namespace, existing and new,
    /// unless the host sets `net.core.fb_tunnels_only_for_init_net` (we never change it); one
    /// loaded mid-build would add them to our
    /// namespaces at indexes the builder has already handed out. Creating one such link in a
    /// scratch namespace (the kernel-feature probe, cached per process) loads the module: the
    /// transport's ``KernelTransport/prepare(linkKinds:)`` does that.
    private func loadModulesThatAddDevices(_ steps: [PlanStep]) {
        var kinds = Set<String>()
        for s in steps {
            if case .addTunnel(let t) = s.operation { kinds.insert(t.kind.rawValue) }
        }
        if !kinds.isEmpty { transport.prepare(linkKinds: kinds.sorted()) }
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
            try transport.links(in: node).filter { $0.index != 1 }
        }
        var found = try extra(first)
        if let last = order.last, last != first {
            let other = try extra(last)
            if Set(other.map(\.name)) != Set(found.map(\.name)) || Set(other.map(\.index)) != Set(found.map(\.index)) {
                found = try order.flatMap(extra)
            }
        }
        kernelDevices = Set(found.map(\.name))
        if let top = found.map(\.index).max() { mapper.reserve(below: top + 1) }
        if !found.isEmpty {
            trace("kernel devices in new namespaces: \(kernelDevices.sorted().joined(separator: ", "))", 0)
        }
    }

    /// Creates the namespaces two at a time, on the two namespace workers: the kernel sets
    /// namespaces up concurrently. Each is announced (`onNamespaceCreated`) and, in pinned
    /// mode, pinned by the thread that created it.
    private mutating func createNamespacesInParallel(_ nodeSteps: [(offset: Int, element: PlanStep)]) throws {
        typealias Outcome = (namespace: NamespaceRef?, error: (any Error)?)
        let results = UnsafeMutableBufferPointer<Outcome>.allocate(capacity: nodeSteps.count)
        results.initialize(repeating: (nil, nil))
        defer { results.deallocate() }
        let transport = self.transport
        let lanes = min(transport.namespaceCreationLanes, 2)
        let steps = nodeSteps.map(\.element.node)
        let writes = steps.map(sysctlWrites)
        let pinPrefix: String? = if case .pinned(let p) = options.mode { p } else { nil }
        let created = options.onNamespaceCreated
        let cancel = options.shouldCancel
        let oneAtATime = Mutex(())
        nonisolated(unsafe) let out = results
        DispatchQueue.concurrentPerform(iterations: lanes) { w in
            for k in stride(from: w, to: steps.count, by: lanes) {
                if cancel?() == true { out[k].error = CancellationError(); continue }
                do {
                    let ns = try transport.createNamespace(steps[k], sysctls: writes[k], lane: w)
                    out[k] = (ns, nil)
                    // Pinned as soon as created (the identity recorded first), so the two
                    // threads' mounts overlap the other's namespace creation.
                    if let real = transport.namespace(steps[k]) { oneAtATime.withLock { _ in created?(steps[k], real) } }
                    if let p = pinPrefix { try transport.pin(steps[k], as: "\(p)-\(steps[k])") }
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

    /// Waits until every link the build brought up is ready to carry the first packet.
    ///
    /// Ready means, all seen in one link, one address and one qdisc dump per namespace:
    /// - its real qdisc: the kernel attaches it (`dev_activate`) from its linkwatch work, after
    ///   the request that brought the link up has returned; until then the link has the `noop`
    ///   qdisc and drops every packet, so a probe right after the build could lose its first
    ///   ARP request;
    /// - carrier (`LOWER_UP`) and operstate `UP` on every veth end whose two ends the plan
    ///   brings up: linkwatch delivers them late, and in a large lab some ends still say
    ///   `NO-CARRIER` (the flag comes first; the operstate, the qdisc, the bridge's port state
    ///   and IPv6's link-local address follow from the same linkwatch event);
    /// - the forwarding state on such an end when it is a port of an up bridge without STP:
    ///   a port without carrier stays `disabled` and forwards nothing;
    /// - no IPv6 address tentative on a link with carrier (DAD is off by default; in a node
    ///   that turns `accept_dad` on, every such veth end also waits for its link-local address,
    ///   which the kernel adds only then, and for its DAD to finish). An address whose DAD
    ///   failed stays tentative for good and is not waited for.
    /// Links with STP, or without a peer that comes up, are not waited for: they never get there.
    private func waitUntilLinksAreReady(timeout: Double = 5) throws {
        let expected = readinessExpectations()
        let deadline = monotonicNow() + timeout
        var pending = order
        var missing: [String: [String]] = [:]
        var pause: UInt32 = 500
        while !pending.isEmpty {
            pending = try pending.filter { node in
                let what = try notReady(node, expected)
                missing[node] = what
                return !what.isEmpty
            }
            if pending.isEmpty { break }
            if monotonicNow() > deadline {
                builderLogger.warning("links still not ready after \(timeout) s", metadata: [
                    "pending": "\(pending.map { "\($0): \(missing[$0]!.joined(separator: ", "))" })",
                ])
                break
            }
            // Short at first (carrier and qdisc come within milliseconds), longer while DAD runs.
            ProcessFacts.sleep(microseconds: pause)
            pause = min(pause * 2, 50_000)
        }
    }

    /// The links of each node that must get carrier, and those that must also forward as bridge ports.
    private func readinessExpectations() -> [String: (carrier: Set<String>, forwarding: Set<String>)] {
        var linkUps: Set<String> = []
        var stpOffBridges: Set<String> = []
        for s in plan.steps {
            switch s.operation {
            case .linkUp(let n): linkUps.insert(key(s.node, n))
            case .addBridge(let b) where !b.stp: stpOffBridges.insert(key(s.node, b.name))
            default: break
            }
        }
        var masters: [String: String] = [:]
        var ends: [(node: String, name: String, peerNode: String, peerName: String)] = []
        for s in plan.steps {
            switch s.operation {
            case .addVeth(let v):
                ends.append((s.node, v.name, v.peerNode, v.peerName))
                ends.append((v.peerNode, v.peerName, s.node, v.name))
                if let m = v.master { masters[key(s.node, v.name)] = m }
                if let m = v.peerMaster { masters[key(v.peerNode, v.peerName)] = m }
            case .setMaster(let port, let master):
                masters[key(s.node, port)] = master
            default: break
            }
        }
        var result: [String: (carrier: Set<String>, forwarding: Set<String>)] = [:]
        for e in ends where linkUps.contains(key(e.node, e.name)) && linkUps.contains(key(e.peerNode, e.peerName)) {
            result[e.node, default: ([], [])].carrier.insert(e.name)
            if let m = masters[key(e.node, e.name)], stpOffBridges.contains(key(e.node, m)), linkUps.contains(key(e.node, m)) {
                result[e.node, default: ([], [])].forwarding.insert(e.name)
            }
        }
        return result
    }

    /// What in `node` is not ready yet (see ``waitUntilLinksAreReady(timeout:)``), for the log.
    private func notReady(_ node: String, _ expected: [String: (carrier: Set<String>, forwarding: Set<String>)]) throws -> [String] {
        let ours = Set(mapper.indexes[node]!.filter { $0.key != "lo" }.values)
        var what = try transport.qdiscs(in: node).filter { $0.kind == "noop" && ours.contains($0.index) }.map { "ifindex \($0.index) on noop" }
        let links = try transport.links(in: node).filter { ours.contains($0.index) }
        let want = expected[node] ?? ([], [])
        for l in links {
            if want.carrier.contains(l.name) && !(l.hasCarrier && l.operState == 6) { what.append("\(l.name) without carrier") }
            if want.forwarding.contains(l.name) && !l.isForwardingBridgePort { what.append("\(l.name) not forwarding") }
        }
        let carrier = Set(links.filter(\.hasCarrier).map { UInt32(bitPattern: $0.index) })
        // Unspecified family: a kernel without IPv6 has none and the dump still works.
        let addresses = try transport.addresses(in: node).filter { $0.prefix.address.isIPv6 }
        for a in addresses where a.isTentative && a.flags & IFA.fDADFailed == 0 && carrier.contains(a.index) {
            what.append("\(a.prefix) tentative")
        }
        if runsDAD(node) {
            let linkLocal = IPPrefix(IPAddress("fe80::")!, 10)
            for l in links where want.carrier.contains(l.name) {
                let i = UInt32(bitPattern: l.index)
                if !addresses.contains(where: { $0.index == i && linkLocal.contains($0.prefix.address) }) {
                    what.append("\(l.name) without its link-local address")
                }
            }
        }
        return what
    }

    /// True when a declared sysctl turns IPv6 duplicate address detection on in `node`.
    private func runsDAD(_ node: String) -> Bool {
        (sysctlSteps[node] ?? []).contains { $0.key.hasPrefix("net.ipv6.conf.") && $0.key.hasSuffix(".accept_dad") && $0.value != "0" }
    }

    // MARK: Steps to requests

    private func key(_ node: String, _ ifname: String) -> String { node + "\u{0}" + ifname }

    /// Maps a program step to its kernel calls (``RequestMapper``): requests join the node's
    /// batch, per-interface sysctls wait for the phase's one trip into the namespace, and a
    /// tun or tap device is created at once.
    private mutating func enqueue(_ step: ProgramStep, in node: String) throws {
        let what = step.command(in: node)
        let calls: [RequestMapper.Call]
        do {
            calls = try mapper.calls(for: step, in: node, what: what)
        } catch {
            throw fail(step.planStep, error)
        }
        for call in calls {
            switch call {
            case .request(let r):
                append(node, step.planStep, r)
            case .sysctl(let key, let value):
                interfaceSysctls[node, default: []].append((step.planStep, key, value))
            case .tunTap(let name, let mode, let index):
                do {
                    try transport.addTunTap(name: name, mode: mode, index: index, in: node)
                } catch let e as SystemCallError where e.errno == .noSuchFileOrDirectory {
                    throw fail(step.planStep, UnsupportedError(feature: "tun", detail: "/dev/net/tun does not exist here (modprobe tun, or --device /dev/net/tun in a container)"))
                } catch {
                    throw fail(step.planStep, error)
                }
            }
        }
    }

    private mutating func append(_ node: String, _ step: Int, _ r: NetlinkRequest) {
        batches[node, default: []].append((step, r))
    }

    /// Writes the pending per-interface sysctls, one trip into each namespace.
    private mutating func flushInterfaceSysctls() throws {
        for node in order {
            guard let writes = interfaceSysctls.removeValue(forKey: node), !writes.isEmpty else { continue }
            if options.shouldCancel?() == true { throw fail(writes[0].step, CancellationError()) }
            do {
                try transport.writeSysctls(writes.map { SysctlWrite($0.key, $0.value) }, in: node)
            } catch let e as SysctlWriteError {
                throw fail(writes[e.index].step, e)
            } catch {
                throw fail(writes[0].step, error)
            }
            progress("interface sysctls", writes.count)
        }
    }

    /// Sends every pending batch (one pipelined write per namespace) and checks every ack.
    private mutating func flush(_ phaseName: String) throws {
        try flushInterfaceSysctls()
        let t0 = monotonicNow()
        let requests = batches.values.reduce(0) { $0 + $1.count }
        defer { if requests > 0 { trace("\(phaseName) (\(requests) requests)", monotonicNow() - t0) } }
        for node in order {
            guard let batch = batches.removeValue(forKey: node), !batch.isEmpty else { continue }
            if options.shouldCancel?() == true { throw fail(batch[0].step, CancellationError()) }
            let results: [NetlinkError?]
            do {
                results = try transport.send(batch.map(\.request), in: node)
            } catch {
                throw fail(batch[0].step, error)
            }
            guard results.count == batch.count else {
                throw fail(batch[0].step, TransportError("the transport answered \(results.count) of \(batch.count) requests sent in \(node)"))
            }
            if let k = results.firstIndex(where: { $0 != nil }) {
                throw fail(batch[k].step, results[k]!)
            }
            progress(phaseName, batch.count)
        }
    }

    /// Logs phase timings at debug level (swift-log, label `netnskit.builder`); with
    /// `NETNSKIT_TRACE` set they also go to stderr, whatever the logging backend.
    private func trace(_ what: String, _ seconds: Double) {
        let ms = (seconds * 1e5).rounded() / 100
        builderLogger.debug("\(what)", metadata: ["ms": "\(ms)", "topology": "\(topology.name)"])
        guard traceEnabled else { return }
        let line = Array("netnskit: \(what): \(ms) ms\n".utf8)
        ProcessFacts.writeStandardError(line)
    }

    private mutating func progress(_ phase: String, _ n: Int) {
        stepsDone += n
        options.progress?(phase, min(stepsDone, max(0, plan.steps.count - 1)), plan.steps.count)
    }

    // MARK: Failure and rollback

    private func fail(_ step: Int, _ error: any Error) -> BuildError {
        let s = plan.steps[step]
        // A bare EPERM (or EACCES) means missing privileges: name the capability and how to get it.
        if let e = error as? any ErrnoCarrying, e.errno == .notPermitted || e.errno == .permissionDenied {
            let missing = transport.missingCapabilities()
            if !missing.isEmpty {
                return BuildError(declaration: s.origin, command: s.description,
                                  underlying: MissingCapabilitiesError(missing: missing))
            }
        }
        var feature: String?
        if let ne = error as? NetlinkError {
            if ne.isUnknownLinkKind, let k = Self.linkKind(s.operation) { feature = k }
            if ne.isUnknownQdiscKind, case .addQdisc(_, let q, _, _) = s.operation { feature = "\(q.name) qdisc" }
            if case .addBridge(let b) = s.operation, b.vlanFiltering, ne.errno == .notSupported { feature = "bridge VLAN filtering" }
            if case .setBridgeVLAN = s.operation, ne.errno == .notSupported { feature = "bridge VLAN filtering" }
        }
        if let u = error as? UnsupportedError { feature = u.feature }
        return BuildError(declaration: s.origin, command: s.description, underlying: error, unsupportedFeature: feature)
    }

    private static func linkKind(_ op: PlanOperation) -> String? {
        switch op {
        case .addDummy: return "dummy"
        case .addDevice(_, let kind, _): return kind.name
        case .addVLAN: return "vlan (802.1Q)"
        case .addMacvlan: return "macvlan"
        case .addVXLAN: return "vxlan"
        case .addTunnel(let t): return t.kind.rawValue
        case .addBridge: return "bridge"
        case .addVeth: return "veth"
        default: return nil
        }
    }

    /// Removes everything built so far. Returns what could not be removed.
    private mutating func rollback() -> [String] {
        var problems: [String] = []
        for node in order.reversed() where namespaces[node] != nil {
            problems += transport.destroyNamespace(node)
        }
        namespaces = [:]
        order = []
        return problems
    }
}

/// nft refused a ruleset.
public struct FirewallError: Error, Sendable, CustomStringConvertible {
    /// What `nft` printed when it rejected the ruleset.
    public var output: String
    /// `nft rejected the ruleset:` and nft's output.
    public var description: String { "nft rejected the ruleset: \(output)" }
}

/// A feature the kernel (or NetnsKit) does not have.
public struct UnsupportedError: Error, Sendable, CustomStringConvertible {
    /// The missing feature (`vxlan`, `netem qdisc`, …).
    public var feature: String
    /// The kernel's or tool's answer when the feature was tried.
    public var detail: String
    /// The feature and the detail.
    public var description: String { "\(feature) is not supported: \(detail)" }
}
