import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// What recording a lab's events costs: lab up + down with and without `recordEvents()`, the
/// recorder's own start and stop, and how late an event is read after its change was sent.
///
/// Timings, not checks of speed (those belong in `nslab bench`): they run only on request,
/// alone, and print their numbers (the README's Benchmarks section quotes them):
/// `NETNSKIT_MEASURE_EVENTS=1 swift test --skip-build --filter EventRecordingMeasurements`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["NETNSKIT_MEASURE_EVENTS"] == "1" && canBuild,
                             "on request: NETNSKIT_MEASURE_EVENTS=1"))
struct EventRecordingMeasurements {
    /// A hub router with `n` hosts on veths, each with an address and a default route.
    static func star(_ n: Int) -> Topology {
        Topology("evstar") {
            Router("hub")
            for i in 0..<n {
                Host("h\(i)") { Address("10.\(i / 250).\(i % 250).2/24"); Route(.default, via: "10.\(i / 250).\(i % 250).1") }
                Link("h\(i):eth0", "hub:eth\(i)", bAddress: "10.\(i / 250).\(i % 250).1/24")
            }
        }
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    static func ms(_ x: Double) -> String { String(format: "%.2f ms", x * 1000) }

    @Test(arguments: [3, 20, 100]) func upAndDownWithAndWithoutRecording(nodes: Int) throws {
        let topo = nodes == 3 ? routed : Self.star(nodes - 1)
        let rounds = nodes >= 100 ? 10 : 30
        var plain: [Double] = [], recording: [Double] = [], start: [Double] = [], stop: [Double] = []
        var upPlain: [Double] = [], upRec: [Double] = [], downPlain: [Double] = [], downRec: [Double] = []
        // Warm up, then alternate so that a slow phase of the machine hits both alike.
        Lab.up(topoOrNil: topo)
        for _ in 0..<rounds {
            var t = monotonicNow()
            let a = try Lab.up(topo)
            let u = monotonicNow()
            a.down()
            plain.append(monotonicNow() - t); upPlain.append(u - t); downPlain.append(monotonicNow() - u)
            t = monotonicNow()
            let lab = try Lab.up(topo)
            let s0 = monotonicNow()
            upRec.append(s0 - t)
            try lab.recordEvents()
            start.append(monotonicNow() - s0)
            let s1 = monotonicNow()
            lab.stopRecordingEvents()
            stop.append(monotonicNow() - s1)
            let d0 = monotonicNow()
            lab.down()
            downRec.append(monotonicNow() - d0)
            recording.append(monotonicNow() - t)
        }
        let p = Self.median(plain), r = Self.median(recording)
        print("events-cost nodes=\(nodes) rounds=\(rounds): up+down \(Self.ms(p)) plain, \(Self.ms(r)) recording "
              + "(+\(Self.ms(r - p)), +\(String(format: "%.0f", (r - p) / p * 100)) %); recordEvents() \(Self.ms(Self.median(start))), "
              + "stop \(Self.ms(Self.median(stop))); up \(Self.ms(Self.median(upPlain)))/\(Self.ms(Self.median(upRec))), "
              + "down \(Self.ms(Self.median(downPlain)))/\(Self.ms(Self.median(downRec))) (plain/recording)")
        #expect(plain.count == rounds)
    }

    @Test func eventLatencyAfterAChange() async throws {
        let lab = try await Lab.up(routed)
        defer { lab.down() }
        try lab.recordEvents()
        var lags: [Double] = []
        for i in 0..<200 {
            let mtu = 1300 + i
            try lab["r1"].setMTU("eth1", mtu)
            let sent = try #require(lab.changes.last).at
            let deadline = monotonicNow() + 2
            while monotonicNow() < deadline, !lab.events.contains(where: { $0.link?.mtu == UInt32(mtu) && $0.node == "r1" }) { usleep(100) }
            let e = try #require(lab.events.last { $0.link?.mtu == UInt32(mtu) && $0.node == "r1" })
            lags.append(e.at - sent)
        }
        print("events-latency: change sent → its event read: median \(Self.ms(Self.median(lags))), max \(Self.ms(lags.max()!)) over \(lags.count) MTU changes; \(lab.events.count) events recorded")
    }
}

extension Lab {
    /// Builds and tears down once, ignoring errors (a warm-up).
    static func up(topoOrNil topo: Topology) { (try? Lab.up(topo))?.down() }
}
