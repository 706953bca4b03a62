import NetnsModel
import Testing

/// The full printed plans of the fixtures, compared line by line.
@Suite struct PlanTests {
    @Test func routedPlan() throws {
        let plan = try Fixtures.routed.plan()
        expectLines(plan.description, """
            ip netns add h1
            ip netns add r1
            ip netns add h2
            ip -n h1 link set lo up
            ip -n r1 link set lo up
            ip netns exec r1 sysctl -w net.ipv4.conf.all.rp_filter=0
            ip netns exec r1 sysctl -w net.ipv4.ip_forward=1
            ip netns exec r1 sysctl -w net.ipv6.conf.all.forwarding=1
            ip -n h2 link set lo up
            ip -n h1 link add eth0 alias "r1:eth0" type veth peer name eth0 netns r1 alias "h1:eth0"
            ip -n r1 link add eth1 mtu 9000 alias "h2:eth0" type veth peer name eth0 netns h2 mtu 9000 alias "r1:eth1"
            ip -n h1 link set eth0 up
            ip -n r1 link set eth0 up
            ip -n r1 link set eth1 up
            ip -n h2 link set eth0 up
            ip -n h1 addr add 10.0.1.2/24 dev eth0
            ip -n h1 addr add 2001:db8:1::2/64 dev eth0 nodad
            ip -n r1 addr add 10.0.1.1/24 dev eth0
            ip -n r1 addr add 2001:db8:1::1/64 dev eth0 nodad
            ip -n r1 addr add 10.0.2.1/24 dev eth1
            ip -n h2 addr add 10.0.2.2/24 dev eth0
            ip -n h1 route add default via 10.0.1.1 dev eth0
            ip -6 -n h1 route add default via 2001:db8:1::1 dev eth0
            ip -n h2 route add default via 10.0.2.1 dev eth0
            """)
    }

    @Test func policyPlan() throws {
        let plan = try Fixtures.policy.plan()
        expectLines(plan.description, """
            ip netns add h1
            ip netns add r1
            ip -n h1 link set lo up
            ip -n r1 link set lo up
            ip netns exec r1 sysctl -w net.ipv4.ip_forward=1
            ip netns exec r1 sysctl -w net.ipv6.conf.all.forwarding=1
            ip -n h1 link add eth0 alias "r1:eth0" type veth peer name eth0 netns r1 alias "h1:eth0"
            ip -n h1 link add eth1 alias "r1:eth1" type veth peer name eth1 netns r1 alias "h1:eth1"
            ip -n h1 link set eth0 up
            ip -n h1 link set eth1 up
            ip -n r1 link set eth0 up
            ip -n r1 link set eth1 up
            ip -n h1 addr add 10.0.1.2/24 dev eth0
            ip -n h1 addr add 10.0.2.2/24 dev eth1
            ip -n r1 addr add 10.0.1.1/24 dev eth0
            ip -n r1 addr add 10.0.2.1/24 dev eth1
            ip -n h1 neigh add 10.0.1.1 lladdr 02:00:00:00:01:01 dev eth0 nud permanent
            ip -n h1 route add default via 10.0.2.1 dev eth1 table 100
            ip -n h1 route add blackhole 10.66.0.0/16
            ip -n h1 route add 10.9.0.0/16 nexthop via 10.0.1.1 dev eth0 weight 2 nexthop via 10.0.2.1 dev eth1 weight 1
            ip -n h1 rule add pref 100 from 10.0.2.0/24 lookup 100
            ip -n h1 rule add pref 200 fwmark 0x1/0xff prohibit
            tc -n h1 qdisc add dev eth0 root handle 1: tbf rate 10mbit burst 32000 latency 50ms
            tc -n h1 qdisc add dev eth1 root handle 1: netem delay 10ms 2ms loss 1%
            """)
    }

    @Test func overlayPlan() throws {
        let plan = try Fixtures.overlay.plan()
        expectLines(plan.description, """
            ip netns add a
            ip netns add r
            ip netns add b
            ip -n a link set lo up
            ip -n r link set lo up
            ip netns exec r sysctl -w net.ipv4.ip_forward=1
            ip netns exec r sysctl -w net.ipv6.conf.all.forwarding=1
            ip -n b link set lo up
            ip -n a link add br0 type bridge stp_state 0 vlan_filtering 0
            ip -n b link add br0 type bridge stp_state 0 vlan_filtering 0
            ip -n a link add eth0 alias "r:eth0" type veth peer name eth0 netns r alias "a:eth0"
            ip -n r link add eth1 alias "b:eth0" type veth peer name eth0 netns b alias "r:eth1"
            ip -n a link add vx0 master br0 type vxlan id 42 local 192.168.1.2 remote 192.168.2.2 dstport 4789
            ip -n b link add vx0 master br0 type vxlan id 42 local 192.168.2.2 remote 192.168.1.2 dstport 4789
            ip -n a link set br0 up
            ip -n a link set eth0 up
            ip -n a link set vx0 up
            ip -n r link set eth0 up
            ip -n r link set eth1 up
            ip -n b link set br0 up
            ip -n b link set eth0 up
            ip -n b link set vx0 up
            ip -n a addr add 192.168.1.2/24 dev eth0
            ip -n a addr add 10.10.0.1/24 dev br0
            ip -n r addr add 192.168.1.1/24 dev eth0
            ip -n r addr add 192.168.2.1/24 dev eth1
            ip -n b addr add 192.168.2.2/24 dev eth0
            ip -n b addr add 10.10.0.2/24 dev br0
            ip -n a route add default via 192.168.1.1 dev eth0
            ip -n b route add default via 192.168.2.1 dev eth0
            """)
    }

    @Test func interfacesPlan() throws {
        let plan = try Fixtures.interfaces.plan()
        expectLines(plan.description, """
            ip netns add h1
            ip netns add sw
            ip netns add h2
            ip -n h1 link set lo up
            ip -n sw link set lo up
            ip -n h2 link set lo up
            ip -n sw link add br0 type bridge stp_state 0 vlan_filtering 1
            ip -n h1 link add eth0 alias "sw:eth0" type veth peer name eth0 netns sw master br0 alias "h1:eth0"
            ip -n sw link add eth1 master br0 alias "h2:eth0" type veth peer name eth0 netns h2 alias "sw:eth1"
            ip -n h1 link add d0 type dummy
            ip -n h1 link add eth0.10 link eth0 type vlan id 10
            ip -n h1 link add mv0 link eth0 type macvlan mode private
            ip -n h2 link add eth0.10 link eth0 type vlan id 10
            ip -n h1 link add gre1 type gre local 10.10.0.1 remote 10.10.0.2 ttl 64
            ip -n h2 link add gre1 type gre local 10.10.0.2 remote 10.10.0.1 ttl 64
            bridge -n sw vlan add dev eth0 vid 10 pvid untagged
            bridge -n sw vlan add dev eth1 vid 10 && bridge -n sw vlan add dev eth1 vid 20
            ip -n h1 link set eth0 up
            ip -n h1 link set d0 up
            ip -n h1 link set eth0.10 up
            ip -n h1 link set mv0 up
            ip -n h1 link set gre1 up
            ip -n sw link set br0 up
            ip -n sw link set eth0 up
            ip -n sw link set eth1 up
            ip -n h2 link set eth0 up
            ip -n h2 link set eth0.10 up
            ip -n h2 link set gre1 up
            ip -n h1 addr add 192.0.2.1/32 dev d0
            ip -n h1 addr add 10.10.0.1/24 dev eth0.10
            ip -n h1 addr add 10.0.0.1/24 dev eth0
            ip -n h1 addr add 10.20.0.1/30 dev gre1
            ip -n h2 addr add 10.10.0.2/24 dev eth0.10
            ip -n h2 addr add 10.0.0.2/24 dev eth0
            ip -n h2 addr add 10.20.0.2/30 dev gre1
            """)
    }

    @Test func stepsCarryNodeOperationAndOrigin() throws {
        let plan = try Fixtures.routed.plan()
        let veth = try #require(plan.steps.first { if case .addVeth = $0.operation { true } else { false } })
        #expect(veth.node == "h1")
        #expect(veth.origin.hasPrefix("link h1:eth0 <-> r1:eth0 (Fixtures.swift:"))
        guard case .addVeth(let v) = veth.operation else { return }
        #expect([v.name, v.peerNode, v.peerName] == ["eth0", "r1", "eth0"])
        #expect(v.alias == "r1:eth0" && v.peerAlias == "h1:eth0")
        #expect(v.mtu == nil && v.master == nil && v.peerMaster == nil)
        let route = try #require(plan.steps.first { if case .addRoute = $0.operation { true } else { false } })
        guard case .addRoute(let spec) = route.operation else { return }
        #expect(spec.destination == IPPrefix("0.0.0.0/0"))
        #expect(spec.device == "eth0")
        #expect(spec.gateway == IPAddress("10.0.1.1"))
        #expect(spec.table == 254 && spec.scope == .universe && spec.proto == RouteProtocol.static)
        #expect(route.origin.hasPrefix("route default in h1 (Fixtures.swift:"))
    }

    @Test func orderingInvariants() throws {
        let plan = try Fixtures.interfaces.plan()
        func firstIndex(_ node: String, _ match: (PlanOperation) -> Bool) -> Int? {
            plan.steps.firstIndex { $0.node == node && match($0.operation) }
        }
        for node in ["h1", "sw", "h2"] {
            let steps = plan.steps.filter { $0.node == node }
            #expect(steps.first?.operation == .createNamespace)
            #expect(steps.dropFirst().first?.operation == .linkUp("lo"))
        }
        let lastAddress = try #require(plan.steps.lastIndex { if case .addAddress = $0.operation { true } else { false } })
        let firstLinkUp = try #require(plan.steps.firstIndex { $0.operation == .linkUp("eth0") })
        let parent = try #require(firstIndex("h1") { if case .addVeth = $0 { true } else { false } })
        let vlan = try #require(firstIndex("h1") { if case .addVLAN = $0 { true } else { false } })
        #expect(parent < vlan)
        #expect(vlan < firstLinkUp)
        #expect(firstLinkUp < lastAddress)
        #expect(firstIndex("sw") { $0 == .linkUp("br0") }! < firstIndex("sw") { $0 == .linkUp("eth0") }!)
    }

    @Test func planCarriesTheResolvedTopology() throws {
        #expect(try Fixtures.routed.plan().topology == Fixtures.routed.resolved())
    }

    @Test func planningIsDeterministic() throws {
        #expect(try Fixtures.policy.plan() == Fixtures.policy.plan())
        #expect(try Fixtures.star(50).plan().description == Fixtures.star(50).plan().description)
    }

    /// Compares two texts line by line, so a failure names the first line that differs.
    private func expectLines(_ actual: String, _ expected: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, (x, y)) in zip(a, e).enumerated() where x != y {
            Issue.record("line \(i + 1) differs:\n  actual:   \(x)\n  expected: \(y)", sourceLocation: sourceLocation)
            return
        }
        #expect(a.count == e.count, "line count", sourceLocation: sourceLocation)
    }
}

@Suite struct PlanOperationTests {
    private func commands(_ topology: Topology, in node: String) throws -> [String] {
        try topology.plan().steps.filter { $0.node == node }.map(\.description)
    }

    @Test func qdiscsRulesAndRoutesPrintLikeTheirCommands() throws {
        let topo = Topology("t") {
            Host("h1") {
                Address("2001:db8::1/64")
                Route("2001:db8:9::/48", via: "fe80::1", dev: "eth0", metric: 5)
                Route(.default, dev: "eth0", table: 7)
                Route("10.1.0.0/16", scope: .host, proto: 3, src: "10.0.0.1", onlink: true, type: .unreachable)
                Rule(family: .ipv6, priority: 5, to: "2001:db8:9::/48", oif: "eth0", table: 7)
                Qdisc(.htb(defaultClass: 20, classes: [.init(id: 10, rate: .mbit(5), ceil: .mbit(10)),
                                                       .init(id: 20, rate: .kbit(500))]))
                Qdisc(.tbf(rate: .gbit(1), burst: 1500, limit: .bytes(3000)), on: "eth1")
            }
            Host("h2")
            Link("h1", "h2")
            Link("h1", "h2")
        }
        let lines = try commands(topo, in: "h1")
        #expect(lines.suffix(6) == [
            "ip -6 -n h1 route add 2001:db8:9::/48 via fe80::1 dev eth0 metric 5",
            "ip -n h1 route add default dev eth0 table 7",
            "ip -n h1 route add unreachable 10.1.0.0/16 src 10.0.0.1 proto 3 scope host onlink",
            "ip -6 -n h1 rule add pref 5 to 2001:db8:9::/48 oif eth0 lookup 7",
            // tc reads class ids in hex: class 10 is 1:a.
            "tc -n h1 qdisc add dev eth0 root handle 1: htb default 14 && tc -n h1 class add dev eth0 parent 1: classid 1:a htb rate 5mbit ceil 10mbit && tc -n h1 class add dev eth0 parent 1: classid 1:14 htb rate 500kbit ceil 500kbit",
            "tc -n h1 qdisc add dev eth1 root handle 1: tbf rate 1gbit burst 1500 limit 3000",
        ])
        #expect(lines.contains("ip -n h1 addr add 2001:db8::1/64 dev eth0 nodad"))
    }

    @Test func greOverIPv6BecomesIP6GRE() throws {
        let topo = Topology("t") {
            Host("h1"); Host("h2")
            Link("h1", "h2", aAddress: "2001:db8::1/64", bAddress: "2001:db8::2/64")
            Tunnel("t0", .gretap, between: "h1", "h2:t1")
        }
        #expect(try commands(topo, in: "h2").contains(
            "ip -n h2 link add t1 type ip6gretap local 2001:db8::2 remote 2001:db8::1"))
    }

    @Test func loopbackComesUpBeforeAnythingElse() throws {
        let plan = try Fixtures.star(3).plan()
        for node in ["sw", "h1", "h2", "h3"] {
            let ops = plan.steps.filter { $0.node == node }.map(\.operation)
            #expect(Array(ops.prefix(2)) == [.createNamespace, .linkUp("lo")])
        }
    }
}
