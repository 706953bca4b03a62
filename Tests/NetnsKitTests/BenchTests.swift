import Foundation
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
