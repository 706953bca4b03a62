import Foundation
import NetnsModel
import Testing

/// Bridge settings, port flags, FDB entries, VXLAN settings and devices, qdisc trees: one
/// topology that uses each of them, its plan, its files and the checks of bad values.
enum Layer2Fixture {
    static let topology = Topology("layer2") {
        Switch("sw") {
            Bridge("br0", ageingTime: .seconds(10), mcastSnooping: false, forwardDelay: .seconds(4),
                   helloTime: .seconds(3), maxAge: .seconds(12),
                   fdb: [FDB("02:00:00:00:00:0a", port: "eth0")]) {
                Port("eth0", learning: false, flood: false, mcastFlood: false, neighSuppress: true, isolated: true, hairpin: true)
                Port("eth1")
            }
        }
        Host("a") {
            Address("10.9.0.1/24")
            VXLANDevice("vx0", vni: 100, local: "10.9.0.1", remotes: ["10.9.0.2", "10.9.0.3"], dev: "eth0", ttl: 9,
                        learning: false, fdb: [FDB("02:00:00:00:00:0b", dst: "10.9.0.2")])
            Address("192.168.9.1/24", on: "vx0")
            Qdisc(.htb(defaultClass: 16, classes: [.init(id: 1, rate: .mbit(10)), .init(id: 16, rate: .mbit(5), parent: 1)]))
            Qdisc(.tbf(rate: .mbit(1), burst: 32 * 1024, limit: .bytes(3000)), handle: 16, parent: "1:10")
        }
        Host("b") { Address("10.9.0.2/24"); Address("10.9.1.1/24", on: "eth1") }
        Host("c") { Address("10.9.1.2/24") }
        Link("a", "sw")
        Link("b", "sw")
        Link("c", "b")
        VXLAN("vx1", between: "b", "c", vni: 7, aUnderlay: "10.9.1.1", bUnderlay: "10.9.1.2", ttl: 5, tos: 0x10,
              learning: false, udpChecksum: true, df: .set)
    }
}

@Suite struct Layer2PlanTests {
    @Test func everyNewOperationPrintsLikeItsCommand() throws {
        let text = try Layer2Fixture.topology.plan().description
        for line in [
            "ip -n sw link add br0 type bridge stp_state 0 vlan_filtering 0 ageing_time 1000 forward_delay 400 hello_time 300 max_age 1200 mcast_snooping 0",
            "bridge -n sw link set dev eth0 learning off flood off mcast_flood off neigh_suppress on isolated on hairpin on",
            "bridge -n sw fdb add 02:00:00:00:00:0a dev eth0 master static",
            "ip -n a link add vx0 type vxlan id 100 local 10.9.0.1 dstport 4789 dev eth0 ttl 9 nolearning",
            "bridge -n a fdb append 00:00:00:00:00:00 dev vx0 dst 10.9.0.2 self permanent",
            "bridge -n a fdb append 00:00:00:00:00:00 dev vx0 dst 10.9.0.3 self permanent",
            "bridge -n a fdb append 02:00:00:00:00:0b dev vx0 dst 10.9.0.2 self permanent",
            "ip -n b link add vx1 type vxlan id 7 local 10.9.1.1 remote 10.9.1.2 dstport 4789 dev eth1 ttl 5 tos 0x10 nolearning udpcsum df set",
            "tc -n a qdisc add dev eth0 root handle 1: htb default 10 && tc -n a class add dev eth0 parent 1: classid 1:1 htb rate 10mbit ceil 10mbit && tc -n a class add dev eth0 parent 1:1 classid 1:10 htb rate 5mbit ceil 5mbit",
            "tc -n a qdisc add dev eth0 parent 1:10 handle 10: tbf rate 1mbit burst 32768 limit 3000",
        ] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "missing: \(line)\n\(text)")
        }
    }

    @Test func bridgeVLANSettingsPrint() throws {
        let topo = Topology("trunk") {
            Switch("sw") { Bridge("br0", vlanFiltering: true, vlanDefaultPvid: 0) { Port("eth0", pvid: 10, vlans: [20]) } }
            Host("h")
            Link("h", "sw")
        }
        let text = try topo.plan().description
        #expect(text.contains("ip -n sw link add br0 type bridge stp_state 0 vlan_filtering 1 vlan_default_pvid 0"), "\(text)")
        #expect(text.contains("bridge -n sw vlan add dev eth0 vid 10 pvid untagged && bridge -n sw vlan add dev eth0 vid 20"))
    }

    @Test func childQdiscsComeAfterTheirParents() throws {
        let topo = Topology("q") {
            Host("a") {
                Qdisc(.tbf(rate: .mbit(1), burst: 1600, limit: .bytes(3000)), handle: 2, parent: "1:1")
                Qdisc(.htb(defaultClass: 1, classes: [.init(id: 1, rate: .mbit(1))]))
            }
            Host("b")
            Link("a", "b")
        }
        let qdiscs = try topo.plan().steps.compactMap { s -> UInt16? in
            if case .addQdisc(_, _, let handle, _) = s.operation { return handle } else { return nil }
        }
        #expect(qdiscs == [1, 2])
    }
}

@Suite struct Layer2FileTests {
    @Test func yamlJSONAndExportAgreeWithTheDSL() throws {
        let topo = Layer2Fixture.topology
        let fromYAML = try Topology.load(yaml: topo.yaml())
        #expect(fromYAML == topo)
        #expect(fromYAML.yaml() == topo.yaml())
        #expect(try Topology.load(json: topo.json()) == topo)
        // == ignores provenance, not values: check the new values survived one by one.
        let br = try #require(fromYAML[node: "sw"]?.bridges.first)
        #expect(br.ageingTime == .seconds(10) && br.mcastSnooping == false && br.maxAge == .seconds(12))
        #expect(br.ports[0].isolated == true && br.ports[0].hairpin == true && br.fdb.first?.port == "eth0")
        let vx = try #require(fromYAML[node: "a"]?.vxlans.first)
        #expect(vx.remotes.map(\.description) == ["10.9.0.2", "10.9.0.3"] && vx.ttl == 9 && vx.settings.learning == false)
        #expect(fromYAML.tunnels[0].vxlan == VXLANSettings(tos: 0x10, learning: false, udpChecksum: true, df: .set))
        #expect(fromYAML[node: "a"]?.qdiscs[1].parent == TCHandle(major: 1, minor: 16))
    }

    @Test func readsTheHandWrittenKeys() throws {
        let topo = try Topology.load(yaml: """
            name: hand
            nodes:
              - name: sw
                kind: switch
                bridges:
                  - name: br0
                    ageingTime: 30
                    helloTime: 1500ms
                    mcastSnooping: false
                    vlanFiltering: true
                    vlanDefaultPvid: 1
                    ports: [{name: eth0, learning: false, flood: false, mcastFlood: false, neighSuppress: true, isolated: true, hairpin: true}]
                    fdb: [{mac: "02:00:00:00:00:01", port: eth0, vlan: 1}]
              - name: h
                vxlans:
                  - {name: vx0, vni: 5, local: 10.0.0.1, group: 239.1.1.1, dev: eth0, tos: 16, udpChecksum: true, df: inherit}
                qdiscs:
                  - {on: eth0, htb: {default: 1, classes: [{id: 1, rate: 1Mibit}]}}
                  - {on: eth0, parent: "1:1", handle: "1a:", tbf: {rate: 10kbps, burst: 128K, limit: 1mb}}
            links: [{a: h, b: sw}]
            """)
        let b = try #require(topo[node: "sw"]?.bridges.first)
        #expect(b.ageingTime == .seconds(30) && b.helloTime == .milliseconds(1500) && b.vlanDefaultPvid == 1)
        #expect(b.options.ageingTime == 3000 && b.options.helloTime == 150)
        let q = try #require(topo[node: "h"]?.qdiscs)
        #expect(q[1].kind == .tbf(rate: Rate(bitsPerSecond: 80_000), burst: 131_072, limit: .bytes(1_048_576)))
        #expect(q[1].handle == 0x1a)
        if case .htb(_, let classes) = q[0].kind { #expect(classes[0].rate.bitsPerSecond == 1_048_576) }
        #expect(topo[node: "h"]?.vxlans.first?.settings.df == .inherit)
        #expect(topo.validate().isEmpty, "\(topo.validate())")
    }

    @Test(arguments: [
        ("bridges: [{name: br0, ageingTime: \"300\"}]", "not a time"),
        ("vxlans: [{name: vx0, vni: 5, df: maybe}]", "expected one of: unset, set, inherit"),
        ("qdiscs: [{tbf: {rate: 1mbit, burst: 12Q, limit: 3000}}]", "not a size"),
        ("qdiscs: [{parent: \"x:1\", tbf: {rate: 1mbit, burst: 1600, limit: 3000}}]", "not a parent"),
        ("qdiscs: [{handle: \"1:2\", tbf: {rate: 1mbit, burst: 1600, limit: 3000}}]", "not a handle"),
        ("bridges: [{name: br0, ports: [{name: eth0, learnin: false}]}]", "did you mean \"learning\""),
    ]) func refusesBadValuesWithTheAllowedOnes(_ body: String, _ message: String) {
        let yaml = "name: t\nnodes:\n  - name: h\n    " + body + "\n"
        #expect { try Topology.load(yaml: yaml) } throws: { "\($0)".contains(message) }
    }
}

@Suite struct Layer2ValidationTests {
    private func issues(_ topo: Topology) -> [String] { topo.validate().map { "\($0.code) \($0.path): \($0.message)" } }

    @Test func theFixtureIsValid() {
        #expect(issues(Layer2Fixture.topology) == [])
    }

    @Test func bridgeValuesTheKernelRefuses() {
        let topo = Topology("t") {
            Switch("sw") {
                Bridge("br0", vlanDefaultPvid: 5, helloTime: .milliseconds(500), maxAge: .seconds(41),
                       fdb: [FDB("02:00:00:00:00:01"), FDB("02:00:00:00:00:02", port: "eth9"),
                             FDB("02:00:00:00:00:03", port: "eth0", vlan: 7), FDB("02:00:00:00:00:04", port: "eth0", dst: "10.0.0.1"),
                             FDB("00:00:00:00:00:00", port: "eth0"), FDB("02:00:00:00:00:05", port: "eth0"),
                             FDB("02:00:00:00:00:05", port: "eth0")])
                Bridge("br1", vlanFiltering: true, vlanDefaultPvid: 4095)
                Macvlan("mv0", on: "eth0")
            }
            Host("h")
            Link("h", "sw")
        }
        let found = issues(topo)
        for expected in [
            "invalidBridgeSetting nodes[0].bridges[0].helloTime: helloTime 500ms",
            "invalidBridgeSetting nodes[0].bridges[0].maxAge: maxAge 41s",
            "invalidVLANID nodes[0].bridges[0].vlanDefaultPvid: bridge br0 has vlanDefaultPvid but does not filter VLANs",
            "invalidVLANID nodes[0].bridges[1].vlanDefaultPvid: vlanDefaultPvid 4095",
            "invalidFDBEntry nodes[0].bridges[0].fdb[0]: fdb entry 02:00:00:00:00:01 on bridge br0 has no port",
            "unknownInterface nodes[0].bridges[0].fdb[1].port",
            "invalidFDBEntry nodes[0].bridges[0].fdb[2].vlan: fdb entry 02:00:00:00:00:03 has vlan 7 but bridge br0 does not filter VLANs",
            "invalidFDBEntry nodes[0].bridges[0].fdb[3].dst",
            "invalidMacvlan nodes[0].macvlans[0].parent: macvlan mv0 is on eth0, a port of bridge br0",
            "invalidFDBEntry nodes[0].bridges[0].fdb[4].mac: fdb entry 00:00:00:00:00:00 on bridge br0: the kernel refuses",
            "invalidFDBEntry nodes[0].bridges[0].fdb[6]: fdb entry 02:00:00:00:00:05 is declared twice",
        ] {
            #expect(found.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(found)")
        }
        #expect(found.count == 11, "\(found)")
    }

    @Test func vxlanDevicesTheKernelRefuses() {
        let topo = Topology("t") {
            Host("a") {
                Address("10.0.0.1/24")
                VXLANDevice("vx0", vni: 5, group: "10.0.0.9")
                VXLANDevice("vx1", vni: 5, local: "10.0.0.1", remotes: ["239.1.1.1"],
                            fdb: [FDB("02:00:00:00:00:01")])
                VXLANDevice("vx2", vni: 6, group: "239.1.1.1")
                VXLANDevice("vx3", vni: 1 << 24, local: "fd00::1", remotes: ["10.0.0.2"], dev: "nope")
            }
            Host("b")
            Link("a", "b")
            Tunnel("gre1", .gre, between: "a", "b")
        }
        var gre = topo
        gre.tunnels[0].vxlan.tos = 4
        let found = issues(gre)
        for expected in [
            "invalidTunnel nodes[0].vxlans[0].group: group 10.0.0.9 of VXLAN vx0 is not a multicast address",
            "invalidTunnel nodes[0].vxlans[1]: vx1 and vx0 in a both have VNI 5",
            "invalidTunnel nodes[0].vxlans[1].remotes[0]: remote 239.1.1.1",
            "invalidFDBEntry nodes[0].vxlans[1].fdb[0]: fdb entry 02:00:00:00:00:01 on VXLAN vx1 has no dst",
            "invalidTunnel nodes[0].vxlans[2].dev: VXLAN vx2 has a multicast group but no dev",
            "invalidTunnel nodes[0].vxlans[3].vni",
            "familyMismatch nodes[0].vxlans[3]",
            "unknownInterface nodes[0].vxlans[3].dev",
            "invalidTunnel tunnels[0]: tos, learning, udpChecksum and df are VXLAN settings",
        ] {
            #expect(found.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(found)")
        }
    }

    @Test func qdiscsInALoopAreNotUnderTheRoot() {
        let topo = Topology("t") {
            Host("a") {
                Qdisc(.htb(defaultClass: 1, classes: [.init(id: 1, rate: .mbit(1))]), handle: 2, parent: "3:1")
                Qdisc(.htb(defaultClass: 1, classes: [.init(id: 1, rate: .mbit(1))]), handle: 3, parent: "2:1")
            }
            Host("b")
            Link("a", "b")
        }
        let found = issues(topo)
        #expect(found.count == 2 && found.allSatisfy { $0.contains("is not under a root qdisc") }, "\(found)")
    }

    @Test func qdiscsTheKernelRefuses() {
        let topo = Topology("t") {
            Host("a") {
                Qdisc(.tbf(rate: Rate(bitsPerSecond: 0), burst: 0, limit: .bytes(0)))
                Qdisc(.htb(defaultClass: 1, classes: [.init(id: 1, rate: .mbit(1)), .init(id: 1, rate: Rate(bitsPerSecond: 0), parent: 9)]),
                      handle: 2, parent: "1:1")
                Qdisc(.htb(defaultClass: 1, classes: []), on: "eth1", handle: 0)
                Qdisc(.htb(defaultClass: 1, classes: []), on: "eth1", handle: 3, parent: "zz")
            }
            Host("b")
            Link("a", "b")
            Link("a", "b")
        }
        let found = issues(topo)
        for expected in [
            "invalidQdisc nodes[0].qdiscs[0].tbf.rate: tbf rate is 0",
            "invalidQdisc nodes[0].qdiscs[0].tbf.burst: tbf burst is 0",
            "invalidQdisc nodes[0].qdiscs[0].tbf.limit",
            "invalidQdisc nodes[0].qdiscs[1].htb.classes[1].id: htb class id 1 is declared twice",
            "invalidQdisc nodes[0].qdiscs[1].htb.classes[1].rate",
            "invalidQdisc nodes[0].qdiscs[1].htb.classes[1].parent",
            "invalidQdisc nodes[0].qdiscs[1].parent: parent 1:1 of the htb qdisc on eth0 is not a class",
            "invalidQdisc nodes[0].qdiscs[2].handle: qdisc handle 0: is reserved",
            "malformedValue nodes[0].qdiscs[3].parent",
        ] {
            #expect(found.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(found)")
        }
    }
}
