import Foundation
import Namespaces
import Netlink
import NetnsKit
import NetnsModel

/// How a benchmark's labs hold their namespaces.
public enum BenchMode: String, Sendable, Codable {
    /// Anonymous namespaces held by descriptors (a test fixture).
    case fixture
    /// Namespaces pinned under `/run/netns`, as `nslab up` makes them.
    case pinned
}

/// The result of one workload: one JSON object of `nslab bench --json`.
public struct BenchResult: Sendable, Codable {
    /// The workload's name (`star`, `fixture`, …), or `file` for a topology file.
    public var workload: String
    /// The topology file, for the `file` workload.
    public var file: String?
    /// Its size: hosts, namespaces or operations as the workload defines N; nodes for a file;
    /// lab cycles per run for `fixture`.
    public var n: Int
    /// Whether the labs were pinned (`/run/netns`) or fixtures.
    public var mode: BenchMode
    /// How many times the workload was built and torn down (for `fixture`: runs of N cycles).
    public var runs: Int
    /// For `fixture`: how many lab cycles (up, then down) the statistics cover.
    public var cycles: Int?
    /// Seconds from the start of `Lab.up` until it returned (per cycle for `fixture`).
    public var create: BenchStats
    /// Seconds from the start of `Lab.down` until it returned.
    public var teardown: BenchStats
    /// Seconds from the start of `Lab.down` until the kernel had released every namespace
    /// (absent for `fixture`, whose cycles do not wait for the kernel, as a test does not).
    public var gone: BenchStats?
    /// Create plus teardown, per run (per cycle for `fixture`).
    public var total: BenchStats
    /// Kernel operations (plan steps, or requests for `ops`) per second of median create time.
    public var opsPerSecond: Int
    /// For `fixture`: lab cycles per second of wall time, over all cycles.
    public var labsPerSecond: Double?
    /// The process's peak resident set size (VmHWM), in bytes, after the runs.
    public var peakRSSBytes: Int
    /// For `ops`: the median time of each phase.
    public var phases: OpsPhases?
    /// The same workload through `ip -batch`, when compared.
    public var ipBatch: IPBatchResult?
    /// `ip -batch`'s median create time over ours, when compared.
    public var speedup: Double?

    /// Whether the labs were pinned.
    public var pinned: Bool { mode == .pinned }

    /// A result from its fields (the benchmark makes them; tests and tools may too).
    public init(workload: String, file: String? = nil, n: Int, mode: BenchMode, runs: Int, cycles: Int? = nil,
                create: BenchStats, teardown: BenchStats, gone: BenchStats?, total: BenchStats,
                opsPerSecond: Int, labsPerSecond: Double? = nil, peakRSSBytes: Int,
                phases: OpsPhases? = nil, ipBatch: IPBatchResult? = nil, speedup: Double? = nil) {
        self.workload = workload; self.file = file; self.n = n; self.mode = mode; self.runs = runs; self.cycles = cycles
        self.create = create; self.teardown = teardown; self.gone = gone; self.total = total
        self.opsPerSecond = opsPerSecond; self.labsPerSecond = labsPerSecond; self.peakRSSBytes = peakRSSBytes
        self.phases = phases; self.ipBatch = ipBatch; self.speedup = speedup
    }

    /// The result as one line of JSON (as `nslab bench --json` prints it).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every field is a finite number or a string, so encoding cannot fail.
        guard let data = try? encoder.encode(self) else { preconditionFailure("a BenchResult did not encode") }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The phases of the `ops` workload, each a median in seconds.
public struct OpsPhases: Sendable, Codable, Equatable {
    /// N veth pairs in one batch.
    public var veths: Double
    /// N addresses in one batch.
    public var addresses: Double
    /// N routes in one batch.
    public var routes: Double

    /// The phases in the order they run, with their names.
    public var list: [(name: String, seconds: Double)] { [("veths", veths), ("addresses", addresses), ("routes", routes)] }
}

/// `ip -batch` on the same workload.
public struct IPBatchResult: Sendable, Codable, Equatable {
    /// Seconds until every batch had run.
    public var create: BenchStats
    /// Seconds until `ip netns del` of every namespace returned.
    public var teardown: BenchStats
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
    ///   - w: the workload.
    ///   - n: the workload's size (hosts, links or routes, as the workload counts; cycles for `fixture`).
    ///   - runs: how many times to build and tear it down (for `fixture`: runs of `n` cycles).
    ///   - pinned: build pinned namespaces under `/run/netns` as a lab would (default: fixture
    ///     mode); `fixture` always uses fixture mode, as a test does.
    ///   - compareIPBatch: also run iproute2's `ip -batch` (one process per namespace) on the same workload.
    ///   - recorder: in pinned mode, told about each lab before and after it exists.
    public static func run(_ w: BenchWorkload, n: Int, runs: Int, pinned: Bool, compareIPBatch: Bool,
                           recorder: (any PinnedLabRecorder)? = nil) throws -> BenchResult {
        resetPeakRSS()
        let pid = ProcessInfo.processInfo.processIdentifier
        var result: BenchResult
        switch w {
        case .fixture:
            result = try runFixture(n: n, runs: runs)
        case .ops:
            var creates: [Double] = [], downs: [Double] = [], gones: [Double] = [], phases: [OpsPhases] = []
            for r in 0..<runs {
                settle()
                let (c, t, g, p) = try runOps(n: n, pinnedPrefix: pinned ? "nkbench\(pid)x\(r)" : nil, recorder: recorder)
                creates.append(c); downs.append(t); gones.append(g); phases.append(p)
            }
            result = summary(w.rawValue, n: n, pinned: pinned, runs: runs, ops: 3 * n, creates: creates, downs: downs, gones: gones)
            result.phases = OpsPhases(veths: BenchStats(phases.map(\.veths)).median,
                                      addresses: BenchStats(phases.map(\.addresses)).median,
                                      routes: BenchStats(phases.map(\.routes)).median)
        case .netns, .star, .chain:
            let topology = w.topology(n: n)
            result = try runTopology(topology, name: w.rawValue, n: n, runs: runs, pinned: pinned,
                                     prefix: { "nkbench\(pid)x\($0)" }, recorder: recorder)
        }
        result.peakRSSBytes = peakRSS()
        if compareIPBatch {
            var c: [Double] = [], t: [Double] = []
            for r in 0..<runs {
                settle()
                let (a, b) = try IPBatch.run(w.ipBatches(n: n, prefix: "nkipb\(pid)x\(r)"))
                c.append(a); t.append(b)
            }
            let ip = IPBatchResult(create: BenchStats(c), teardown: BenchStats(t))
            result.ipBatch = ip
            result.speedup = ip.create.median / max(result.create.median, 1e-9)
        }
        return result
    }

    /// Builds and tears down a topology from a file `runs` times: the `file` workload of
    /// `nslab bench --file`.
    /// - Parameters:
    ///   - topology: the file's topology (validated).
    ///   - file: the file's path, as reported.
    ///   - runs: how many times to build and tear it down.
    ///   - pinned: build pinned namespaces under `/run/netns` as a lab would (default: fixture mode).
    ///   - recorder: in pinned mode, told about each lab before and after it exists.
    ///   - index: which file of the run this is, so its pinned labs get names of their own.
    public static func run(topology: Topology, file: String, runs: Int, pinned: Bool,
                           recorder: (any PinnedLabRecorder)? = nil, index: Int = 0) throws -> BenchResult {
        resetPeakRSS()
        let pid = ProcessInfo.processInfo.processIdentifier
        var result = try runTopology(topology, name: "file", n: topology.nodes.count, runs: runs, pinned: pinned,
                                     prefix: { "nkbench\(pid)f\(index)x\($0)" }, recorder: recorder)
        result.file = file
        result.peakRSSBytes = peakRSS()
        return result
    }

    /// `runs` times: build the topology, tear it down and wait until the kernel has released it.
    static func runTopology(_ topology: Topology, name: String, n: Int, runs: Int, pinned: Bool,
                            prefix: (Int) -> String, recorder: (any PinnedLabRecorder)?) throws -> BenchResult {
        let ops = try topology.plan().steps.count
        var creates: [Double] = [], downs: [Double] = [], gones: [Double] = []
        for r in 0..<runs {
            settle()
            let prefix = prefix(r)
            var options = LabOptions(mode: pinned ? .pinned(prefix: prefix) : .fixture)
            let recorder = pinned ? recorder : nil
            try recorder?.willBuild(prefix, topology: topology, options: &options)
            let start = monotonicNow()
            let lab: Lab
            do { lab = try Lab.up(topology, options: options) } catch { recorder?.didTearDown(prefix); throw error }
            creates.append(monotonicNow() - start)
            recorder?.didBuild(prefix, namespaces: lab.nodes.compactMap { n in (try? n.namespace).map { (n.name, $0) } })
            let rep = lab.down(waitUntilGone: 30)
            if rep.problems.allSatisfy({ $0.hasPrefix("namespaces still held") }) { recorder?.didTearDown(prefix) }
            if !rep.ok { throw BenchError("teardown of \(name): \(rep)") }
            downs.append(rep.seconds)
            gones.append(rep.goneSeconds ?? rep.seconds)
        }
        return summary(name, n: n, pinned: pinned, runs: runs, ops: ops, creates: creates, downs: downs, gones: gones)
    }

    /// `fixture`: `runs` times (after waiting for an idle machine), `n` three-node labs up and
    /// down back to back, each cycle timed: the distribution a test suite sees under churn.
    static func runFixture(n: Int, runs: Int) throws -> BenchResult {
        let topology = BenchWorkload.fixture.topology(n: n)
        let ops = try topology.plan().steps.count
        var creates: [Double] = [], downs: [Double] = []
        creates.reserveCapacity(n * runs); downs.reserveCapacity(n * runs)
        var wall = 0.0
        for _ in 0..<runs {
            settle()
            let start = monotonicNow()
            for _ in 0..<n {
                let t0 = monotonicNow()
                let lab = try Lab.up(topology)
                let t1 = monotonicNow()
                let rep = lab.down()
                let t2 = monotonicNow()
                if !rep.ok { throw BenchError("teardown of fixture: \(rep)") }
                creates.append(t1 - t0); downs.append(t2 - t1)
            }
            wall += monotonicNow() - start
        }
        var result = summary("fixture", n: n, pinned: false, runs: runs, ops: ops, creates: creates, downs: downs, gones: nil)
        result.cycles = creates.count
        result.labsPerSecond = Double(creates.count) / max(wall, 1e-9)
        return result
    }

    static func summary(_ name: String, n: Int, pinned: Bool, runs: Int, ops: Int,
                        creates: [Double], downs: [Double], gones: [Double]?) -> BenchResult {
        let create = BenchStats(creates)
        return BenchResult(workload: name, file: nil, n: n, mode: pinned ? .pinned : .fixture, runs: runs, cycles: nil,
                           create: create, teardown: BenchStats(downs), gone: gones.map(BenchStats.init),
                           total: BenchStats(zip(creates, downs).map { $0 + $1 }),
                           opsPerSecond: Int(Double(ops) / max(create.median, 1e-9)), labsPerSecond: nil,
                           peakRSSBytes: 0, phases: nil, ipBatch: nil, speedup: nil)
    }

    /// `ops`: one namespace, N veth pairs, N addresses, N routes over one pipelined socket.
    /// - Returns: create, teardown and release seconds, and the phases.
    static func runOps(n: Int, pinnedPrefix: String?,
                       recorder: (any PinnedLabRecorder)? = nil) throws -> (Double, Double, Double, OpsPhases) {
        let topology = BenchWorkload.ops.topology(n: n)
        var options = LabOptions(mode: pinnedPrefix.map { .pinned(prefix: $0) } ?? .fixture)
        let recorder = pinnedPrefix == nil ? nil : recorder
        if let p = pinnedPrefix { try recorder?.willBuild(p, topology: topology, options: &options) }
        let start = monotonicNow()
        let lab: Lab
        do { lab = try Lab.up(topology, options: options) } catch {
            if let p = pinnedPrefix { recorder?.didTearDown(p) }
            throw error
        }
        if let p = pinnedPrefix { recorder?.didBuild(p, namespaces: lab.nodes.compactMap { n in (try? n.namespace).map { (n.name, $0) } }) }
        let vethSeconds: Double, report: FoundationBenchmark.Report
        do {
            let ns = try lab["ops"].namespace
            let t0 = monotonicNow()
            var veths: [NetlinkRequest] = []
            for i in 0..<n {
                let a = Int32(10 + 2 * i), b = Int32(11 + 2 * i)
                veths.append(.newLink(LinkSpec(name: "va\(i)", index: a, kind: .veth(peer: VethPeer(name: "vb\(i)", index: b, queues: 1)), queues: 1)))
            }
            try ns.socket.execute(veths)
            vethSeconds = monotonicNow() - t0
            // The address and route phases are the foundation's own benchmark.
            report = try FoundationBenchmark.run(count: n, in: ns)
        } catch {
            lab.down()
            if let p = pinnedPrefix { recorder?.didTearDown(p) }
            throw error
        }
        let created = monotonicNow() - start
        let rep = lab.down(waitUntilGone: 30)
        if let p = pinnedPrefix, rep.problems.allSatisfy({ $0.hasPrefix("namespaces still held") }) { recorder?.didTearDown(p) }
        if !rep.ok { throw BenchError("teardown of ops: \(rep)") }
        return (created, rep.seconds, rep.goneSeconds ?? rep.seconds,
                OpsPhases(veths: vethSeconds, addresses: report.addressSeconds, routes: report.routeSeconds))
    }
}

/// A benchmark that could not run or whose teardown left something behind.
public struct BenchError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    init(_ d: String) { description = d }
}
