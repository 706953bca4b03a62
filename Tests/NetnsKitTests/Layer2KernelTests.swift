import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// Runs `bridge -j ARGS` (or `tc -j`) in a node and parses its JSON.
func toolj(_ node: Node, _ tool: String, _ args: [String]) throws -> [[String: Any]] {
    let r = try node.runBlocking([tool, "-j"] + args, timeout: 10)
    guard r.status == 0 else { throw BuilderTestFailure("\(tool) -j \(args.joined(separator: " ")) in \(node.name): \(r)") }
    return (try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [[String: Any]]) ?? []
}

/// Bridge settings, port flags, FDB entries, VXLAN settings and devices and qdisc trees, each
/// compared with the kernel's own view (`ip -d -j link`, `bridge -j`, `tc -j`).
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct Layer2KernelTests {
    private func infoData(_ node: Node, _ ifname: String) throws -> [String: Any] {
        let link = try #require(try ipj(node, ["-d", "link", "show", "dev", ifname]).first)
        return try #require((link["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])
    }

    /// A bridge whose port to `a` neither learns nor floods unknown unicast: `a` is reachable
    /// only through its static FDB entry (without it, the same topology is not).
    static func isolatedPort(fdb: Bool) -> Topology {
        Topology("l2br") {
            Switch("sw") {
                Bridge("br0", ageingTime: .seconds(10), mcastSnooping: false, forwardDelay: .seconds(4),
                       helloTime: .seconds(3), maxAge: .seconds(12), fdb: fdb ? [FDB("02:00:00:00:00:0a", port: "eth0")] : []) {
                    Port("eth0", learning: false, flood: false, mcastFlood: false, neighSuppress: true, isolated: true, hairpin: true)
                    Port("eth1")
                }
            }
            Host("a") { Address("10.9.0.1/24") }
            Host("b") { Address("10.9.0.2/24") }
            Link("a", "sw", aMAC: "02:00:00:00:00:0a")
            Link("b", "sw")
        }
    }

    @Test func bridgeSettingsPortFlagsAndFDB() throws {
        let lab = try Lab.up(Self.isolatedPort(fdb: true))
        defer { lab.down() }
        let d = try infoData(lab["sw"], "br0")
        #expect(d["ageing_time"] as? Int == 1000)
        #expect(d["forward_delay"] as? Int == 400)
        #expect(d["hello_time"] as? Int == 300)
        #expect(d["max_age"] as? Int == 1200)
        #expect(d["mcast_snooping"] as? Int == 0)
        let ports = try toolj(lab["sw"], "bridge", ["-d", "link", "show"])
        let eth0 = try #require(ports.first { $0["ifname"] as? String == "eth0" })
        let eth1 = try #require(ports.first { $0["ifname"] as? String == "eth1" })
        for (key, value) in [("learning", false), ("flood", false), ("mcast_flood", false), ("neigh_suppress", true),
                             ("isolated", true), ("hairpin", true)] {
            #expect(eth0[key] as? Bool == value, "eth0 \(key): \(eth0[key] ?? "missing")")
            #expect(eth1[key] as? Bool == !value, "eth1 keeps the default \(key)")
        }
        let fdb = try toolj(lab["sw"], "bridge", ["fdb", "show", "dev", "eth0"])
        #expect(fdb.contains { $0["mac"] as? String == "02:00:00:00:00:0a" && $0["state"] as? String == "static" }, "\(fdb)")
        // b's replies to a are unknown unicast on a port that does not flood: only the static entry delivers them.
        #expect(Layer2Probe.reachable(lab, from: "b", "10.9.0.1"))
    }

    @Test func withoutTheFDBEntryThePortIsUnreachable() throws {
        let lab = try Lab.up(Self.isolatedPort(fdb: false))
        defer { lab.down() }
        #expect(!Layer2Probe.reachable(lab, from: "b", "10.9.0.1"))
    }

    /// One VTEP, two remotes: `a` floods to both `b` and `c` through one device (head-end replication).
    @Test func vxlanDeviceWithSeveralRemotes() throws {
        let lab = try Lab.up(Topology("l2vx") {
            Switch("sw")
            for (n, me, others) in [("a", "1", ["2", "3"]), ("b", "2", ["1", "3"]), ("c", "3", ["1", "2"])] {
                Host(n) {
                    Address("10.9.0.\(me)/24")
                    VXLANDevice("vx0", vni: 100, local: "10.9.0.\(me)", remotes: others.map { "10.9.0.\($0)" }, dev: "eth0",
                                ttl: 9, tos: 0x10, learning: n != "a", udpChecksum: true, df: .set,
                                fdb: n == "a" ? [FDB("02:00:00:00:00:0b", dst: "10.9.0.2")] : [])
                    Address("192.168.9.\(me)/24", on: "vx0")
                }
                Link(Endpoint(node: n), "sw")
            }
        })
        defer { lab.down() }
        let d = try infoData(lab["a"], "vx0")
        #expect(d["ttl"] as? Int == 9)
        #expect(d["tos"] as? String == "0x10")
        #expect(d["learning"] as? Bool == false)
        #expect(d["udp_csum"] as? Bool == true)
        #expect(d["df"] as? String == "set")
        #expect(d["local"] as? String == "10.9.0.1")
        let fdb = try toolj(lab["a"], "bridge", ["fdb", "show", "dev", "vx0"])
        let zero = fdb.filter { $0["mac"] as? String == "00:00:00:00:00:00" }.compactMap { $0["dst"] as? String }
        #expect(zero.sorted() == ["10.9.0.2", "10.9.0.3"], "\(fdb)")
        #expect(fdb.contains { $0["mac"] as? String == "02:00:00:00:00:0b" && $0["dst"] as? String == "10.9.0.2" })
        #expect(Layer2Probe.reachable(lab, from: "a", "192.168.9.2"))
        #expect(Layer2Probe.reachable(lab, from: "a", "192.168.9.3"))
    }

    @Test func tunnelTTLReachesTheKernel() throws {
        let lab = try Lab.up(Topology("l2ttl") {
            Host("a") { Address("10.9.1.1/24") }
            Host("b") { Address("10.9.1.2/24") }
            Link("a", "b")
            VXLAN("vx1", between: "a", "b", vni: 7, ttl: 5, learning: false)
        })
        defer { lab.down() }
        let d = try infoData(lab["a"], "vx1")
        #expect(d["ttl"] as? Int == 5)
        #expect(d["learning"] as? Bool == false)
    }

    @Test func vxlanDeviceWithAMulticastGroup() throws {
        let lab = try Lab.up(Topology("l2grp") {
            Host("a") {
                Address("10.9.2.1/24")
                VXLANDevice("vx0", vni: 9, local: "10.9.2.1", group: "239.1.1.9", dev: "eth0", df: .inherit)
            }
            Host("b")
            Link("a", "b")
        })
        defer { lab.down() }
        let d = try infoData(lab["a"], "vx0")
        #expect(d["group"] as? String == "239.1.1.9")
        #expect(d["df"] as? String == "inherit")
        #expect(d["id"] as? Int == 9)
    }

    @Test func qdiscTree() throws {
        let lab = try Lab.up(Topology("l2tc") {
            Host("a") {
                Qdisc(.htb(defaultClass: 16, classes: [.init(id: 1, rate: .mbit(10)), .init(id: 16, rate: .mbit(5), parent: 1)]))
                Qdisc(.tbf(rate: .mbit(1), burst: 32 * 1024, limit: .bytes(3000)), handle: 16, parent: "1:10")
            }
            Host("b")
            Link("a", "b")
        })
        defer { lab.down() }
        let qdiscs = try toolj(lab["a"], "tc", ["qdisc", "show", "dev", "eth0"])
        let htb = try #require(qdiscs.first { $0["kind"] as? String == "htb" })
        #expect(htb["handle"] as? String == "1:" && htb["root"] as? Bool == true)
        #expect((htb["options"] as? [String: Any])?["default"] as? String == "0x10")
        let tbf = try #require(qdiscs.first { $0["kind"] as? String == "tbf" }, "\(qdiscs)")
        #expect(tbf["handle"] as? String == "10:" && tbf["parent"] as? String == "1:10")
        #expect((tbf["options"] as? [String: Any])?["burst"] as? Int == 32 * 1024)
        // This iproute2 prints HTB classes as text even with -j.
        let classes = try lab["a"].runBlocking(["tc", "class", "show", "dev", "eth0"], timeout: 10).output
        #expect(classes.contains("class htb 1:10 parent 1:1 leaf 10:"), "\(classes)")
        #expect(classes.contains("class htb 1:1 root rate 10Mbit"), "\(classes)")
    }

    /// The 6.18 host has no VLAN filtering: this runs under the 6.1 kernel (`nslab vm`).
    @Test(.kernelHasBridgeVLANFiltering) func vlanDefaultPvid() throws {
        let lab = try Lab.up(Topology("l2pvid") {
            Switch("sw") {
                Bridge("br0", vlanFiltering: true, vlanDefaultPvid: 20, fdb: [FDB("02:00:00:00:00:14", port: "eth0", vlan: 20)]) {
                    Port("eth0"); Port("eth1", pvid: 30)
                }
            }
            Host("a")
            Host("b")
            Link("a", "sw")
            Link("b", "sw")
        })
        defer { lab.down() }
        #expect(try infoData(lab["sw"], "br0")["vlan_default_pvid"] as? Int == 20)
        let vlans = try toolj(lab["sw"], "bridge", ["vlan", "show"])
        func pvid(_ port: String) -> Int? {
            let entry = vlans.first { $0["ifname"] as? String == port }
            let list = entry?["vlans"] as? [[String: Any]] ?? []
            return list.first { ($0["flags"] as? [String])?.contains("PVID") == true }?["vlan"] as? Int
        }
        #expect(pvid("eth0") == 20, "\(vlans)")
        #expect(pvid("eth1") == 30, "\(vlans)")
        let fdb = try toolj(lab["sw"], "bridge", ["fdb", "show", "dev", "eth0"])
        #expect(fdb.contains { $0["mac"] as? String == "02:00:00:00:00:14" && $0["vlan"] as? Int == 20 }, "\(fdb)")
    }
}

enum Layer2Probe {
    /// Whether one ping from `node` to `address` is answered within 3 s (the first ARP of a fresh VXLAN can be lost).
    static func reachable(_ lab: Lab, from node: String, _ address: String) -> Bool {
        (try? lab[node].runBlocking(["ping", "-c", "1", "-W", "1", "-w", "3", address], timeout: 10).status) == 0
    }
}
