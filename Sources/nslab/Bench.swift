import ArgumentParser
import Foundation
import NetnsBench
import NetnsKit
import Synchronization

extension BenchWorkload: ExpressibleByArgument {}

/// `nslab bench`: how fast topologies are built and torn down, against `ip -batch`.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure building and tearing down benchmark topologies.",
        discussion: """
            Workloads (built exactly so; see the README):
              netns N    N bare namespaces (loopback up)
              star N     a switch with a bridge and N hosts, each on a veth
                         with one /16 address
              chain N    N routers in a line, a /30 between neighbours,
                         (N-1)(N-2) static routes
              ops N      in one namespace: N veth pairs, N addresses, N routes
                         (each phase timed)
              fixture N  a three-node test lab (host, router, host) up and
                         down N times back to back (default 2000), each cycle
                         timed: p50, p99 and max per cycle, and labs/s
              --file F   any topology or scenario file (YAML or JSON), built
                         and torn down as the other workloads

            Reports create time, teardown time (until down() returns), time \
            until the kernel has released the namespaces, operations per second \
            and peak RSS. Before each run it waits (up to 2 s) for an idle machine. \
            With no workload and no --file, runs all the workloads. Use a release build:
              swift run -c release nslab bench star
            """)

    @Argument(help: "The workloads to run, in order (default: all of them, unless --file is given): \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workloads: [BenchWorkload] = []

    @Option(name: .customLong("file"), help: ArgumentHelp("A topology or scenario file to build and tear down, after the workloads (repeatable).", valueName: "file"))
    var files: [String] = []

    @Option(help: "The size N, for every workload run (default: netns 100, star 200, chain 50, ops 1000, fixture 2000 cycles).")
    var n: Int?

    @Option(help: "Runs per workload (min/median/max are reported; default 3, fixture 1).")
    var runs: Int?

    @Flag(help: "Build pinned namespaces under /run/netns, as a lab would (default: fixture mode; the fixture workload always uses fixture mode).")
    var pinned = false

    @Option(help: "Also run the same workload with another tool and print the ratio (ip-batch; not for --file).")
    var compare: String?

    @Flag(help: "Print one JSON object per workload, one per line.")
    var json = false

    private var selected: [BenchWorkload] { workloads.isEmpty && files.isEmpty ? BenchWorkload.allCases : workloads }

    func validate() throws {
        for workload in selected {
            let n = self.n ?? workload.defaultN
            let limit = workload.maxN
            guard (1...limit).contains(n) else { throw ValidationError("--n must be between 1 and \(limit) for \(workload.rawValue)") }
            if workload == .chain && n < 2 { throw ValidationError("a chain needs at least 2 routers") }
        }
        if let runs { guard (1...50).contains(runs) else { throw ValidationError("--runs must be between 1 and 50") } }
        if let c = compare, c != "ip-batch" { throw ValidationError("--compare takes ip-batch") }
        if compare != nil && selected.isEmpty { throw ValidationError("--compare ip-batch needs a workload: `ip -batch` cannot build a topology file") }
        if n != nil && selected.isEmpty { throw ValidationError("--n sizes the workloads; a file's topology has its own size") }
    }

    func run() throws {
        // Every file is read and validated before anything is built.
        var targets: [(file: String, topology: Topology)] = []
        for file in files {
            guard looksLikeFile(file) else {
                throw NslabError("no such file: \(file)", hint: "--file takes a topology or scenario file ending in .yaml, .yml or .json")
            }
            targets.append((file, try resolveTarget(file).topology))
        }
        try requirePrivileges("nslab bench")
        var results: [BenchResult] = []
        func report(_ r: BenchResult) {
            // JSON goes out as each workload finishes: a long run shows its progress.
            if json { print(r.json); fflush(nil) }
            results.append(r)
        }
        for workload in selected {
            let n = self.n ?? workload.defaultN
            do {
                report(try NetnsBench.Bench.run(workload, n: n, runs: runs ?? workload.defaultRuns, pinned: pinned,
                                                compareIPBatch: compare != nil, recorder: BenchLabRecorder()))
            } catch {
                throw NslabError("bench \(workload.rawValue) \(n): \(describe(error))")
            }
        }
        for (i, target) in targets.enumerated() {
            do {
                report(try NetnsBench.Bench.run(topology: target.topology, file: target.file, runs: runs ?? 3, pinned: pinned,
                                                recorder: BenchLabRecorder(), index: i))
            } catch {
                throw NslabError("bench --file \(target.file): \(describe(error))")
            }
        }
        if json { return }
        var t = TextTable("WORKLOAD", "N", "MODE", "CREATE (median)", "TEARDOWN", "RELEASED", "OPS/S", "PEAK RSS")
        for r in results {
            t.add([label(r), "\(r.n)", r.mode.rawValue, ms(r.create.median), ms(r.teardown.median),
                   r.gone.map { ms($0.median) } ?? "-", "\(r.opsPerSecond)", "\(r.peakRSSBytes / 1_048_576) MiB"])
        }
        print(t.text, terminator: "")
        for r in results {
            let name = results.count > 1 ? "\(label(r)): " : ""
            for (phase, s) in r.phases?.list ?? [] { print("  \(name)\(phase): \(ms(s)) (\(Int(Double(r.n) / max(s, 1e-9))) /s)") }
            if let cycles = r.cycles {
                print("  \(name)per cycle over \(cycles) cycles: create \(r.create.percentiles); teardown \(r.teardown.percentiles); "
                      + "total \(r.total.percentiles); \(Int(r.labsPerSecond ?? 0)) labs/s")
            } else {
                print("  \(name)create min \(ms(r.create.min)), max \(ms(r.create.max)) over \(r.runs) runs")
            }
            if let ip = r.ipBatch {
                print("  \(name)ip -batch: create \(ms(ip.create.median)), teardown \(ms(ip.teardown.median)) — NetnsKit is "
                      + String(format: "%.1f× faster", r.speedup ?? 0))
            }
        }
        if _isDebugAssertConfiguration() {
            standardError("nslab: note: this is a debug build; measure with `swift run -c release nslab bench …`\n")
        }
    }

    private func label(_ r: BenchResult) -> String { r.file.map { "file \(($0 as NSString).lastPathComponent)" } ?? r.workload }
    private func ms(_ s: Double) -> String { String(format: s < 0.001 ? "%.2f ms" : "%.1f ms", s * 1000) }
}

/// Gives every pinned benchmark lab a state file, a pin journal and a lock, as `nslab up` does,
/// so a benchmark killed mid-run leaves labs that `nslab ls` shows and `nslab sweep` removes.
final class BenchLabRecorder: PinnedLabRecorder, @unchecked Sendable {
    private let labs = Mutex<[String: (lock: LabLock, recorder: PinRecorder)]>([:])

    func willBuild(_ prefix: String, topology: Topology, options: inout LabOptions) throws {
        try validateLabName(prefix)
        guard let lock = try LabLock.acquire(prefix, wait: 2) else { throw labBusy(prefix, doing: "the benchmark did not start") }
        let state = LabState(name: prefix, source: "nslab bench", status: .building, pid: getpid(),
                             created: Date().timeIntervalSince1970, topology: topology,
                             namespaces: topology.nodes.map {
                                 NamespaceRecord(node: $0.name, name: "\(prefix)-\($0.name)",
                                                 path: "\(NetworkNamespace.runDirectory)/\(prefix)-\($0.name)")
                             })
        do { try StateStore.reserve(state) } catch { lock.releaseRemovingFile(prefix); throw error }
        let recorder = PinRecorder(state: state)
        labs.withLock { $0[prefix] = (lock, recorder) }
        options.onNamespaceCreated = { node, ns in recorder.namespaceCreated(node: node, device: ns.device, inode: ns.inode, cookie: ns.cookie) }
    }

    func didBuild(_ prefix: String, namespaces: [(node: String, namespace: NetworkNamespace)]) {
        guard let recorder = labs.withLock({ $0[prefix]?.recorder }) else { return }
        var state = recorder.state
        let byNode = Dictionary(namespaces.map { ($0.node, $0.namespace) }, uniquingKeysWith: { a, _ in a })
        for i in state.namespaces.indices {
            guard let ns = byNode[state.namespaces[i].node] else { continue }
            state.namespaces[i].cookie = ns.cookie
            if let id = fileIdentity(state.namespaces[i].path) {
                state.namespaces[i].device = id.device
                state.namespaces[i].inode = id.inode
            }
        }
        state.status = .up
        if (try? StateStore.write(state)) != nil { StateStore.removePins(prefix) }
    }

    func didTearDown(_ prefix: String) {
        guard let entry = labs.withLock({ $0.removeValue(forKey: prefix) }) else { return }
        StateStore.remove(prefix)
        entry.lock.releaseRemovingFile(prefix)
    }
}
