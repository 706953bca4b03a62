import Glibc
import CNetlink
import Namespaces
import Netlink
import NetnsModel

/// min / median / max of a set of runs, in seconds.
public struct BenchStats: Sendable, CustomStringConvertible {
    public var min: Double, median: Double, max: Double
    public init(_ xs: [Double]) {
        let s = xs.sorted()
        min = s.first ?? 0; max = s.last ?? 0
        median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
    }
    public var description: String { "\(ms(median)) (min \(ms(min)), max \(ms(max)))" }
    var json: String { "{\"min\": \(min), \"median\": \(median), \"max\": \(max)}" }
}

func ms(_ s: Double) -> String {
    let v = (s * 10000).rounded() / 10
    return "\(v) ms"
}

/// The result of one workload.
public struct BenchResult: Sendable {
    public var workload: BenchWorkload
    public var n: Int
    public var pinned: Bool
    public var runs: Int
    public var create: BenchStats
    public var teardown: BenchStats
    public var gone: BenchStats
    /// Kernel operations (plan steps, or requests for `ops`) per second of median create time.
    public var opsPerSecond: Double
    public var peakRSSBytes: Int
    /// Per-phase times for `ops` (veths, addresses, routes), medians in seconds.
    public var phases: [(String, Double)] = []
    /// The same workload through `ip -batch`, when compared.
    public var ipBatch: (create: BenchStats, teardown: BenchStats)?

    public var json: String {
        var s = "{\"workload\": \"\(workload.rawValue)\", \"n\": \(n), \"mode\": \"\(pinned ? "pinned" : "fixture")\", "
        s += "\"runs\": \(runs), \"create\": \(create.json), \"teardown\": \(teardown.json), \"gone\": \(gone.json), "
        s += "\"opsPerSecond\": \(Int(opsPerSecond)), \"peakRSSBytes\": \(peakRSSBytes)"
        if !phases.isEmpty {
            s += ", \"phases\": {" + phases.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
        if let ip = ipBatch {
            s += ", \"ipBatch\": {\"create\": \(ip.create.json), \"teardown\": \(ip.teardown.json)}"
            s += ", \"speedup\": \(ip.create.median / max(create.median, 1e-9))"
        }
        return s + "}"
    }
}

/// Records the pinned labs a benchmark builds, so that a benchmark killed mid-run leaves
/// nothing that `nslab ls` and `nslab sweep` cannot see (`nslab bench --pinned` gives each one
/// a state file and a pin journal, as `nslab up` does).
public protocol PinnedLabRecorder: Sendable {
    /// Called before a pinned lab named `prefix` is built; may add to the build's options (for
    /// instance `onNamespaceCreated`, to journal each namespace before it is pinned).
    func willBuild(_ prefix: String, topology: Topology, options: inout LabOptions) throws
    /// Called once the lab is built, with each node's namespace.
    func didBuild(_ prefix: String, namespaces: [(node: String, namespace: NetworkNamespace)])
    /// Called once the lab is torn down, or its build failed and was rolled back.
    func didTearDown(_ prefix: String)
}

/// Runs the benchmark workloads of `nslab bench`.
public enum Bench {
    /// Runs a workload `runs` times and reports create, teardown and release times.
    /// - Parameters:
    ///   - pinned: build pinned namespaces under `/run/netns` as a lab would (default: fixture mode).
    ///   - compareIPBatch: also run iproute2's `ip -batch` (one process per namespace) on the same workload.
    ///   - recorder: in pinned mode, told about each lab before and after it exists.
    public static func run(_ w: BenchWorkload, n: Int, runs: Int, pinned: Bool, compareIPBatch: Bool,
                           recorder: (any PinnedLabRecorder)? = nil) throws -> BenchResult {
        resetPeakRSS()
        var creates: [Double] = [], downs: [Double] = [], gones: [Double] = [], ops = 0
        var phaseTimes: [[(String, Double)]] = []
        for r in 0..<runs {
            settle()
            let prefix = "nkbench\(getpid())x\(r)"
            if w == .ops {
                let (c, t, g, p) = try runOps(n: n, pinnedPrefix: pinned ? prefix : nil, recorder: recorder)
                creates.append(c); downs.append(t); gones.append(g); phaseTimes.append(p)
                ops = 3 * n
                continue
            }
            if w == .fixture {
                // N times a three-node lab up and down; report one cycle.
                let topo = w.topology(n: n)
                ops = try topo.plan().steps.count
                var c = 0.0, d = 0.0
                for _ in 0..<n {
                    let t0 = monotonicNow()
                    let lab = try Lab.up(topo)
                    let t1 = monotonicNow()
                    lab.down()
                    d += monotonicNow() - t1
                    c += t1 - t0
                }
                creates.append(c / Double(n)); downs.append(d / Double(n)); gones.append(d / Double(n))
                continue
            }
            let topo = w.topology(n: n)
            let plan = try topo.plan()
            ops = plan.steps.count
            var options = LabOptions(mode: pinned ? .pinned(prefix: prefix) : .fixture)
            let recorder = pinned ? recorder : nil
            try recorder?.willBuild(prefix, topology: topo, options: &options)
            let start = monotonicNow()
            let lab: Lab
            do { lab = try Lab.up(topo, options: options) } catch { recorder?.didTearDown(prefix); throw error }
            creates.append(monotonicNow() - start)
            recorder?.didBuild(prefix, namespaces: lab.nodes.compactMap { n in (try? n.namespace).map { (n.name, $0) } })
            let rep = lab.down(waitUntilGone: 30)
            if rep.problems.allSatisfy({ $0.hasPrefix("namespaces still held") }) { recorder?.didTearDown(prefix) }
            if !rep.ok { throw BenchError("teardown of \(w.rawValue): \(rep)") }
            downs.append(rep.seconds)
            gones.append(rep.goneSeconds ?? rep.seconds)
        }
        var result = BenchResult(workload: w, n: n, pinned: pinned, runs: runs, create: BenchStats(creates),
                                 teardown: BenchStats(downs), gone: BenchStats(gones),
                                 opsPerSecond: Double(ops) / max(BenchStats(creates).median, 1e-9),
                                 peakRSSBytes: peakRSS())
        if !phaseTimes.isEmpty {
            result.phases = phaseTimes[0].indices.map { i in (phaseTimes[0][i].0, BenchStats(phaseTimes.map { $0[i].1 }).median) }
        }
        if compareIPBatch {
            var c: [Double] = [], t: [Double] = []
            for r in 0..<runs {
                settle()
                let (a, b) = try runIPBatch(w, n: n, prefix: "nkipb\(getpid())x\(r)")
                c.append(a); t.append(b)
            }
            result.ipBatch = (BenchStats(c), BenchStats(t))
        }
        return result
    }

    /// `ops`: one namespace, N veth pairs, N addresses, N routes over one pipelined socket.
    static func runOps(n: Int, pinnedPrefix: String?,
                       recorder: (any PinnedLabRecorder)? = nil) throws -> (Double, Double, Double, [(String, Double)]) {
        var options = LabOptions(mode: pinnedPrefix.map { .pinned(prefix: $0) } ?? .fixture)
        if let p = pinnedPrefix { try recorder?.willBuild(p, topology: Topology(p) { Host("ops") }, options: &options) }
        let start = monotonicNow()
        let ns = try NetworkNamespace.create(label: "bench-ops")
        if let p = pinnedPrefix {
            options.onNamespaceCreated?("ops", ns)
            do { try ns.pin(name: "\(p)-ops") } catch { ns.close(); recorder?.didTearDown(p); throw error }
            recorder?.didBuild(p, namespaces: [("ops", ns)])
        }
        // The socket holds the namespace: keep it in this scope only. A failure unpins it.
        let (vethSeconds, report): (Double, FoundationBenchmark.Report)
        do {
            (vethSeconds, report) = try {
            let t0 = monotonicNow()
            var veths: [NetlinkRequest] = []
            for i in 0..<n {
                let a = Int32(10 + 2 * i), b = Int32(11 + 2 * i)
                veths.append(.newLink(LinkSpec(name: "va\(i)", index: a, kind: .veth(peer: VethPeer(name: "vb\(i)", index: b, queues: 1)), queues: 1)))
            }
            try ns.socket.execute(veths)
            let vethSeconds = monotonicNow() - t0
            // The address and route phases are the foundation's own benchmark.
            return (vethSeconds, try FoundationBenchmark.run(count: n, in: ns))
            }()
        } catch {
            if let p = pinnedPrefix { ns.unpin(); recorder?.didTearDown(p) }
            ns.close()
            throw error
        }
        let t3 = monotonicNow()
        let watcher = try ReleaseWatcher([ns])
        let d0 = monotonicNow()
        if let p = pinnedPrefix { ns.unpin(); recorder?.didTearDown(p) }
        ns.close()
        let d1 = monotonicNow()
        let left = watcher.waitUntilReleased(deadline: monotonicNow() + 30)
        if !left.isEmpty { throw BenchError("the ops namespace was not released within 30 s") }
        let d2 = monotonicNow()
        return (t3 - start, d1 - d0, d2 - d0,
                [("veths", vethSeconds), ("addresses", report.addressSeconds), ("routes", report.routeSeconds)])
    }

    /// The same workload through `ip -batch`, one process per namespace. Returns (create, teardown) seconds.
    static func runIPBatch(_ w: BenchWorkload, n: Int, prefix: String) throws -> (Double, Double) {
        let batches = w.ipBatches(n: n, prefix: prefix)
        let names = batches.first?.1.compactMap { $0.hasPrefix("netns add ") ? String($0.dropFirst(10)) : nil } ?? []
        defer {
            // Always clean up, even after a failure.
            let del = names.map { "netns del \($0)" }.joined(separator: "\n") + "\n"
            _ = try? Spawner.runBlocking(["ip", "-force", "-batch", "-"], in: nil, stdin: Array(del.utf8), timeout: 120)
        }
        let start = monotonicNow()
        for (ns, cmds) in batches {
            var argv = ["ip"]
            if let ns { argv += ["-n", ns] }
            argv += ["-batch", "-"]
            let r = try Spawner.runBlocking(argv, in: nil, stdin: Array((cmds.joined(separator: "\n") + "\n").utf8), timeout: 300)
            if r.status != 0 { throw BenchError("ip -batch failed: \(r.errorOutput.prefix(500))") }
        }
        let created = monotonicNow() - start
        let d0 = monotonicNow()
        let del = names.map { "netns del \($0)" }.joined(separator: "\n") + "\n"
        let r = try Spawner.runBlocking(["ip", "-batch", "-"], in: nil, stdin: Array(del.utf8), timeout: 300)
        if r.status != 0 { throw BenchError("ip -batch netns del failed: \(r.errorOutput.prefix(500))") }
        return (created, monotonicNow() - d0)
    }

    /// Waits until the machine is idle (90 % of CPU time idle over 50 ms), for at most 2 s.
    ///
    /// The kernel destroys namespaces asynchronously, after the process has let go of them;
    /// without this, the cleanup of one run (NetnsKit's or `ip`'s) overlaps the next run and
    /// slows it by up to a third.
    static func settle(maxSeconds: Double = 2) {
        func cpu() -> (idle: Double, total: Double)? {
            guard let f = fopen("/proc/stat", "r") else { return nil }
            defer { fclose(f) }
            var line = [CChar](repeating: 0, count: 512)
            guard fgets(&line, 512, f) != nil else { return nil }
            let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).dropFirst().compactMap { Double($0) }
            guard fields.count >= 5 else { return nil }
            return (fields[3] + fields[4], fields.prefix(8).reduce(0, +))
        }
        let end = monotonicNow() + maxSeconds
        guard var last = cpu() else { return }
        while monotonicNow() < end {
            usleep(50_000)
            guard let now = cpu() else { return }
            let total = now.total - last.total
            if total > 0 && (now.idle - last.idle) / total >= 0.9 { return }
            last = now
        }
    }

    static func resetPeakRSS() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        if fd >= 0 { _ = write(fd, "5", 1); close(fd) }
    }

    /// VmHWM of this process, in bytes.
    static func peakRSS() -> Int {
        guard let f = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if s.hasPrefix("VmHWM:") {
                let kb = s.split(separator: " ").compactMap { Int($0) }.first ?? 0
                return kb * 1024
            }
        }
        return 0
    }
}

public struct BenchError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
