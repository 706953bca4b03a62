import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// A real routing daemon: BIRD 2 running OSPF in three isolated routers, with its
/// configuration generated from the topology, and a link failure rerouted within a bound.
@Suite(.netnsPrivileges) struct BirdOSPFTests {
    /// r1 reaches h's network directly over r3 (cost 20) or via r2 (cost 30).
    static let triangle = Topology("ospf") {
        Router("r1", isolation: .full)
        Router("r2", isolation: .full)
        Router("r3", isolation: .full)
        Host("h") { Address("10.3.0.2/24"); Route(.default, via: "10.3.0.1") }
        Link("r1:eth0", "r2:eth0", aAddress: "10.0.12.1/24", bAddress: "10.0.12.2/24")
        Link("r2:eth1", "r3:eth0", aAddress: "10.0.23.2/24", bAddress: "10.0.23.3/24")
        Link("r1:eth1", "r3:eth1", aAddress: "10.0.13.1/24", bAddress: "10.0.13.3/24")
        Link("r3:eth2", "h:eth0", aAddress: "10.3.0.1/24")
    }

    /// A BIRD configuration for one router of the lab: its first address as router id, every
    /// interface but `lo` in area 0 (point-to-point, fast timers), OSPF routes exported to the kernel.
    static func birdConfig(for node: Node) throws -> String {
        let links = try node.links().filter { $0.name != "lo" }.sorted { $0.index < $1.index }
        let v4 = try node.addresses(.ipv4).filter { $0.scope == 0 }.sorted { $0.index < $1.index }
        let id = try #require(v4.first?.prefix.address, "\(node.name) has no IPv4 address for a router id")
        let interfaces = links.map { "    interface \"\($0.name)\" { type ptp; hello 1; dead 3; };" }.joined(separator: "\n")
        return """
        router id \(id);
        protocol device { scan time 10; }
        protocol kernel { ipv4 { export all; }; }
        protocol ospf v2 {
          ipv4 { import all; export none; };
          area 0 {
        \(interfaces)
          };
        }

        """
    }

    @Test(.timeLimit(.minutes(1))) func ospfLearnsRoutesAndReroutesAroundAFailedLink() async throws {
        guard Spawner.locate("bird", along: "/usr/sbin:/usr/bin:/sbin:/bin") != nil else {
            try Test.cancel("bird is not installed: apt-get install -y bird2")
        }
        let lab = try await Lab.up(Self.triangle)
        defer { lab.down() }
        for name in ["r1", "r2", "r3"] {
            let node = lab[name]
            let config = try Self.birdConfig(for: node)
            // /tmp and /run are the node's own: the daemons' files never meet.
            let w = try await node.run(["sh", "-c", "cat > /tmp/bird.conf"], stdin: Array(config.utf8))
            try #require(w.succeeded, "\(w)")
            _ = try node.start(["bird", "-f", "-c", "/tmp/bird.conf", "-s", "/run/bird.ctl"])
        }
        let r1 = lab["r1"]
        let h = try #require(IPAddress("10.3.0.2"))
        // BIRD exports its routes for the four networks r1 knows of (the two it is on included)
        // once OSPF has converged; then the table settles.
        try await r1.waitForRoutes(protocol: "bird", count: 4, timeout: .seconds(30))
        try await r1.waitUntilRoutesQuiet(for: .milliseconds(500), timeout: .seconds(10))
        let before = try r1.route(to: h)
        #expect(r1.interfaceName(before.outputIndex) == "eth1", "\(lab.stateDump())")
        // The lookup itself reports no protocol; the matching table entry (fibmatch) does.
        let entry = try r1.route(to: h, fibMatch: true)
        #expect(entry.proto == 12, "route to h: \(entry)")
        let first = try await ping(h, in: r1.namespace, count: 1, timeout: 2)
        #expect(first.received > 0, "\(lab.stateDump())")

        // The direct link fails: within 10 s r1's route must move to eth0 (via r2) and h must
        // answer again (the way back converges too).
        try r1.linkDown("eth1")
        let start = ContinuousClock.now
        var rerouted = false, answered = false
        while ContinuousClock.now - start < .seconds(10) && !answered {
            if !rerouted, let r = try? r1.route(to: h), r1.interfaceName(r.outputIndex) == "eth0", r.gateway == IPAddress("10.0.12.2") {
                rerouted = true
            }
            if rerouted { answered = try await ping(h, in: r1.namespace, count: 1, timeout: 0.5).received > 0 }
            else { try await Task.sleep(for: .milliseconds(50)) }
        }
        let took = ContinuousClock.now - start
        #expect(rerouted, "no reroute via r2 within 10 s:\n\(lab.stateDump())")
        #expect(answered, "h did not answer within 10 s of the failure:\n\(lab.stateDump())")
        print("OSPF rerouted around r1:eth1 in \(took)")
        #expect(lab.changes.map(\.command) == ["ip link set eth1 down"])
    }
}
