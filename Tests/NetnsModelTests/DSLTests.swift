import Foundation
import NetnsModel
import Testing

@Suite struct DSLTests {
    @Test func buildsTheDeclaredModel() throws {
        let topo = Fixtures.routed
        #expect(topo.name == "routed")
        #expect(topo.nodes.map(\.name) == ["h1", "r1", "h2"])
        #expect(topo.nodes.map(\.kind) == [.host, .router, .host])
        #expect(topo.links.count == 2)
        let h1 = try #require(topo[node: "h1"])
        #expect(h1.addresses.map(\.prefix) == [IPPrefix("10.0.1.2/24")!, IPPrefix("2001:db8:1::2/64")!])
        #expect(h1.addresses.allSatisfy { $0.nodad })
        #expect(h1.routes.map(\.destination) == [.default, .default])
        #expect(h1.routes[1].family == .ipv6)
        #expect(h1.routes[1].destinationPrefix == IPPrefix("::/0")!)
        #expect(topo[node: "r1"]?.sysctls == ["net.ipv4.conf.all.rp_filter": "0"])
        #expect(topo.links[0].a.endpoint == Endpoint(node: "h1", interface: "eth0"))
        #expect(topo.links[1].a.endpoint == Endpoint(node: "r1"))
        #expect(topo.links[1].a.addresses == [IPPrefix("10.0.2.1/24")!])
        #expect(topo.links[1].mtu == 9000)
    }

    @Test func recordsSourceLocations() throws {
        let line = #line + 1
        let topo = Topology("t") { Host("h1") }
        let location = try #require(topo.nodes[0].provenance.location)
        #expect(location.line == line)
        #expect(location.fileID.hasSuffix("DSLTests.swift"))
        #expect(location.description.hasPrefix("DSLTests.swift:\(line):"))
    }

    @Test func supportsLoopsConditionsAndOptionals() {
        let withRouter = true
        let extra: String? = nil
        let topo = Topology("t") {
            for i in 1...3 { Host("h\(i)") }
            if withRouter { Router("r1") } else { Host("r1") }
            if let extra { Host(extra) }
            if !withRouter { Host("never") }
            Host("x") {
                for i in 1...2 { Address("10.0.0.\(i)/24", on: "d0") }
                if withRouter { Sysctl("a.b", "1") } else { Sysctl("a.b", "0") }
                Dummy("d0")
            }
        }
        #expect(topo.nodes.map(\.name) == ["h1", "h2", "h3", "r1", "x"])
        #expect(topo[node: "r1"]?.kind == .router)
        #expect(topo[node: "x"]?.addresses.count == 2)
        #expect(topo[node: "x"]?.sysctls["a.b"] == "1")
    }

    @Test func equalityIgnoresSourceLocations() {
        let a = Topology("t") { Host("h1") }
        let b = Topology("t") {
            Host("h1")
        }
        #expect(a == b)
        #expect(a.nodes[0].provenance.location != b.nodes[0].provenance.location)
    }

    @Test func parsesEndpointsAndRates() {
        #expect(Endpoint("h1:eth0") == Endpoint(node: "h1", interface: "eth0"))
        #expect(Endpoint("h1") == Endpoint(node: "h1"))
        #expect(Endpoint("h1:eth0").description == "h1:eth0")
        #expect(Rate("10mbit") == .mbit(10))
        #expect(Rate("1gbit")?.bitsPerSecond == 1_000_000_000)
        #expect(Rate("500kbit")?.description == "500kbit")
        #expect(Rate("1.5mbit")?.description == "1500kbit")
        #expect(Rate("fast") == nil)
        // As tc reads them: bps is bytes per second, the IEC prefixes are powers of 1024.
        #expect(Rate("10mbps")?.bitsPerSecond == 80_000_000)
        #expect(Rate("1Kibit")?.bitsPerSecond == 1024)
        #expect(Rate("2MBIT")?.bitsPerSecond == 2_000_000)
        #expect(Rate("10mbitz") == nil)
    }

    @Test func keepsMalformedTextForValidation() {
        let topo = Topology("t") {
            Host("h1") { Address("10.0.1.300/24"); Route(.default, via: "10.0.1") }
        }
        #expect(topo.nodes[0].addresses[0].provenance.malformed.map(\.text) == ["10.0.1.300/24"])
        #expect(topo.nodes[0].routes[0].provenance.malformed.map(\.field) == ["via"])
    }

    @Test func routersImplyForwarding() throws {
        let r1 = try #require(try Fixtures.routed.resolved()[node: "r1"])
        #expect(r1.sysctls["net.ipv4.ip_forward"] == "1")
        #expect(r1.sysctls["net.ipv6.conf.all.forwarding"] == "1")
        #expect(r1.sysctls["net.ipv4.conf.all.rp_filter"] == "0")
    }

    @Test func resolvesGeneratedNamesAliasesAndDefaults() throws {
        let topo = try Fixtures.routed.resolved()
        #expect(topo.links[1].a.endpoint == Endpoint("r1:eth1"))
        #expect(topo.links[1].b.endpoint == Endpoint("h2:eth0"))
        #expect(topo.links[1].a.alias == "h2:eth0")
        #expect(topo.links[1].b.alias == "r1:eth1")
        #expect(topo.links[1].b.mtu == 9000)
        #expect(topo[node: "h2"]?.addresses[0].interface == "eth0")
    }

    @Test func generatedNamesSkipDeclaredOnes() throws {
        let topo = try Topology("t") {
            Host("h1") { Dummy("eth0") }
            Host("h2")
            Host("h3")
            Link("h1", "h2")
            Link("h1:eth1", "h3")
            Link("h1", "h3")
        }.resolved()
        #expect(topo.links.map(\.a.endpoint.description) == ["h1:eth2", "h1:eth1", "h1:eth3"])
        #expect(topo.links.map(\.b.endpoint.description) == ["h2:eth0", "h3:eth0", "h3:eth1"])
    }

    @Test func switchLinksJoinTheSwitchBridge() throws {
        let topo = try Fixtures.star(3).resolved()
        #expect(topo[node: "sw"]?.bridges.map(\.name) == ["br0"])
        #expect(topo.links.map(\.b.master) == ["br0", "br0", "br0"])
        #expect(topo.links.map(\.a.master) == [nil, nil, nil])
    }

    @Test func tunnelsGetUnderlaysFromTheirNodes() throws {
        let topo = try Fixtures.overlay.resolved()
        let vx = topo.tunnels[0]
        #expect(vx.a.underlay == .address(IPAddress("192.168.1.2")!))
        #expect(vx.b.underlay == .address(IPAddress("192.168.2.2")!))
        #expect(vx.a.underlayDevice == nil)  // routed underlay: no device binding
        #expect(vx.a.master == "br0")
        #expect(vx.b.master == "br0")  // from the bridge's port list
        #expect(vx.a.interface == "vx0")
    }

    @Test func aLargeStarValidatesAndPlans() throws {
        let topo = Fixtures.star(200)
        #expect(topo.nodes.count == 201)
        #expect(topo.validate().isEmpty)
        let plan = try topo.plan()
        #expect(plan.steps.count > 1000)
    }
}
