import Foundation
import NetnsKit
import NetnsModel
import Testing

/// The layer-3 declarations of a topology file, built and checked against the kernel's own view
/// (`ip -d -j route show table all`, `ip -j rule`, `ip -j -d addr`, sysctls read inside the node).
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct Layer3KernelTests {
    static let yaml = """
        name: layer3
        nodes:
          - name: h1
            addresses:
              - {address: 10.0.1.2/24, metric: 50}
              - {address: 10.0.9.2/24, on: eth0, noprefixroute: true}
              - {address: "2001:db8:1::2/64", nodad: false}
            sysctls:
              net.ipv4.conf.eth0.rp_filter: "2"
              net.ipv4.conf.eth0.arp_ignore: "1"
              net.ipv6.conf.eth0.hop_limit: "33"
            routes:
              - {to: 10.20.0.0/16, via: 10.0.1.1, mtu: 1400, advmss: 1360}
              - {to: 10.30.0.0/24, via: "fe80::1", dev: eth0}
              - {to: 10.0.1.99/32, dev: eth0, table: local, type: local}
              - {to: 10.0.50.255/32, dev: eth0, table: local, type: broadcast}
              - {to: 10.40.0.0/16, table: 100, type: throw}
              - {to: default, via: 10.0.1.1, table: 100}
              - {to: 127.0.0.0/8, dev: lo, table: local, type: local, absent: true}
            rules:
              - {priority: 100, tos: "0x10", table: 100}
              - {priority: 110, uidrange: "0-0", table: 100}
              - {priority: 120, ipproto: tcp, sport: "1000-2000", dport: 80, table: 100}
              - {priority: 130, goto: 200}
              - {priority: 140, fwmark: "0x64/0xff", suppressPrefixlength: 0, table: main}
              - {priority: 200, table: 100}
          - name: r1
            kind: router
            sysctls: {net.ipv4.conf.eth0.route_localnet: "1"}
        links:
          - a: h1:eth0
            b: {endpoint: r1:eth0, addresses: [10.0.1.1/24, "2001:db8:1::1/64"]}
        """

    @Test func theKernelHasWhatTheFileDeclares() throws {
        let lab = try Lab.up(try Topology.load(yaml: Self.yaml))
        defer { lab.down() }
        let h1 = lab["h1"], r1 = lab["r1"]
        // Addresses first: DAD runs only while the address is new.
        let addrs = try ipj(h1, ["-d", "addr", "show", "dev", "eth0"]).first?["addr_info"] as? [[String: Any]] ?? []
        func addr(_ local: String) -> [String: Any]? { addrs.first { $0["local"] as? String == local } }
        // Lab.up waits for DAD to finish, so the address is no longer tentative: that DAD ran
        // shows in the flag (sent without IFA_F_NODAD) and in accept_dad on its interface.
        #expect(addr("2001:db8:1::2") != nil && addr("2001:db8:1::2")?["nodad"] == nil,
                "DAD runs on the nodad: false address: \(addrs)")
        #expect(try h1.sysctl("net.ipv6.conf.eth0.accept_dad") == "1")
        #expect(addr("10.0.1.2")?["metric"] as? Int == 50)
        #expect(addr("10.0.9.2")?["noprefixroute"] as? Bool == true)
        let peer = try ipj(r1, ["-d", "addr", "show", "dev", "eth0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(peer.first { $0["local"] as? String == "2001:db8:1::1" }?["nodad"] as? Bool == true, "other addresses skip DAD: \(peer)")

        #expect(try h1.sysctl("net.ipv4.conf.eth0.rp_filter") == "2")
        #expect(try h1.sysctl("net.ipv4.conf.eth0.arp_ignore") == "1")
        #expect(try h1.sysctl("net.ipv6.conf.eth0.hop_limit") == "33")
        #expect(try h1.sysctl("net.ipv6.conf.eth0.accept_dad") == "1")
        #expect(try h1.sysctl("net.ipv6.conf.all.accept_dad") == "0")
        #expect(try h1.sysctl("net.ipv4.conf.all.arp_ignore") == "0", "only eth0 changed")
        #expect(try r1.sysctl("net.ipv4.conf.eth0.route_localnet") == "1")

        let routes = try ipj(h1, ["-d", "route", "show", "table", "all"])
        func route(_ dst: String, table: String = "main") -> [String: Any]? {
            routes.first { $0["dst"] as? String == dst && $0["table"] as? String == table }
        }
        let metrics = (route("10.20.0.0/16")?["metrics"] as? [[String: Any]])?.first
        #expect(metrics?["mtu"] as? Int == 1400 && metrics?["advmss"] as? Int == 1360, "\(String(describing: route("10.20.0.0/16")))")
        let via = route("10.30.0.0/24")?["via"] as? [String: Any]
        #expect(via?["family"] as? String == "inet6" && via?["host"] as? String == "fe80::1")
        #expect(route("10.0.1.99", table: "local")?["type"] as? String == "local")
        #expect(route("10.0.50.255", table: "local")?["type"] as? String == "broadcast")
        #expect(route("10.40.0.0/16", table: "100")?["type"] as? String == "throw")
        #expect(route("10.0.1.0/24")?["metric"] as? Int == 50)
        #expect(route("10.0.9.0/24") == nil, "noprefixroute")
        #expect(route("127.0.0.0/8", table: "local") == nil, "the absent route is removed")
        #expect(route("127.0.0.1", table: "local") != nil, "and only that one")

        let rules = try ipj(h1, ["rule"])
        func rule(_ p: Int) -> [String: Any] { rules.first { $0["priority"] as? Int == p } ?? [:] }
        #expect(rule(100)["tos"] as? String == "0x10")
        // uid 0: rootless (a user namespace mapping only root) the kernel refuses unmapped uids.
        #expect(rule(110)["uid_start"] as? Int == 0 && rule(110)["uid_end"] as? Int == 0, "\(rule(110))")
        #expect(rule(120)["ipproto"] as? String == "tcp")
        #expect(rule(120)["sport_start"] as? Int == 1000 && rule(120)["sport_end"] as? Int == 2000)
        #expect(rule(120)["dport"] as? Int == 80)
        #expect(rule(130)["goto"] as? Int == 200)
        #expect(rule(140)["fwmark"] as? String == "0x64" && rule(140)["fwmask"] as? String == "0xff")
        #expect(rule(140)["suppress_prefixlen"] as? Int == 0)
    }

    /// An l3mdev rule needs CONFIG_NET_L3_MASTER_DEV, which VRF selects: this runs under the
    /// kernel-matrix kernel (the host kernel has no VRF).
    @Test(.kernelHas(linkKind: "vrf")) func anL3mdevRuleReachesTheKernel() throws {
        let lab = try Lab.up(Topology("l3mdev") { Host("h1") { Rule(priority: 1000, l3mdev: true) } })
        defer { lab.down() }
        let rule = try ipj(lab["h1"], ["rule"]).first { $0["priority"] as? Int == 1000 } ?? [:]
        // `ip -j rule` prints the flag as `"l3mdev": null`.
        #expect(rule.keys.contains("l3mdev"), "\(rule)")
        #expect(rule["table"] == nil, "the table comes from the VRF: \(rule)")
    }

    /// A per-interface sysctl the kernel does not have fails the build at that sysctl's declaration.
    @Test func aMissingInterfaceSysctlNamesItsDeclaration() throws {
        let t = Topology("l3bad") {
            Host("h1") { Sysctl("net.ipv4.conf.eth0.no_such_knob", "1") }
            Host("h2")
            Link("h1", "h2")
        }
        do {
            let lab = try Lab.up(t)
            lab.down()
            Issue.record("the build succeeded")
        } catch let e as BuildError {
            #expect("\(e)".contains("no_such_knob") && "\(e)".contains("Layer3KernelTests.swift"), "\(e)")
        }
    }
}
