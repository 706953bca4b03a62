import Glibc
import CNetlink
import Namespaces
import Netlink
import NetnsModel
import Synchronization

/// A running topology: one namespace per node, built from a ``Topology``.
///
/// ```swift
/// let lab = try Lab.up(topology)          // fixture mode: anonymous namespaces
/// let r = try lab["h1"].route(to: IPAddress("10.0.2.2")!)
/// try lab.down()
/// ```
/// In fixture mode nothing outlives the process: if it crashes, the kernel removes
/// every namespace with it. In pinned mode the namespaces are `/run/netns/<prefix>-<node>`.
public final class Lab: @unchecked Sendable, CustomStringConvertible {
    public let topology: Topology
    public let mode: LabMode
    /// Nodes in declaration order.
    public let nodes: [Node]
    private let byName: [String: Node]
    private let tornDown = Mutex(false)
    /// Processes started in the nodes (``Node/start(_:environment:)``), stopped at teardown.
    private let processes = Mutex<[BackgroundProcess]>([])
    /// Seconds the build took.
    public let buildSeconds: Double

    /// The lab's name: the topology's name.
    public var name: String { topology.name }

    /// Builds a topology. Validates first (every problem at once), then builds with
    /// pipelined rtnetlink; any failure rolls back everything and throws.
    /// - Throws: `ValidationError` (nothing was touched) or ``BuildError`` (everything was rolled back).
    /// - Important: needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root, a container with those, or a user namespace).
    public static func up(_ topology: Topology, options: LabOptions = LabOptions()) throws -> Lab {
        let start = monotonicNow()
        let plan = try topology.plan()
        var builder = Builder(topology: topology, plan: plan, options: options)
        let namespaces = try builder.build()
        let kinds = Dictionary(topology.nodes.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        let nodes = plan.steps.compactMap { s -> Node? in
            guard case .createNamespace = s.operation else { return nil }
            return Node(name: s.node, kind: kinds[s.node] ?? .host, namespace: namespaces[s.node])
        }
        return Lab(topology: topology, mode: options.mode, nodes: nodes, seconds: monotonicNow() - start)
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

    /// Stops the processes started in the nodes: SIGTERM to all, up to `grace` seconds for
    /// them to end, then SIGKILL to what is left.
    private func stopProcesses(grace: Double) {
        let all = processes.withLock { p -> [BackgroundProcess] in defer { p = [] }; return p }
        guard !all.isEmpty else { return }
        for p in all { p.signal(SIGTERM) }
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
        let already = tornDown.withLock { t -> Bool in let was = t; t = true; return was }
        if already { return TeardownReport(problems: [], seconds: 0, goneSeconds: nil) }
        var problems: [String] = []
        stopProcesses(grace: 2)
        let namespaces = nodes.compactMap { try? $0.namespace }
        var watcher: ReleaseWatcher? = nil
        if waitUntilGone > 0 {
            do { watcher = try ReleaseWatcher(namespaces) } catch { problems.append("cannot watch the release: \(error)") }
        }
        let start = monotonicNow()
        for ns in namespaces {
            if let p = ns.pinnedPath, !NetworkNamespace.unpin(path: p) { problems.append("could not remove \(p)") }
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

/// What a teardown did.
public struct TeardownReport: Sendable, CustomStringConvertible {
    /// Things that could not be removed (empty when all went well).
    public var problems: [String]
    /// Seconds until `down()` returned.
    public var seconds: Double
    /// Seconds until the kernel had released every namespace (when asked to wait).
    public var goneSeconds: Double?
    public var ok: Bool { problems.isEmpty }
    public var description: String {
        ok ? "torn down in \(String(format3(seconds))) s" : "teardown problems: " + problems.joined(separator: "; ")
    }
}

func format3(_ x: Double) -> String {
    let v = (x * 1000).rounded() / 1000
    return "\(v)"
}
