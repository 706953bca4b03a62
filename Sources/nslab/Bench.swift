import ArgumentParser
import Foundation
import NetnsKit

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
                         down, N times; per cycle

            Reports create time, teardown time (until down() returns), time \
            until the kernel has released the namespaces, operations per second \
            and peak RSS. Before each run it waits (up to 2 s) for an idle machine. \
            Use a release build:
              swift run -c release nslab bench star
            """)

    @Argument(help: "The workload: \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workload: BenchWorkload

    @Option(help: "The size N (default: netns 100, star 200, chain 50, ops 1000, fixture 20).")
    var n: Int?

    @Option(help: "Runs per workload (min/median/max are reported).")
    var runs = 3

    @Flag(help: "Build pinned namespaces under /run/netns, as a lab would (default: fixture mode).")
    var pinned = false

    @Option(help: "Also run the same workload with another tool and print the ratio (ip-batch).")
    var compare: String?

    @Flag(help: "Print one JSON object per workload.")
    var json = false

    func validate() throws {
        let n = self.n ?? workload.defaultN
        let limit = workload == .ops ? 100_000 : 2_000
        guard (1...limit).contains(n) else { throw ValidationError("--n must be between 1 and \(limit) for \(workload.rawValue)") }
        guard (1...50).contains(runs) else { throw ValidationError("--runs must be between 1 and 50") }
        if workload == .chain && n < 2 { throw ValidationError("a chain needs at least 2 routers") }
        if let c = compare, c != "ip-batch" { throw ValidationError("--compare takes ip-batch") }
    }

    func run() throws {
        try requirePrivileges("nslab bench")
        let n = self.n ?? workload.defaultN
        let r: BenchResult
        do {
            r = try NetnsKit.Bench.run(workload, n: n, runs: runs, pinned: pinned, compareIPBatch: compare != nil)
        } catch {
            throw NslabError("bench \(workload.rawValue) \(n): \(describe(error))")
        }
        if json { print(r.json); return }
        var t = TextTable("WORKLOAD", "N", "MODE", "CREATE (median)", "TEARDOWN", "RELEASED", "OPS/S", "PEAK RSS")
        t.add([workload.rawValue, "\(n)", pinned ? "pinned" : "fixture", milliText(r.create), milliText(r.teardown),
               workload == .fixture ? "-" : milliText(r.gone), "\(Int(r.opsPerSecond))", "\(r.peakRSSBytes / 1_048_576) MiB"])
        print(t.text, terminator: "")
        for (phase, s) in r.phases { print("  \(phase): \(ms(s)) (\(Int(Double(n) / max(s, 1e-9))) /s)") }
        print("  create min \(ms(r.create.min)), max \(ms(r.create.max)) over \(runs) runs")
        if let ip = r.ipBatch {
            print("  ip -batch: create \(ms(ip.create.median)), teardown \(ms(ip.teardown.median)) — NetnsKit is "
                  + String(format: "%.1f× faster", ip.create.median / max(r.create.median, 1e-9)))
        }
        if r.create.median > 0, _isDebugAssertConfiguration() {
            standardError("nslab: note: this is a debug build; measure with `swift run -c release nslab bench …`\n")
        }
    }

    private func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
    private func milliText(_ s: BenchStats) -> String { ms(s.median) }
}
