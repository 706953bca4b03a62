import Foundation
import NetnsModel
import Testing

/// The physical program of the fixtures, read as text: what the builder sends.
@Suite struct ProgramTests {
    /// Folded ups (not for a VLAN on a veth peer, which comes up later), a veth peer's master
    /// set just before its port VLAN, aliases riding on the ups, `brd +` for IPv4 addresses.
    @Test func interfacesProgram() throws {
        let program = try Fixtures.interfaces.plan().program()
        expectLines(program.description, """
            # namespaces: created with their sysctls, then loopback up
            ip netns add h1
            ip netns exec h1 sysctl -w net.ipv6.conf.all.accept_dad=0   # if /proc/sys/net/ipv6/conf/all/accept_dad exists
            ip netns exec h1 sysctl -w net.ipv6.conf.default.accept_dad=0   # if /proc/sys/net/ipv6/conf/default/accept_dad exists
            ip -n h1 link set lo up
            ip netns add sw
            ip netns exec sw sysctl -w net.ipv6.conf.all.accept_dad=0   # if /proc/sys/net/ipv6/conf/all/accept_dad exists
            ip netns exec sw sysctl -w net.ipv6.conf.default.accept_dad=0   # if /proc/sys/net/ipv6/conf/default/accept_dad exists
            ip -n sw link set lo up
            ip netns add h2
            ip netns exec h2 sysctl -w net.ipv6.conf.all.accept_dad=0   # if /proc/sys/net/ipv6/conf/all/accept_dad exists
            ip netns exec h2 sysctl -w net.ipv6.conf.default.accept_dad=0   # if /proc/sys/net/ipv6/conf/default/accept_dad exists
            ip -n h2 link set lo up
            # phase 1: links
            #   in h1: 2 steps
            ip -n h1 link add eth0 numtxqueues 1 numrxqueues 1 type veth peer name eth0 netns sw numtxqueues 1 numrxqueues 1 && ip -n h1 link set eth0 up
            ip -n h1 link add d0 type dummy && ip -n h1 link set d0 up
            #   in sw: 2 steps
            ip -n sw link add br0 type bridge stp_state 0 vlan_filtering 1 && ip -n sw link set br0 up
            ip -n sw link add eth1 master br0 numtxqueues 1 numrxqueues 1 type veth peer name eth0 netns h2 numtxqueues 1 numrxqueues 1 && ip -n sw link set eth1 up
            # phase 2: stacked links
            #   in h1: 3 steps
            ip -n h1 link add eth0.10 link eth0 type vlan id 10 && ip -n h1 link set eth0.10 up
            ip -n h1 link add mv0 link eth0 type macvlan mode private && ip -n h1 link set mv0 up
            ip -n h1 link add gre1 type gre local 10.10.0.1 remote 10.10.0.2 ttl 64 && ip -n h1 link set gre1 up
            #   in h2: 2 steps
            ip -n h2 link add eth0.10 link eth0 type vlan id 10
            ip -n h2 link add gre1 type gre local 10.10.0.2 remote 10.10.0.1 ttl 64 && ip -n h2 link set gre1 up
            # phase 3: masters, ups, addresses, routes
            #   in h1: 5 steps
            ip -n h1 link set eth0 alias "sw:eth0"
            ip -n h1 addr add 192.0.2.1/32 dev d0
            ip -n h1 addr add 10.10.0.1/24 brd + dev eth0.10
            ip -n h1 addr add 10.0.0.1/24 brd + dev eth0
            ip -n h1 addr add 10.20.0.1/30 brd + dev gre1
            #   in sw: 5 steps
            ip -n sw link set eth0 master br0
            bridge -n sw vlan add dev eth0 vid 10 pvid untagged
            bridge -n sw vlan add dev eth1 vid 10 && bridge -n sw vlan add dev eth1 vid 20
            ip -n sw link set eth0 up alias "h1:eth0"
            ip -n sw link set eth1 alias "h2:eth0"
            #   in h2: 5 steps
            ip -n h2 link set eth0 up alias "sw:eth1"
            ip -n h2 link set eth0.10 up
            ip -n h2 addr add 10.10.0.2/24 brd + dev eth0.10
            ip -n h2 addr add 10.0.0.2/24 brd + dev eth0
            ip -n h2 addr add 10.20.0.2/30 brd + dev gre1
            """)
    }

    /// A veth peer's master comes in the last phase when nothing needs it sooner; both ends of
    /// a veth get the link's MTU, and neither its peer's master nor an alias.
    @Test func peerMastersComeLast() throws {
        let t = Topology("star") {
            Switch("sw")
            Host("h1") { Address("10.0.0.1/24") }
            Host("h2") { Address("10.0.0.2/24") }
            Link("h1:eth0", "sw:p1", mtu: 9000)
            Link("h2:eth0", "sw:p2")
        }
        let program = try t.plan().program()
        #expect(program.phases.map(\.name) == ["links", "masters, ups, addresses, routes", "bridge ports"])
        let last = try #require(program.phases.last)
        #expect(last.batches.map(\.node) == ["sw"])
        #expect(last.batches[0].steps.map { $0.command(in: "sw") } == ["ip -n sw link set p1 master br0", "ip -n sw link set p2 master br0"])
        let veth = try #require(program.phases[0].batches.first { $0.node == "h1" }?.steps.first)
        guard case .operation(.addVeth(let v), up: true) = veth.action else { Issue.record("\(veth)"); return }
        #expect(v.mtu == 9000 && v.peerMTU == 9000 && v.peerMaster == nil && v.alias == nil && v.peerAlias == nil)
        // Every address of the plan is a step of the program.
        let plan = try t.plan()
        let named = Set(program.phases.flatMap(\.batches).flatMap(\.steps).map(\.planStep))
        let addresses = plan.steps.indices.filter { if case .addAddress = plan.steps[$0].operation { true } else { false } }
        #expect(addresses.count == 2 && Set(addresses).isSubset(of: named))
    }

    /// A bond's ports are not created up: a bond refuses a port that is up.
    @Test func bondPortsComeUpAfterTheirMaster() throws {
        let t = Topology("bonded") {
            Host("h1") { Bond("bond0", ports: ["eth0", "eth1"]); Address("10.0.0.1/24", on: "bond0") }
            Host("h2") { Bond("bond0", ports: ["eth0", "eth1"]); Address("10.0.0.2/24", on: "bond0") }
            Link("h1:eth0", "h2:eth0")
            Link("h1:eth1", "h2:eth1")
        }
        let text = try t.plan().program().description
        #expect(text.contains("ip -n h1 link add eth0 numtxqueues 1 numrxqueues 1 type veth peer name eth0 netns h2 numtxqueues 1 numrxqueues 1\n"), "\(text)")
        #expect(text.contains("ip -n h1 link set eth0 master bond0\n"), "\(text)")
        let master = try #require(text.range(of: "ip -n h1 link set eth0 master bond0"))
        let up = try #require(text.range(of: "ip -n h1 link set eth0 up"))
        #expect(master.lowerBound < up.lowerBound)
    }

    /// The script names every namespace `<lab>-<node>`, a veth's peer namespace included, and
    /// loads a firewall through a here-document.
    @Test func theScriptUsesTheLabPrefix() throws {
        let t = Topology("fw") {
            Host("h1") { Address("10.0.0.1/24"); Firewall("table inet f { chain input { type filter hook input priority 0; } }") }
            Host("h2") { Address("10.0.0.2/24") }
            Link("h1:eth0", "h2:eth0")
        }
        let script = try t.plan().program().script(lab: "lab7")
        #expect(script.hasPrefix("#!/bin/sh\n"))
        #expect(script.contains("\nip netns add lab7-h1\ncreated=\"$created lab7-h1\"\n"), "\(script)")
        #expect(script.contains(" netns lab7-h2 "), "\(script)")
        #expect(script.contains("ip netns exec lab7-h1 nft -f - <<'NSLAB_RULESET'\ntable inet f"), "\(script)")
        #expect(!script.contains(" -n h1 ") && !script.contains(" -n h2 "), "\(script)")
        #expect(script.hasSuffix("trap - EXIT\necho \"lab lab7 is up: lab7-h1 lab7-h2\"\n"), "\(script)")
    }

    /// `--json`: the program as data, each step with its operation, command and interfaces.
    @Test func theProgramEncodes() throws {
        let data = try JSONEncoder().encode(try Fixtures.routed.plan().program())
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["topology"] as? String == "routed")
        let phases = try #require(json["phases"] as? [[String: Any]])
        let step = try #require(((phases[0]["batches"] as? [[String: Any]])?[0]["steps"] as? [[String: Any]])?[0])
        #expect(step["operation"] as? String == "addVeth" && step["up"] as? Bool == true)
        #expect((step["command"] as? String)?.hasPrefix("ip -n h1 link add eth0") == true)
        #expect((step["interfaces"] as? [[String: String]])?.map { $0["node"]! + ":" + $0["name"]! } == ["h1:eth0", "r1:eth0"])
    }

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
