import Foundation
import Namespaces
import NetnsBench
import NetnsKit
import NetnsTesting
import Testing

/// The benchmark workloads build what they claim; times are printed, never asserted.
@Suite(.netnsPrivileges) struct BenchWorkloadTests {
    @Test(arguments: BenchWorkload.allCases)
    func workloadRunsAndCleansUp(_ w: BenchWorkload) throws {
        let n = ProcessInfo.processInfo.environment["NETNSKIT_BENCH_N"].flatMap(Int.init) ?? 6
        let r = try Bench.run(w, n: n, runs: 1, pinned: false, compareIPBatch: ProcessInfo.processInfo.environment["NETNSKIT_BENCH_IP"] != nil)
        print(r.json)
        #expect(r.create.median > 0)
        #expect(r.peakRSSBytes > 0)
        #expect(r.workload == w.rawValue && r.n == n)
        if w == .fixture {
            // One sample per cycle, and no release time claimed for cycles that do not wait for it.
            #expect(r.cycles == n && r.gone == nil && (r.labsPerSecond ?? 0) > 0)
        } else {
            #expect(r.cycles == nil && r.gone != nil)
        }
        if w == .ops { #expect((r.phases?.veths ?? 0) > 0 && (r.phases?.routes ?? 0) > 0) }
    }

    /// A topology given as a value (what `nslab bench --file` passes) is built and torn down
    /// `runs` times, and reported as the `file` workload with its node count as N.
    @Test func topologyRunsAndCleansUp() throws {
        let r = try Bench.run(topology: BenchWorkload.fixture.topology(n: 1), file: "fixture.yaml", runs: 2, pinned: false)
        #expect(r.workload == "file" && r.file == "fixture.yaml" && r.n == 3 && r.runs == 2)
        #expect(r.create.min > 0 && (r.gone?.min ?? 0) > 0 && r.total.min >= r.create.min)
    }

    @Test func chainRoutesAreComplete() async throws {
        let n = 6
        let lab = try await Lab.up(BenchWorkload.chain.topology(n: n))
        defer { lab.down() }
        var routes = 0
        for i in 0..<n { routes += try lab["r\(i)"].routes().filter { $0.gateway != nil }.count }
        #expect(routes == (n - 1) * (n - 2))
        // End to end across every hop.
        let p = try await lab["r0"].run(["ping", "-c1", "-W2", "10.200.0.\((n - 2) * 4 + 2)"])
        #expect(p.status == 0, "\(p.output)")
    }

    @Test func starHostsAreBridgePorts() async throws {
        let lab = try await Lab.up(BenchWorkload.star.topology(n: 5))
        defer { lab.down() }
        #expect(try lab["sw"].links().filter { $0.master != nil }.count == 5)
        let p = try await lab["h0"].run(["ping", "-c1", "-W2", "10.100.0.5"])
        #expect(p.status == 0, "\(p.output)")
    }
}

/// Scale: a 200-host star and a 50-router chain with full static routing build, forward
/// end to end, and are released completely.
@Suite(.netnsPrivileges) struct ScaleTests {
    @Test func starOf200() async throws {
        let lab = try await Lab.up(BenchWorkload.star.topology(n: 200))
        #expect(lab.nodes.count == 201)
        #expect(try lab["sw"].links().filter { $0.master != nil }.count == 200)
        // Within a few seconds: right after the build, 400 interfaces are still sending their
        // IPv6 multicast reports through one bridge, and the suite runs in parallel on two cores.
        for e: LabExpectation in [.reachable(from: "h0", to: "10.100.0.200"),   // h199
                                  .reachable(from: "h199", to: "10.100.0.1"),   // h0
                                  .reachable(from: "h57", to: "10.100.0.101")] { // h100
            let failure = await lab.verify(e, within: 10)
            #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
        }
        let report = lab.down(waitUntilGone: 30)
        #expect(report.ok && report.goneSeconds != nil, "\(report)")
    }

    @Test func chainOf50() async throws {
        let n = 50
        let lab = try await Lab.up(BenchWorkload.chain.topology(n: n))
        var routes = 0
        for i in 0..<n { routes += try lab["r\(i)"].routes().filter { $0.gateway != nil }.count }
        #expect(routes == (n - 1) * (n - 2))
        // From the first router to the far end of the last link, across 48 hops.
        let last = "10.\(200 + (n - 2) / 16384).\((n - 2) / 64 % 256).\(((n - 2) % 64) * 4 + 2)"
        let failure = await lab.verify(.reachable(from: "r0", to: last), within: 10)
        #expect(failure == nil, "\(failure.map { "\($0)" } ?? "")")
        let report = lab.down(waitUntilGone: 30)
        #expect(report.ok, "\(report)")
    }
}

@Suite(.netnsPrivileges) struct FoundationBenchmarkTests {
    func ipJSON(_ ns: NetworkNamespace, _ args: [String]) throws -> [[String: Any]] {
        let r = try Spawner.runBlocking(["ip", "-j"] + args, in: ns, timeout: 10)
        try #require(r.status == 0, "ip -j \(args.joined(separator: " ")) failed: \(r)")
        return try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [[String: Any]] ?? []
    }

    @Test func foundationBenchmarkCreatesEverything() throws {
        let ns = try NetworkNamespace.create(label: "bench-check")
        defer { ns.close() }
        let report = try FoundationBenchmark.run(count: 1000, in: ns)
        print("FoundationBenchmark (debug build): \(report)")
        let addrs = (try ipJSON(ns, ["-4", "addr", "show", "dev", FoundationBenchmark.deviceName]).first?["addr_info"] as? [[String: Any]]) ?? []
        let addrSet = Set(addrs.compactMap { $0["local"] as? String })
        #expect(addrSet.count == 1000)
        #expect(addrSet.contains("10.128.0.0") && addrSet.contains("10.128.3.231"))
        let routes = try ipJSON(ns, ["-4", "route", "show", "dev", FoundationBenchmark.deviceName])
        let routeSet = Set(routes.compactMap { $0["dst"] as? String })
        #expect(routeSet.count == 1000)
        #expect(routeSet.contains("10.192.0.0") && routeSet.contains("10.192.3.231"))
        #expect(report.count == 1000 && report.addressSeconds > 0 && report.routeSeconds > 0)
        // The self-contained variant leaves nothing behind.
        let own = try FoundationBenchmark.run(count: 1000)
        print("FoundationBenchmark in its own namespace (debug build): \(own)")
    }
}
