import NetnsModel
import Testing

/// What a plan needs from the kernel (`Plan.kernelFeatures`) and the config options of each
/// feature (`KernelFeature.configOptions`), as `nslab kconfig` prints them.
@Suite struct KernelFeatureTests {
    func options(_ topology: Topology) throws -> [String] {
        KernelFeature.configOptions(of: try topology.plan().kernelFeatures)
    }

    @Test func vxlanTBFAndFirewall() throws {
        let topology = Topology("kc") {
            Host("v1") {
                Address("10.0.0.1/24")
                Qdisc(.tbf(rate: .mbit(10), burst: 32_000, limit: .bytes(100_000)), on: "eth0")
                Firewall("table inet f { chain input { type filter hook input priority 0; }; }")
            }
            Host("v2") { Address("10.0.0.2/24") }
            Link("v1:eth0", "v2:eth0")
            VXLAN("vx0", between: "v1", "v2", vni: 7, aUnderlay: "10.0.0.1", bUnderlay: "10.0.0.2",
                  aAddress: "10.9.0.1/24", bAddress: "10.9.0.2/24")
        }
        let features = try topology.plan().kernelFeatures
        #expect(features == [.networkNamespaces, .ipv4, .veth, .vxlan, .tbf, .nftables], "\(features.sorted())")
        let lines = try options(topology)
        for option in ["CONFIG_VXLAN", "CONFIG_NET_SCH_TBF", "CONFIG_NF_TABLES", "CONFIG_NF_TABLES_INET", "CONFIG_NET_SCHED",
                       "CONFIG_NET_NS", "CONFIG_VETH"] {
            #expect(lines.contains(option), "\(option) missing from \(lines)")
        }
        #expect(lines == lines.sorted() && Set(lines).count == lines.count, "not sorted and unique: \(lines)")
    }

    /// Two hosts on a veth: namespaces, IPv4, veth, nothing else.
    @Test func minimal() throws {
        let topology = Topology("min") {
            Host("a") { Address("10.0.0.1/24") }
            Host("b") { Address("10.0.0.2/24") }
            Link("a:eth0", "b:eth0")
        }
        #expect(try options(topology) == ["CONFIG_INET", "CONFIG_NET_NS", "CONFIG_VETH"])
    }

    @Test func routingAndIPv6() throws {
        let topology = Topology("rt") {
            Host("a") {
                Address("10.0.0.1/24")
                Address("fd00::1/64")
                Route("10.9.0.0/16", nexthops: [Nexthop(via: "10.0.0.2"), Nexthop(via: "10.0.0.3")])
                Rule(priority: 100, from: "fd00::/64", table: 100)
                Route(.default, via: "fd00::2", table: 100)
            }
            Switch("sw") { Bridge("br0", vlanFiltering: true) { BridgePort("eth0", pvid: 10) } }
            Host("b") { Address("10.0.0.2/24"); Address("fd00::2/64") }
            Host("c") { Address("10.0.0.3/24"); Dummy("lo1"); VLAN(10, on: "eth0") }
            Link("a:eth0", "sw")
            Link("b:eth0", "sw")
            Link("c:eth0", "sw")
        }
        let features = try topology.plan().kernelFeatures
        #expect(features.isSuperset(of: [.ipv6, .ipv4Multipath, .ipv6PolicyRouting, .bridge, .bridgeVLANFiltering,
                                         .dummy, .vlan]), "\(features.sorted())")
        // No IPv4 rule and no IPv4 route outside main: no IPv4 policy routing.
        #expect(!features.contains(.ipv4PolicyRouting), "\(features.sorted())")
        let lines = try options(topology)
        for option in ["CONFIG_IPV6", "CONFIG_IPV6_MULTIPLE_TABLES", "CONFIG_IP_ROUTE_MULTIPATH", "CONFIG_IP_ADVANCED_ROUTER",
                       "CONFIG_BRIDGE_VLAN_FILTERING", "CONFIG_VLAN_8021Q", "CONFIG_DUMMY"] {
            #expect(lines.contains(option), "\(option) missing from \(lines)")
        }
        #expect(!lines.contains("CONFIG_IP_MULTIPLE_TABLES"), "\(lines)")
    }

    /// An IPv4 route in another table needs multiple tables even without a rule (without them the
    /// kernel files it under main); a router needs IPv6 (it writes net.ipv6.conf.all.forwarding).
    @Test func otherTableAndRouter() throws {
        let topology = Topology("t") {
            Host("a") { Address("10.0.0.1/24"); Route(.default, via: "10.0.0.2", table: 100) }
            Router("r") { Address("10.0.0.2/24") }
            Link("a:eth0", "r:eth0")
        }
        let features = try topology.plan().kernelFeatures
        #expect(features.contains(.ipv4PolicyRouting) && features.contains(.ipv6), "\(features.sorted())")
    }

    /// IP tunnels over an IPv6 underlay become their IPv6 kinds.
    @Test(arguments: [
        (Tunnel.Kind.gre, false, KernelFeature.gre), (.gre, true, .ip6gre), (.gretap, false, .gretap), (.gretap, true, .ip6gretap),
        (.ipip, false, .ipip), (.sit, false, .sit), (.ip6tnl, true, .ip6tnl),
        (.vxlan(vni: 1), true, .vxlan),
    ])
    func tunnels(kind: Tunnel.Kind, v6: Bool, feature: KernelFeature) throws {
        let (ua, ub) = v6 ? ("fd00::1", "fd00::2") : ("10.0.0.1", "10.0.0.2")
        let topology = Topology("tun") {
            Host("a") { Address("\(ua)/\(v6 ? 64 : 24)") }
            Host("b") { Address("\(ub)/\(v6 ? 64 : 24)") }
            Link("a:eth0", "b:eth0")
            Tunnel("t0", kind, between: "a", "b", aUnderlay: ua, bUnderlay: ub)
        }
        let features = try topology.plan().kernelFeatures
        #expect(features.contains(feature), "\(features.sorted())")
        #expect(features.contains(.ipv6) == v6, "\(features.sorted())")
    }

    @Test func qdiscs() throws {
        for (kind, option) in [(Qdisc.Kind.netem(delay: .milliseconds(5)), "CONFIG_NET_SCH_NETEM"),
                               (.htb(defaultClass: 10, classes: [Qdisc.HTBClass(id: 10, rate: .mbit(1))]), "CONFIG_NET_SCH_HTB")] {
            let topology = Topology("q") {
                Host("a") { Address("10.0.0.1/24"); Qdisc(kind, on: "eth0") }
                Host("b") { Address("10.0.0.2/24") }
                Link("a:eth0", "b:eth0")
            }
            #expect(try options(topology).contains(option), "\(kind)")
        }
    }

    /// Every scenario `requires` name and probe name maps back to its feature.
    @Test func probeNamesRoundTrip() {
        for feature in KernelFeature.allCases {
            guard let name = feature.probeName else { continue }
            #expect(KernelFeature(probeName: name) == feature)
        }
        #expect(KernelFeature(probeName: "vxlan") == .vxlan)
        #expect(KernelFeature(probeName: "tbf") == .tbf)
        #expect(KernelFeature(probeName: "bridge VLAN filtering") == .bridgeVLANFiltering)
        #expect(KernelFeature(probeName: "toaster") == nil)
    }
}
