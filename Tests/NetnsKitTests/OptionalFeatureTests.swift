import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// Features the development kernel lacks: each test runs where the kernel has the feature and
/// is skipped, with the reason, where it does not. A separate test checks the error a build
/// gets on such a kernel.
@Suite(.netnsPrivileges) struct OptionalFeatureTests {
    func kinds(_ lab: Lab, _ node: String) throws -> [String: String] {
        let links = try ipj(lab[node], ["-d", "link", "show"])
        return Dictionary(uniqueKeysWithValues: links.compactMap { l in
            (l["ifname"] as? String).map { ($0, ((l["linkinfo"] as? [String: Any])?["info_kind"] as? String) ?? "") } })
    }

    @Test(.kernelHas(linkKind: "dummy")) func dummyInterface() throws {
        let lab = try Lab.up(Topology("dummies") {
            Host("a") { Dummy("lo1"); Address("192.0.2.1/32", on: "lo1") }
        })
        defer { lab.down() }
        #expect(try kinds(lab, "a")["lo1"] == "dummy")
    }

    @Test(.kernelHas(linkKind: "vlan")) func vlanSubInterface() throws {
        let lab = try Lab.up(Topology("vlans") {
            Host("a") { VLAN(10, on: "eth0"); Address("10.10.10.1/24", on: "eth0.10") }
            Host("b") { VLAN(10, on: "eth0"); Address("10.10.10.2/24", on: "eth0.10") }
            Link("a", "b")
        })
        defer { lab.down() }
        #expect(try kinds(lab, "a")["eth0.10"] == "vlan")
    }

    @Test(.kernelHas(linkKind: "gre")) func greTunnel() throws {
        let lab = try Lab.up(Topology("gre") {
            Host("a") { Address("10.40.0.1/24") }
            Host("b") { Address("10.40.0.2/24") }
            Link("a", "b")
            Tunnel("gre1", .gre, between: "a", "b", aUnderlay: "eth0", bUnderlay: "eth0",
                   aAddress: "10.41.0.1/30", bAddress: "10.41.0.2/30")
        })
        defer { lab.down() }
        #expect(try kinds(lab, "a")["gre1"] == "gre")
    }

    @Test(.kernelHasBridgeVLANFiltering) func bridgeWithVLANFiltering() throws {
        let lab = try Lab.up(Topology("vlanbridge") {
            Switch("sw") { Bridge("br0", vlanFiltering: true) { BridgePort("eth0", pvid: 10); BridgePort("eth1", pvid: 10) } }
            Host("a") { Address("10.50.0.1/24") }
            Host("b") { Address("10.50.0.2/24") }
            Link("a", "sw")
            Link("b", "sw")
        })
        defer { lab.down() }
        let vlans = try lab["sw"].runBlocking(["bridge", "vlan", "show"]).output
        #expect(vlans.contains("10 PVID"), "\(vlans)")
    }

    @Test(.kernelHas(qdisc: "netem")) func netemDelay() throws {
        let lab = try Lab.up(Topology("netem") {
            Host("a") { Address("10.60.0.1/24"); Qdisc(.netem(delay: .milliseconds(20)), on: "eth0") }
            Host("b") { Address("10.60.0.2/24") }
            Link("a", "b")
        })
        defer { lab.down() }
        #expect(try lab["a"].qdiscs().contains { $0.kind == "netem" })
    }

    /// Where the kernel lacks a kind, the build fails with a distinct, named error and leaves nothing.
    @Test func missingKindsGiveADistinctError() throws {
        let candidates: [(String, Topology)] = [
            ("dummy", Topology("d") { Host("a") { Dummy("d0") } }),
            ("vlan (802.1Q)", Topology("v") { Host("a") { VLAN(10, on: "eth0") }; Host("b"); Link("a", "b") }),
            ("gre", Topology("g") {
                Host("a") { Address("10.40.0.1/24") }; Host("b") { Address("10.40.0.2/24") }; Link("a", "b")
                Tunnel("gre1", .gre, between: "a", "b", aUnderlay: "eth0", bUnderlay: "eth0")
            }),
        ]
        var checked = 0
        for (feature, topo) in candidates {
            do {
                try Lab.up(topo).down()
            } catch let e as BuildError {
                #expect(e.unsupportedFeature == feature, "\(e)")
                #expect(e.description.contains("this kernel has no \(feature) support"))
                checked += 1
            }
        }
        // On a kernel that has them all there is nothing to check; this machine lacks all three.
        if checked == 0 { print("every optional kind exists on this kernel") }
    }
}

@Test(.netnsPrivileges) func kernelFeaturesProbeForReal() {
    let f = KernelFeatures.shared
    #expect(f.link("veth").supported && f.link("bridge").supported)
    let bogus = f.qdisc("nosuchqdisc")
    #expect(!bogus.supported && bogus.feature == "nosuchqdisc qdisc")
    #expect(bogus.detail?.contains("unknown") == true, "\(bogus)")
    #expect(f.probe("not-a-feature") == nil)
}
