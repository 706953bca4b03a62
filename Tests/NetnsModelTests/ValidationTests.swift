import NetnsModel
import Testing

/// One test per class of problem: each checks the code, the path, the message and the source line.
@Suite struct ValidationTests {
    /// The only issue of `topology`, which must have exactly one.
    private func onlyIssue(_ topology: Topology, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws
        -> ValidationIssue
    {
        let issues = topology.validate()
        #expect(issues.count == 1, "\(issues)", sourceLocation: sourceLocation)
        return try #require(issues.first, sourceLocation: sourceLocation)
    }

    @Test func validTopologiesHaveNoIssues() throws {
        for t in [Fixtures.routed, Fixtures.policy, Fixtures.overlay, Fixtures.star(4)] {
            #expect(t.validate() == [], "\(t.name)")
            #expect(try t.validated() == t)
        }
    }

    @Test func unknownNode() throws {
        let line = #line + 5
        let topo = Topology("t") {
            Host("h1")
            Host("h2")
            Router("r1")
            Link("h1", "r1"); Link("h2", "r9")
        }
        let issue = try onlyIssue(topo)
        #expect(issue.code == .unknownNode)
        #expect(issue.path == "links[1].b")
        #expect(issue.location?.line == line)
        #expect(issue.message == #"unknown node "r9" (known: h1, h2, r1)"#)
        #expect(issue.description.hasSuffix(#"links[1].b: unknown node "r9" (known: h1, h2, r1) — hint: declare Host("r9") or fix the endpoint"#))
    }

    @Test func unknownInterfaces() {
        let topo = Topology("t") {
            Host("h1") {
                Address("10.0.0.1/24", on: "eth0")
                Route("10.1.0.0/16", dev: "eth7")
                Rule(iif: "eth8", table: 254)
                Bridge("br0") { Port("eth9") }
                Macvlan("mv0", on: "nope")
            }
            Host("h2")
            Link("h1", "h2")
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == Array(repeating: .unknownInterface, count: 4))
        #expect(issues.map(\.path) == ["nodes[0].routes[0].dev", "nodes[0].rules[0].iif", "nodes[0].bridges[0].ports[0]",
                                       "nodes[0].macvlans[0].parent"])
        #expect(issues[0].message == #"unknown interface "eth7" for route dev in h1 (known: br0, eth0, lo, mv0)"#)
    }

    @Test func duplicateNode() throws {
        let line = #line + 3
        let issue = try onlyIssue(Topology("t") {
            Host("h1")
            Router("h1")
        })
        #expect(issue.code == .duplicateNode)
        #expect(issue.path == "nodes[1]")
        #expect(issue.location?.line == line)
        #expect(issue.message.hasPrefix(#"node "h1" is declared twice (first at ValidationTests.swift:"#))
    }

    @Test func duplicateInterface() throws {
        let issue = try onlyIssue(Topology("t") {
            Host("h1") { Dummy("eth0") }
            Host("h2")
            Link("h1:eth0", "h2")
        })
        #expect(issue.code == .duplicateInterface)
        #expect(issue.path == "links[0].a")
        #expect(issue.message == #"interface "eth0" is declared twice in h1 (first at nodes[0].dummies[0])"#)
    }

    @Test func invalidInterfaceNames() {
        let topo = Topology("t") {
            Host("h1") { Dummy("a-very-long-interface"); Dummy("a/b"); Dummy("has space"); Dummy("") }
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == Array(repeating: .invalidInterfaceName, count: 4))
        #expect(issues[0].message == #"interface name "a-very-long-interface" is 21 bytes long (the kernel allows 15)"#)
        #expect(issues[1].message == #"interface name "a/b" contains '/', ':' or whitespace"#)
        #expect(issues[3].message == #"interface name "" is empty"#)
        #expect(issues[0].path == "nodes[0].dummies[0]")
    }

    @Test func invalidNodeNames() {
        let topo = Topology("t") {
            Host("")
            Host(String(repeating: "n", count: 33))
            Host("bad name")
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == [.invalidNodeName, .invalidNodeName, .invalidNodeName])
        #expect(issues.map(\.path) == ["nodes[0]", "nodes[1]", "nodes[2]"])
        #expect(issues[1].message.hasSuffix("is 33 characters long (at most 32)"))
        #expect(issues[2].message == #"node name "bad name" has characters outside A-Z a-z 0-9 _ . -"#)
    }

    @Test func malformedValuesAreReportedNotFatal() {
        let line = #line + 3
        let topo = Topology("t") {
            Host("h1") {
                Address("10.0.1.300/24", on: "eth0")
                Route("10.0.0.0/33", via: "10.0.1")
            }
            Host("h2")
            Link("h1:eth0", "h2", bAddress: "fe80::zz/64", aMAC: "02:00")
        }
        let issues = topo.validate()
        #expect(issues.allSatisfy { $0.code == .malformedValue })
        #expect(issues.map(\.path) == ["nodes[0].addresses[0].address", "nodes[0].routes[0].to", "nodes[0].routes[0].via",
                                       "links[0].a.mac", "links[0].b.addresses[0]"])
        #expect(issues[0].message == #"malformed address "10.0.1.300/24""#)
        #expect(issues[0].location?.line == line)
        #expect(issues[0].hint == "write an address with prefix length like 10.0.1.2/24 or 2001:db8::1/64")
    }

    @Test func missingInterfaceForAnAddressWithoutOn() throws {
        let issue = try onlyIssue(Topology("t") { Host("h1") { Address("10.0.0.1/24") } })
        #expect(issue.code == .missingInterface)
        #expect(issue.message == "address 10.0.0.1/24 has no interface, and h1 has no link to put it on")
    }

    @Test func duplicateAddressOnOneSegment() throws {
        let topo = Topology("t") {
            Switch("sw")
            Host("h1") { Address("10.0.0.1/24") }
            Host("h2") { Address("10.0.0.1/24") }
            Host("h3") { Address("10.0.0.3/24") }
            Link("h1", "sw"); Link("h2", "sw"); Link("h3", "sw")
        }
        let issue = try onlyIssue(topo)
        #expect(issue.code == .duplicateAddress)
        #expect(issue.path == "nodes[2].addresses[0]")
        #expect(issue.message == "address 10.0.0.1 on h2:eth0 is already on h1:eth0 (nodes[1].addresses[0]), on the same L2 segment")
    }

    @Test func sameAddressOnSeparateSegmentsIsFine() {
        let topo = Topology("t") {
            Host("h1"); Host("h2"); Host("h3"); Host("h4")
            Link("h1", "h2", aAddress: "10.0.0.1/24", bAddress: "10.0.0.2/24")
            Link("h3", "h4", aAddress: "10.0.0.1/24", bAddress: "10.0.0.2/24")
        }
        #expect(topo.validate() == [])
    }

    @Test func unreachableGateway() throws {
        let line = #line + 2
        let topo = Topology("t") {
            Host("h1") { Route(.default, via: "10.0.9.1") }
            Host("h2") { Route(.default, via: "10.0.9.1", onlink: true) }
            Link("h1", "h2", aAddress: "10.0.1.2/24", bAddress: "10.0.1.3/24")
        }
        let issue = try onlyIssue(topo)
        #expect(issue.code == .unreachableGateway)
        #expect(issue.path == "nodes[0].routes[0].via")
        #expect(issue.location?.line == line)
        #expect(issue.message == "gateway 10.0.9.1 is not in a subnet of h1 (subnets: 10.0.1.2/24 on eth0)")
    }

    @Test func mtuOutOfRange() {
        let topo = Topology("t") {
            Host("h1"); Host("h2")
            Link("h1", "h2", mtu: 70000)
            Link("h1", "h2", mtu: 1000, aAddress: "2001:db8::1/64")
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == [.mtuOutOfRange, .mtuOutOfRange, .mtuOutOfRange])
        #expect(issues.map(\.path) == ["links[0].a.mtu", "links[0].b.mtu", "links[1].a.mtu"])
        #expect(issues[0].message == "MTU 70000 of h1:eth0 is out of range 68…65535")
        #expect(issues[2].message == "MTU 1000 of h1:eth1 is below 1280, the IPv6 minimum, but it has 2001:db8::1/64")
    }

    @Test func tunnelWithoutUnderlay() throws {
        let topo = Topology("t") {
            Host("h1"); Host("h2") { Dummy("d0") }
            Link("h1", "h2", aAddress: "10.0.0.1/24", bAddress: "10.0.0.2/24")
            Tunnel("gre1", .gre, between: "h1", "h2", aUnderlay: "192.0.2.1")
            Tunnel("ipip1", .ip6tnl, between: "h1", "h2")
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == [.missingUnderlay, .missingUnderlay, .missingUnderlay])
        #expect(issues[0].path == "tunnels[0].a.underlay")
        #expect(issues[0].message == "underlay address 192.0.2.1 is not an address of h1")
        #expect(issues[1].message == "tunnel gre1 has no underlay address in h1")
        #expect(issues[2].message == "tunnel ipip1 has no IPv6 underlay addresses of one family in h1 and h2")
    }

    @Test func invalidTunnels() {
        let topo = Topology("t") {
            Host("h1") { Bridge("br0") }
            Host("h2")
            Link("h1", "h2", aAddress: "10.0.0.1/24", bAddress: "10.0.0.2/24")
            VXLAN("vx0", between: "h1", "h2", vni: 1 << 24)
            Tunnel("gre1", .gre, between: "h1", "h2", aMaster: "br0")
            Tunnel("loop", .ipip, between: "h1", "h1:loop2")
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == [.invalidTunnel, .invalidTunnel, .invalidTunnel])
        #expect(issues.map(\.path) == ["tunnels[0].vni", "tunnels[1].a.master", "tunnels[2]"])
    }

    @Test func ruleToAnEmptyTable() throws {
        let issue = try onlyIssue(Topology("t") {
            Host("h1") { Rule(priority: 10, from: "10.0.0.0/8", table: 100); Rule(table: 254) }
        })
        #expect(issue.code == .emptyRuleTable)
        #expect(issue.path == "nodes[0].rules[0]")
        #expect(issue.message == "rule looks up table 100, which has no routes in h1")
        #expect(issue.hint == "add a route with table: 100 to h1, or fix the table")
    }

    @Test func multipathWeights() {
        let topo = Topology("t") {
            Host("h1") {
                Route("10.9.0.0/16", nexthops: [Nexthop(via: "10.0.0.2", weight: 0), Nexthop(via: "10.0.0.3", weight: 257)])
            }
            Host("h2")
            Link("h1", "h2", aAddress: "10.0.0.1/24")
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == [.invalidWeight, .invalidWeight])
        #expect(issues.map(\.path) == ["nodes[0].routes[0].nexthops[0].weight", "nodes[0].routes[0].nexthops[1].weight"])
        #expect(issues[1].message == "next hop weight 257 is out of range 1…256")
    }

    @Test func vlanIDs() {
        let topo = Topology("t") {
            Host("h1") {
                Dummy("d0")
                VLAN(4095, on: "d0", name: "v1")
                Bridge("br0", vlanFiltering: true) { Port("d1", pvid: 0) }
                Dummy("d1")
                Bridge("br1") { Port("d2", vlans: [10]) }
                Dummy("d2")
            }
        }
        let issues = topo.validate()
        #expect(issues.map(\.code) == [.invalidVLANID, .invalidVLANID, .invalidVLANID])
        #expect(issues[0].message == "VLAN id 4095 of v1 is out of range 1…4094")
        #expect(issues[1].message == "VLAN id 0 on port d1 of br0 is out of range 1…4094")
        #expect(issues[2].message == "port d2 has VLANs but bridge br1 does not filter VLANs")
    }

    /// An IPv4 route may have an IPv6 gateway (RFC 5549, see Layer3Tests); an IPv6 route no IPv4 one.
    @Test func routeFamilyMismatch() throws {
        let issue = try onlyIssue(Topology("t") {
            Host("h1") { Route("2001:db8:9::/48", via: "10.0.0.1") }
        })
        #expect(issue.code == .familyMismatch)
        #expect(issue.message == "route to 2001:db8:9::/48 is IPv6 but has gateway 10.0.0.1")
    }

    @Test func masterMustBeABridge() throws {
        let issue = try onlyIssue(Topology("t") {
            Host("h1") { Dummy("d0") }
            Host("h2")
            Link("h1", "h2", aMaster: "d0")
        })
        #expect(issue.code == .notABridge)
        #expect(issue.path == "links[0].a.master")
    }

    @Test func reportsEveryProblemAtOnce() throws {
        let topo = Topology("t") {
            Host("h1") { Route(.default, via: "10.9.9.9") }
            Link("h1", "nowhere")
            Link("ghost", "h1", mtu: 10)
        }
        #expect(throws: ValidationError.self) { try topo.validated() }
        do {
            _ = try topo.validated()
        } catch {
            #expect(error.issues.map(\.code) == [.unknownNode, .unknownNode, .unreachableGateway, .mtuOutOfRange])
            #expect(error.description.hasPrefix("topology \"t\" has 4 problems:\n  "))
        }
        #expect(throws: ValidationError.self) { try topo.plan() }
    }
}
