import Namespaces
import Netlink
import NetnsModel
import Synchronization

/// A running topology: one namespace per node, built from a `Topology`.
///
/// ```swift
/// let lab = try Lab.up(topology)          // fixture mode: anonymous namespaces
/// let r = try lab["h1"].route(to: IPAddress("10.0.2.2")!)
/// try lab.down()
/// ```
/// In fixture mode nothing outlives the process: if it crashes, the kernel removes
/// every namespace with it. In pinned mode the namespaces are `/run/netns/<prefix>-<node>`.
public final class Lab: @unchecked Sendable, CustomStringConvertible {
    /// The topology the lab was built from.
    public let topology: Topology
    /// Whether the lab is a fixture (gone with the process) or pinned under `/run/netns`.
    public let mode: LabMode
    /// Nodes in declaration order.
    public let nodes: [Node]
    private let byName: [String: Node]
    private let tornDown = Mutex(false)
    /// Processes started in the nodes (``Node/start(_:environment:)``), stopped at teardown.
    private let processes = Mutex<[BackgroundProcess]>([])
    /// Steps other libraries add to the teardown (NetnsNIO shuts a node's event loops down here).
    private let teardownSteps = Mutex<[(label: String, body: @Sendable () throws -> Void)]>([])
    /// Threads that live in a node on purpose (event loops), by node, for the thread audit.
    private let nodeThreads = Mutex<[String: Set<Int32>]>([:])
    /// Seconds the build took.
    public let buildSeconds: Double
    /// Changes made to the running lab through its nodes (see `Changes.swift`).
    let changeLog = ChangeLog()
    /// The recorder of the lab's rtnetlink events, once ``recordEvents()`` started it (see `Events.swift`).
    let eventRecorder = Mutex<EventRecorder?>(nil)

    /// The lab's name: the topology's name.
    public var name: String { topology.name }

    /// Builds a topology. Validates first (every problem at once), then builds with
    /// pipelined rtnetlink; any failure rolls back everything and throws.
    /// - Throws: `ValidationError` (nothing was touched) or ``BuildError`` (everything was rolled back).
    /// - Important: needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root, a container with those, or a user namespace).
    public static func up(_ topology: Topology, options: LabOptions = LabOptions()) throws -> Lab {
        let start = monotonicNow()
        let plan = try topology.plan()
        let transport = NamespaceTransport(prepareLinkKinds: { kinds in for k in kinds { _ = KernelFeatures.shared.link(k) } })
        var builder = Builder(topology: topology, plan: plan, options: options, transport: transport)
        _ = try builder.build()
        let namespaces = transport.namespaces
        let kinds = Dictionary(topology.nodes.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let nodes = plan.steps.compactMap { s -> Node? in
            guard case .createNamespace = s.operation else { return nil }
            return Node(name: s.node, kind: kinds[s.node] ?? .host, namespace: namespaces[s.node])
        }
        let lab = Lab(topology: topology, mode: options.mode, nodes: nodes, seconds: monotonicNow() - start)
        do { try lab.isolateNodes() } catch { lab.down(); throw error }
        return lab
    }

    /// Builds a topology through `transport` instead of the kernel, as `Lab.up(_:options:)` would,
    /// without making a ``Lab`` of it: for fault tests against a fake kernel (`NetnsTesting`'s
    /// `FakeKernel`), which need no privileges.
    ///
    /// The build sends namespace creation, every request, sysctl write and dump through the
    /// transport, collects its acks and, on any failure, rolls back through it. On success what
    /// it built stays in the transport (a `NamespaceTransport`'s `namespaces`, to close, or
    /// `KernelTransport.destroyNamespace(_:)` for each node). `options.onNamespaceCreated` is
    /// called only for a transport with real namespaces.
    /// - Throws: `ValidationError` (the transport was not touched) or ``BuildError`` (everything
    ///   created was removed through `KernelTransport.destroyNamespace(_:)`).
    public static func build(_ topology: Topology, options: LabOptions = LabOptions(), on transport: any KernelTransport) throws {
        let plan = try topology.plan()
        var builder = Builder(topology: topology, plan: plan, options: options, transport: transport)
        _ = try builder.build()
    }

    /// Builds a topology without blocking Swift's cooperative threads.
    public static func up(_ topology: Topology, options: LabOptions = LabOptions()) async throws -> Lab {
        try await onOwnThread { try Lab.up(topology, options: options) }
    }

    private init(topology: Topology, mode: LabMode, nodes: [Node], seconds: Double) {
        self.topology = topology
        self.mode = mode
        self.nodes = nodes
        self.byName = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.buildSeconds = seconds
        for n in nodes { n.lab = self }
    }

    /// The lab's name and its number of nodes.
    public var description: String { "lab \(name) (\(nodes.count) nodes)" }

    /// The node with this name. An unknown name gives a node whose every operation
    /// throws ``LabError/unknownNode(_:known:)`` (a typo never crashes a test run).
    public subscript(_ name: String) -> Node {
        byName[name] ?? Node(name: name, kind: .host, namespace: nil)
    }

    /// The node with this name, or an error listing the nodes the lab has.
    public func node(_ name: String) throws -> Node {
        guard let n = byName[name] else { throw LabError.unknownNode(name, known: nodes.map(\.name)) }
        return n
    }

    func adopt(_ process: BackgroundProcess) {
        processes.withLock { $0.append(process) }
    }

    /// Adds a step to the teardown: ``down(waitUntilGone:)`` runs the steps, last added first,
    /// after stopping the processes and before closing the namespaces. A step that throws
    /// becomes a teardown problem and the teardown goes on. A lab already torn down runs the
    /// step at once.
    public func onDown(_ label: String, _ body: @escaping @Sendable () throws -> Void) {
        let already = tornDown.withLock { t -> Bool in
            if !t { teardownSteps.withLock { $0.append((label, body)) } }
            return t
        }
        if already { try? body() }
    }

    /// Records threads that live in `node`'s namespace on purpose (the node's event loops or
    /// executor), so that ``threadAudit()`` does not report them. Call it from inside
    /// `ThreadAudit.registering`, before the threads can run anything.
    public func registerThreads(_ tids: [Int32], in node: Node) throws {
        let ns = try node.namespace
        ThreadAudit.register(tids, namespaceInode: ns.inode, owner: "\(name)/\(node.name)")
        nodeThreads.withLock { $0[node.name, default: []].formUnion(tids) }
    }

    /// Forgets threads registered with ``registerThreads(_:in:)`` (they have left the node).
    public func unregisterThreads(_ tids: [Int32]) {
        ThreadAudit.unregister(tids)
        nodeThreads.withLock { m in for k in m.keys { m[k]!.subtract(tids) } }
    }

    /// Threads left in this lab's namespaces that have no business there: every thread in a
    /// node's namespace except the namespace workers and the threads registered for that very
    /// node (``registerThreads(_:in:)``). Empty when all is well.
    ///
    /// A thread created by a thread inside a namespace starts inside it, so code running on a
    /// node's event loop that starts a helper thread (libdispatch workers, a thread pool)
    /// leaves that thread in the node, where it runs unrelated work and keeps the namespace
    /// alive; this is how such a thread is found.
    public func threadAudit() -> [ThreadFinding] {
        var byInode: [UInt64: String] = [:]
        for n in nodes { if let ns = try? n.namespace, ns.fd >= 0 { byInode[ns.inode] = n.name } }
        return ThreadAudit.intruders(in: Set(byInode.keys)).map {
            ThreadFinding(thread: $0, node: byInode[$0.namespaceInode] ?? "?", lab: name)
        }
    }

    /// Stops the processes started in the nodes: SIGTERM to all, up to `grace` seconds for
    /// them to end, then SIGKILL to what is left.
    private func stopProcesses(grace: Double) {
        let all = processes.withLock { p -> [BackgroundProcess] in defer { p = [] }; return p }
        guard !all.isEmpty else { return }
        for p in all { p.terminate() }
        let deadline = monotonicNow() + grace
        for p in all { p.waitForExit(timeout: max(0, deadline - monotonicNow())) }
        for p in all { p.stop(grace: 0) }
    }

    /// Every node's state as `ip`-like text, for failure reports, then the processes started
    /// in the nodes with the end of their output.
    public func stateDump() -> String {
        var out = nodes.map { $0.stateDump() }.joined()
        let started = processes.withLock { $0 }
        if !started.isEmpty {
            out += "── processes\n"
            for p in started {
                let state = p.exitStatus.map { "exited with status \($0)" } ?? "running"
                out += "  \(p.argv.joined(separator: " ")) (pid \(p.pid), in \(p.namespaceLabel)): \(state)\n"
                for (name, text) in [("stdout", p.output), ("stderr", p.errorOutput)] where !text.isEmpty {
                    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                    let tail = lines.suffix(20)
                    out += "    \(name)\(lines.count > tail.count ? " (last \(tail.count) lines)" : ""):\n"
                    out += tail.map { "      \($0)\n" }.joined()
                }
            }
        }
        out += changeLog.dump
        return out
    }

    /// Tears the lab down: stops the processes started in its nodes, unpins pinned namespaces
    /// and closes every descriptor.
    ///
    /// Idempotent and best effort: it keeps going after a failure, treats "already gone"
    /// as done, and returns what it could not remove. The kernel frees the namespaces
    /// asynchronously; pass `waitUntilGone` to wait until it has.
    @discardableResult
    public func down(waitUntilGone: Double = 0) -> TeardownReport {
        tearDown(waitUntilGone: waitUntilGone, keepingPins: false)
    }

    /// ``down(waitUntilGone:)``, but with `keepingPins` the namespaces pinned under
    /// `/run/netns` stay there (a kept failed lab): only this process's descriptors close.
    package func tearDown(waitUntilGone: Double, keepingPins: Bool) -> TeardownReport {
        let already = tornDown.withLock { t -> Bool in let was = t; t = true; return was }
        if already { return TeardownReport(problems: [], seconds: 0, goneSeconds: nil) }
        var problems: [String] = []
        stopProcesses(grace: 2)
        let steps = teardownSteps.withLock { s -> [(label: String, body: @Sendable () throws -> Void)] in defer { s = [] }; return s }
        for step in steps.reversed() {
            do { try step.body() } catch { problems.append("\(step.label): \(error)") }
        }
        // Threads registered for the nodes must be gone (or have left) once the steps ran.
        let registered = nodeThreads.withLock { m -> [(String, Int32)] in
            defer { m = [:] }
            return m.flatMap { node, tids in tids.map { (node, $0) } }
        }
        for (node, tid) in registered.sorted(by: { $0.1 < $1.1 }) {
            if ThreadAudit.registered[tid] != nil, ThreadAudit.isAlive(tid) {
                problems.append("thread \(tid) (\(ThreadAudit.threadName(tid) ?? "?")) of node \(node) is still registered and alive after teardown")
            }
            ThreadAudit.unregister([tid])
        }
        let namespaces = nodes.compactMap { try? $0.namespace }
        var watcher: ReleaseWatcher? = nil
        if waitUntilGone > 0 {
            do { watcher = try ReleaseWatcher(namespaces) } catch { problems.append("cannot watch the release: \(error)") }
        }
        let start = monotonicNow()
        for ns in namespaces {
            if !keepingPins, let p = ns.pinnedPath, !NetworkNamespace.unpin(path: p) { problems.append("could not remove \(p)") }
            ns.close()
        }
        let returned = monotonicNow() - start
        var gone: Double? = nil
        if let watcher {
            let left = watcher.waitUntilReleased(deadline: monotonicNow() + waitUntilGone)
            if !left.isEmpty {
                problems.append("namespaces still held after \(waitUntilGone) s: \(left.joined(separator: ", "))")
            }
            gone = monotonicNow() - start
        }
        return TeardownReport(problems: problems, seconds: returned, goneSeconds: gone)
    }

    deinit {
        // Fixture labs die with their descriptors anyway; pinned labs stay until `down()` or `nslab down`.
        if case .fixture = mode { _ = down() }
    }
}

/// A thread found in a lab node's namespace that should not be there.
public struct ThreadFinding: Sendable, Hashable, CustomStringConvertible {
    /// The thread: its kernel id, name and namespace.
    public var thread: ThreadRecord
    /// The node whose namespace the thread is in.
    public var node: String
    /// The name of the lab the node belongs to.
    public var lab: String

    /// The thread, the node and lab it was found in, and why it should not be there.
    public var description: String {
        "thread \(thread.tid) (\(thread.name)) is in node \(node)'s namespace (net:[\(thread.namespaceInode)]) of lab \(lab), "
            + "but is neither a namespace worker nor one of \(node)'s own threads"
    }
}

/// What a teardown did.
public struct TeardownReport: Sendable, CustomStringConvertible {
    /// Things that could not be removed (empty when all went well).
    public var problems: [String]
    /// Seconds until `down()` returned.
    public var seconds: Double
    /// Seconds until the kernel had released every namespace (when asked to wait).
    public var goneSeconds: Double?
    /// True when nothing was left behind (``problems`` is empty).
    public var ok: Bool { problems.isEmpty }
    /// How long the teardown took, or its problems.
    public var description: String {
        ok ? "torn down in \(String(format3(seconds))) s" : "teardown problems: " + problems.joined(separator: "; ")
    }
}

func format3(_ x: Double) -> String {
    let v = (x * 1000).rounded() / 1000
    return "\(v)"
}
