import NetnsModel
import Testing

/// Node devices (VRF, bond, ipvlan, GENEVE, ifb, tun, tap): DSL, files, plan and validation.
@Suite struct DeviceModelTests {
    static let devices = Topology("devices") {
        Router("r") {
            VRF("blue", table: 10, members: ["eth0"])
            Bond("bond0", mode: .activeBackup, miimon: 100, primary: "eth2", ports: ["eth1", "eth2"])
            IPVLAN("iv0", on: "eth3", mode: .l3)
            GENEVE("gn0", vni: 77, remote: "10.9.0.2", ttl: 9)
            IFB("ifb0")
            Tun("tun0")
            Tap("tap0", mtu: 1400)
            Address("10.8.0.1/24", on: "bond0")
            Address("10.9.0.1/24", on: "eth3")
        }
        Host("h1") { Address("10.7.0.2/24") }
        Host("h2") { Address("10.8.0.2/24") }
        Host("h3") { Address("10.9.0.2/24") }
        Link("h1", "r:eth0", bAddress: "10.7.0.1/24")
        Link("h2:eth0", "r:eth1")
        Link("h2:eth1", "r:eth2")
        Link("h3", "r:eth3")
    }

    static let yaml = """
        name: devices
        nodes:
          - name: r
            kind: router
            addresses: [{address: 10.8.0.1/24, on: bond0}, {address: 10.9.0.1/24, on: eth3}]
            devices:
              - {name: blue, kind: vrf, table: 10, members: [eth0]}
              - {name: bond0, kind: bond, mode: active-backup, miimon: 100, primary: eth2, ports: [eth1, eth2]}
              - {name: iv0, kind: ipvlan, parent: eth3, mode: l3}
              - {name: gn0, kind: geneve, vni: 77, remote: 10.9.0.2, ttl: 9}
              - {name: ifb0, kind: ifb}
              - {name: tun0, kind: tun}
              - {name: tap0, kind: tap, mtu: 1400}
          - {name: h1, addresses: [10.7.0.2/24]}
          - {name: h2, addresses: [10.8.0.2/24]}
          - {name: h3, addresses: [10.9.0.2/24]}
        links:
          - {a: h1, b: {endpoint: "r:eth0", addresses: [10.7.0.1/24]}}
          - {a: "h2:eth0", b: "r:eth1"}
          - {a: "h2:eth1", b: "r:eth2"}
          - {a: h3, b: "r:eth3"}
        """

    @Test func theFileAndTheDSLAreOneValue() throws {
        #expect(try Topology.load(yaml: Self.yaml) == Self.devices)
    }

    @Test func yamlAndJSONRoundTrip() throws {
        let t = Self.devices
        #expect(try Topology.load(yaml: t.yaml()) == t)
        #expect(try Topology.load(json: t.json()) == t)
        #expect(try Topology.load(yaml: t.resolved().yaml()) == t.resolved())
    }

    @Test func plan() throws {
        let lines = try Self.devices.plan().steps.filter { $0.node == "r" }.map(\.description)
        let expected = [
            "ip -n r link add blue type vrf table 10",
            "ip -n r link add bond0 type bond mode active-backup miimon 100 primary eth2",
            "ip -n r link add iv0 link eth3 type ipvlan mode l3",
            "ip -n r link add gn0 type geneve id 77 remote 10.9.0.2 dstport 6081 ttl 9",
            "ip -n r link add ifb0 type ifb",
            "ip -n r tuntap add dev tun0 mode tun",
            "ip -n r tuntap add dev tap0 mode tap && ip -n r link set tap0 mtu 1400",
            "ip -n r link set eth0 master blue",
            "ip -n r link set eth1 master bond0",
            "ip -n r link set eth2 master bond0",
        ]
        for line in expected { #expect(lines.contains(line), "\(line)\nin:\n\(lines.joined(separator: "\n"))") }
        // Members join before anything is brought up or addressed (a bond refuses a port that
        // is up; a VRF drops a member's IPv6 addresses when it cycles it).
        let master = try #require(lines.firstIndex(of: "ip -n r link set eth1 master bond0"))
        let up = try #require(lines.firstIndex(of: "ip -n r link set eth1 up"))
        let address = try #require(lines.firstIndex(of: "ip -n r addr add 10.8.0.1/24 dev bond0"))
        #expect(master < up && up < address)
        let features = try Self.devices.plan().kernelFeatures
        #expect(features.isSuperset(of: [.vrf, .bond, .ipvlan, .geneve, .ifb, .tun]))
    }

    private func issues(_ t: Topology) -> [ValidationIssue] { t.validate() }

    @Test func refusals() {
        let t = Topology("bad") {
            Host("a") {
                VRF("v0", table: 254, members: ["eth0", "nope"])
                Bond("b0", mode: .balanceRR, primary: "eth1", ports: ["eth1"])
                Bond("b1", mode: .activeBackup, primary: "eth2", ports: ["eth0"])
                IPVLAN("iv0", on: "eth1")
                GENEVE("gn0", vni: 1 << 24, remote: "10.0.0.300")
            }
            Host("b")
            Link("a:eth0", "b:eth0")
            Link("a:eth1", "b:eth1")
            Link("a:eth2", "b:eth2")
        }
        let found = issues(t).map { "\($0.path): \($0.message)" }
        let expected = [
            "nodes[0].devices[0].table: VRF v0 uses table 254, which the kernel reserves",
            "nodes[0].devices[0].members[1]: unknown interface \"nope\" for VRF member in a",
            "nodes[0].devices[1].primary: bond b0 in mode balance-rr has no primary port",
            "nodes[0].devices[2].primary: primary eth2 of bond b1 is not one of its ports (eth0)",
            "nodes[0].devices[2].ports[0]: eth0 in a is already enslaved to v0; it cannot also be a bond port of b1",
            "nodes[0].devices[3].parent: ipvlan iv0 cannot sit on eth1, a port of b0",
            "nodes[0].devices[4].vni: GENEVE id 16777216 of gn0 is out of range 0…16777215",
            "nodes[0].devices[4].remote: malformed remote \"10.0.0.300\"",
        ]
        for e in expected { #expect(found.contains { $0.hasPrefix(e) }, "\(e)\nin:\n\(found.joined(separator: "\n"))") }
        #expect(found.count == expected.count, "\(found.joined(separator: "\n"))")
    }

    /// Until keys and peers can be configured, a WireGuard tunnel is refused up front rather
    /// than half built.
    @Test func wireGuardIsRefusedUntilItWorks() {
        let t = Topology("wg") {
            Host("a") { Address("10.0.0.1/24") }
            Host("b") { Address("10.0.0.2/24") }
            Link("a", "b")
            WireGuard("wg0", between: "a", "b", aAddress: "10.30.0.1/24", bAddress: "10.30.0.2/24")
        }
        let found = issues(t)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == "tunnels[0]")
        #expect(found.first?.message.contains("WireGuard tunnel wg0 is not supported yet") == true, "\(found)")
    }

    /// A link end cannot name a VRF or bond as its master: the hint points at the device's list.
    @Test func aLinkEndMasterThatIsABondPointsAtItsPorts() {
        let t = Topology("m") {
            Host("a") { Bond("bond0", ports: []) }
            Host("b")
            Link("a", "b", aMaster: "bond0")
        }
        let found = issues(t)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.message == "master \"bond0\" in a is a bond, not a bridge")
        #expect(found.first?.hint == "list the interface in the bond's ports instead")
    }

    @Test func aValidTopologyHasNoIssues() {
        #expect(issues(Self.devices).isEmpty)
    }

    @Test(arguments: [
        ("{name: x, kind: vfr, table: 1}", "unknown device kind \"vfr\" (expected one of: vrf, bond, ipvlan, geneve, ifb, tun, tap); did you mean \"vrf\"?"),
        ("{name: x, kind: bond, mode: active}", "unknown bond mode \"active\" (expected one of: balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb)"),
        ("{name: x, kind: ipvlan, parent: eth0, mode: l4}", "unknown ipvlan mode \"l4\" (expected one of: l2, l3, l3s)"),
        ("{name: x, kind: ifb, table: 3}", "unknown key \"table\""),
        ("{name: x, kind: vrf}", "table"),
    ])
    func fileErrorsNameTheKeyAndTheChoices(_ device: String, _ message: String) {
        let yaml = "name: t\nnodes:\n  - name: a\n    devices: [\(device)]\n"
        do {
            _ = try Topology.load(yaml: yaml)
            Issue.record("no error for \(device)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains("devices"), "\(error)")
        }
    }
}
