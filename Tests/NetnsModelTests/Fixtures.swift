import NetnsModel

/// Topologies shared by the tests.
enum Fixtures {
    /// Two hosts routed through one router; names are generated for the second link.
    static let routed = Topology("routed") {
        Host("h1") {
            Address("10.0.1.2/24", on: "eth0")
            Address("2001:db8:1::2/64", on: "eth0")
            Route(.default, via: "10.0.1.1")
            Route(.default, via: "2001:db8:1::1")
        }
        Router("r1") { Sysctl("net.ipv4.conf.all.rp_filter", "0") }
        Host("h2") {
            Address("10.0.2.2/24")
            Route(.default, via: "10.0.2.1")
        }
        Link("h1:eth0", "r1:eth0", bAddresses: ["10.0.1.1/24", "2001:db8:1::1/64"])
        Link("r1", "h2", mtu: 9000, aAddress: "10.0.2.1/24")
    }

    /// A switch with `count` hosts on one subnet.
    static func star(_ count: Int) -> Topology {
        Topology("star") {
            Switch("sw")
            for i in 1...count {
                Host("h\(i)") { Address("10.0.\(i / 250).\(i % 250 + 1)/16") }
                Link("h\(i)", "sw")
            }
        }
    }

    /// Policy routing, multipath, a blackhole, a qdisc and a neighbour.
    static let policy = Topology("policy") {
        Host("h1") {
            Address("10.0.1.2/24", on: "eth0")
            Address("10.0.2.2/24", on: "eth1")
            Route("10.9.0.0/16", nexthops: [Nexthop(via: "10.0.1.1", weight: 2), Nexthop(via: "10.0.2.1")])
            Route(.default, via: "10.0.2.1", table: 100)
            Route("10.66.0.0/16", type: .blackhole)
            Rule(priority: 100, from: "10.0.2.0/24", table: 100)
            Rule(priority: 200, fwmark: 0x1, fwmask: 0xff, action: .prohibit)
            Neighbor("10.0.1.1", mac: "02:00:00:00:01:01", on: "eth0")
            Qdisc(.tbf(rate: Rate("10mbit")!, burst: 32000, limit: .latency(.milliseconds(50))), on: "eth0")
            Qdisc(.netem(delay: .milliseconds(10), jitter: .milliseconds(2), loss: 1), on: "eth1")
        }
        Router("r1")
        Link("h1:eth0", "r1:eth0", bAddress: "10.0.1.1/24")
        Link("h1:eth1", "r1:eth1", bAddress: "10.0.2.1/24")
    }

    /// An L2 overlay: a VXLAN between two hosts over a routed underlay, bridged on both ends.
    static let overlay = Topology("overlay") {
        Host("a") {
            Address("192.168.1.2/24")
            Route(.default, via: "192.168.1.1")
            Bridge("br0", addresses: ["10.10.0.1/24"])
        }
        Router("r")
        Host("b") {
            Address("192.168.2.2/24")
            Route(.default, via: "192.168.2.1")
            Bridge("br0", addresses: ["10.10.0.2/24"]) { Port("vx0") }
        }
        Link("a", "r", bAddress: "192.168.1.1/24")
        Link("r", "b", aAddress: "192.168.2.1/24")
        VXLAN("vx0", between: "a", "b", vni: 42, aMaster: "br0")
    }
}

extension Fixtures {
    /// Every kind of interface: VLAN-filtering bridge, macvlan, VLAN, dummy and GRE.
    static let interfaces = Topology("interfaces") {
        Host("h1") {
            Dummy("d0")
            VLAN(10, on: "eth0")
            Macvlan("mv0", on: "eth0", mode: .private)
            Address("192.0.2.1/32", on: "d0")
            Address("10.10.0.1/24", on: "eth0.10")
        }
        Switch("sw") {
            Bridge("br0", vlanFiltering: true) {
                Port("eth0", pvid: 10)
                Port("eth1", vlans: [10, 20])
            }
        }
        Host("h2") { VLAN(10, on: "eth0"); Address("10.10.0.2/24", on: "eth0.10") }
        Link("h1", "sw", aAddress: "10.0.0.1/24")
        Link("sw", "h2", bAddress: "10.0.0.2/24")
        Tunnel("gre1", .gre, between: "h1", "h2", aAddress: "10.20.0.1/30", bAddress: "10.20.0.2/30", ttl: 64)
    }
}
