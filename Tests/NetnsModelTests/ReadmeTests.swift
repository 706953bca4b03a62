import NetnsModel
import Testing

/// The README's declarations compile and validate as shown.
@Test func readmeDeclarationsValidate() throws {
    let routed = Topology("routed") {
        Host("h1") { Address("10.0.1.2/24"); Route(.default, via: "10.0.1.1") }
        Router("r1")
        Host("h2") { Address("10.0.2.2/24"); Route(.default, via: "10.0.2.1") }
        Link("h1:eth0", "r1:eth0", bAddress: "10.0.1.1/24")
        Link("r1:eth1", "h2:eth0", aAddress: "10.0.2.1/24")
    }
    #expect(routed.validate().isEmpty)
    let star = Topology("star") {
        Switch("sw")
        for i in 1...200 {
            Host("h\(i)") { Address("10.1.\(i / 256).\(i % 256)/16") }
            Link("h\(i)", "sw")
        }
    }
    #expect(star.validate().isEmpty)
    let blocks = Topology("blocks") {
        Switch("sw") { Bridge("br0", vlanFiltering: true) { BridgePort("eth0", pvid: 10) } }
        Host("h1") {
            Address("10.0.1.2/24")
            Macvlan("mv0", on: "eth0")
            Dummy("lo1")
            Route("10.66.0.0/16", type: .blackhole)
            Route("10.9.0.0/16", nexthops: [Nexthop(via: "10.0.1.1", weight: 2), Nexthop(via: "10.0.1.3")])
            Rule(priority: 100, from: "10.0.1.0/24", table: 100)
            Route(.default, via: "10.0.1.1", table: 100)
            Sysctl("net.ipv4.conf.all.rp_filter", "0")
            Qdisc(.tbf(rate: .mbit(10), burst: 32_000, limit: .bytes(100_000)), on: "eth0")
            Neighbor("10.0.1.1", mac: "02:00:00:00:01:01")
            Firewall("table inet f { chain input { type filter hook input priority 0; }; }")
        }
        Host("h2") { Address("10.0.1.1/24"); VLAN(10, on: "eth0") }
        Host("h3") { Address("10.0.1.3/24") }
        Link("h1:eth0", "sw")
        Link("h2:eth0", "sw")
        Link("h3:eth0", "sw")
    }
    #expect(blocks.validate().isEmpty, "\(blocks.validate())")
}
