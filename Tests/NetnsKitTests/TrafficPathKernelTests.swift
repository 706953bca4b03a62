import Foundation
import NetnsKit
import NetnsModel
import NetnsTesting
import Testing

/// Link counter deltas around a check: the path taken shows on the counters, and a rerouted lab
/// fails the same expectation, naming the link and its count.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct TrafficPathKernelTests {
    @Test func theCountersShowThePathAndARerouteFails() async throws {
        let lab = try await Lab.up(Topology("paths") {
            Host("h1") { Address("10.65.1.2/24"); Route(.default, via: "10.65.1.1") }
            Router("r1") {
                Route("10.65.2.0/24", via: "10.65.12.2", metric: 10)
                Route("10.65.2.0/24", via: "10.65.21.2", metric: 20)
            }
            Router("r2") {
                Sysctl("net.ipv4.conf.all.ignore_routes_with_linkdown", "1")
                Route("10.65.1.0/24", via: "10.65.12.1", metric: 10)
                Route("10.65.1.0/24", via: "10.65.21.1", metric: 20)
            }
            Host("h2") { Address("10.65.2.2/24"); Route(.default, via: "10.65.2.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.65.1.1/24")
            Link("r1:eth1", "r2:eth0", aAddress: "10.65.12.1/24", bAddress: "10.65.12.2/24")
            Link("r1:eth2", "r2:eth1", aAddress: "10.65.21.1/24", bAddress: "10.65.21.2/24")
            Link("r2:eth2", "h2:eth0", aAddress: "10.65.2.1/24")
        })
        defer { lab.down() }
        let ping = LabExpectation.reachable(from: "h1", to: "10.65.2.2")
        let tcp = LabExpectation.transport(TransportExpectation(from: "h1", to: IPAddress("10.65.2.2")!, port: 9000, listener: true))
        // A new link carries a few stray IPv6 packets (DAD, MLD reports): the bar (4) is above them,
        // and a TCP connection crosses its path with more.
        let primary = LabExpectation.path(TrafficPathExpectation(in: "r1", through: ["eth1"], notThrough: ["eth2"], minPackets: 4, during: tcp))
        #expect(await lab.verify(primary) == nil)
        #expect(await lab.verify(.path(TrafficPathExpectation(in: "r1", through: ["eth0", "eth1"], minPackets: 2, during: ping))) == nil)
        await lab.expectThrough("r2", ["eth0", "eth2"], notThrough: ["eth1"], minPackets: 4, during: tcp)

        // The wrapped check's own failure fails it too.
        var f = await lab.verify(.path(TrafficPathExpectation(in: "r1", through: ["eth1"], during: .reachable(from: "h1", to: "10.65.9.9"))))
        #expect(f?.observed.contains("the check failed: ") == true, "\(f?.description ?? "nil")")

        // Rerouted: r1:eth1 down (its routes go; r2 ignores its route over the dead link), both
        // directions take eth2, and a down link counts nothing.
        try lab["r1"].linkDown("eth1")
        f = await lab.verify(primary)
        #expect(f?.observed.contains("eth1: expected ≥4 packets, got 0") == true, "\(f?.description ?? "nil")")
        #expect(f?.observed.contains("eth2: expected <4 packets, got") == true, "\(f?.description ?? "nil")")
        await lab.expectThrough("r1", ["eth2"], notThrough: ["eth1"], minPackets: 4, during: tcp, within: 5)
        await lab.expectThrough("r1", ["eth2"], during: ping)
    }
}
