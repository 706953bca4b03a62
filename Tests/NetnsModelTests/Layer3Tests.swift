import Foundation
import NetnsModel
import Testing

/// The layer-3 declarations of a kernel selftest: per-interface sysctls, address metrics and
/// flags, route metrics and types, routes to remove, RFC 5549 gateways and the full rule selector.
enum Layer3Fixture {
    static let topology = Topology("layer3") {
        Host("h1") {
            Address("10.0.1.2/24", metric: 50)
            Address("10.0.9.2/24", on: "eth0", noprefixroute: true)
            Address("2001:db8:1::2/64", nodad: false)
            Sysctl("net.ipv4.conf.eth0.rp_filter", "2")
            Sysctl("net.ipv4.conf.eth0.arp_ignore", "1")
            Sysctl("net.ipv6.conf.eth0.hop_limit", "33")
            Route("10.20.0.0/16", via: "10.0.1.1", mtu: 1400, advmss: 1360)
            Route("10.30.0.0/24", via: "fe80::1", dev: "eth0")
            Route("10.0.1.99/32", dev: "eth0", table: RouteTable.local, type: .local)
            Route("10.0.50.255/32", dev: "eth0", table: RouteTable.local, type: .broadcast)
            Route("10.40.0.0/16", table: 100, type: .throw)
            Route(.default, via: "10.0.1.1", table: 100)
            Route("127.0.0.0/8", dev: "lo", table: RouteTable.local, type: .local, absent: true)
            Rule(priority: 100, tos: 0x10, table: 100)
            Rule(priority: 110, uidrange: 100...100, table: 100)
            Rule(priority: 120, ipproto: 6, sport: PortRange(1000...2000), dport: 80, table: 100)
            Rule(priority: 130, action: .goto(priority: 200))
            Rule(priority: 140, fwmark: 0x64, fwmask: 0xff, suppressPrefixlength: 0, table: RouteTable.main)
            Rule(priority: 200, table: 100)
        }
        Router("r1") { Sysctl("net.ipv4.conf.eth0.route_localnet", "1") }
        Link("h1:eth0", "r1:eth0", bAddresses: ["10.0.1.1/24", "2001:db8:1::1/64"])
    }

    /// The same topology as a file, with the spellings `ip` users write: hex marks with their
    /// mask in one word, port and UID ranges as text, table names.
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
              - {to: 10.20.0.0/16, via: 10.0.1.1, mtu: 1400, advmss: "0x550"}
              - {to: 10.30.0.0/24, via: "fe80::1", dev: eth0}
              - {to: 10.0.1.99/32, dev: eth0, table: local, type: local}
              - {to: 10.0.50.255/32, dev: eth0, table: "0xff", type: broadcast}
              - {to: 10.40.0.0/16, table: 100, type: throw}
              - {to: default, via: 10.0.1.1, table: 100}
              - {to: 127.0.0.0/8, dev: lo, table: local, type: local, absent: true}
            rules:
              - {priority: 100, tos: "0x10", table: 100}
              - {priority: 110, uidrange: "100-100", table: 100}
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
}

@Suite struct Layer3Tests {
    @Test func planSaysEveryNewOperationAsIpWould() throws {
        let text = try Layer3Fixture.topology.plan().description
        let lines = text.split(separator: "\n").map(String.init)
        let expected = [
            "ip netns exec h1 sysctl -w net.ipv4.conf.eth0.arp_ignore=1",
            "ip netns exec h1 sysctl -w net.ipv4.conf.eth0.rp_filter=2",
            "ip netns exec h1 sysctl -w net.ipv6.conf.eth0.hop_limit=33",
            "ip netns exec h1 sysctl -w net.ipv6.conf.eth0.accept_dad=1",
            "ip netns exec r1 sysctl -w net.ipv4.conf.eth0.route_localnet=1",
            "ip -n h1 addr add 10.0.1.2/24 dev eth0 metric 50",
            "ip -n h1 addr add 10.0.9.2/24 dev eth0 noprefixroute",
            "ip -n h1 addr add 2001:db8:1::2/64 dev eth0",
            "ip -n r1 addr add 2001:db8:1::1/64 dev eth0 nodad",
            "ip -n h1 route add 10.20.0.0/16 via 10.0.1.1 dev eth0 mtu 1400 advmss 1360",
            "ip -n h1 route add 10.30.0.0/24 via inet6 fe80::1 dev eth0",
            "ip -n h1 route add local 10.0.1.99/32 dev eth0 table local",
            "ip -n h1 route add broadcast 10.0.50.255/32 dev eth0 table local",
            "ip -n h1 route add throw 10.40.0.0/16 table 100",
            "ip -n h1 rule add pref 100 tos 0x10 lookup 100",
            "ip -n h1 rule add pref 110 uidrange 100-100 lookup 100",
            "ip -n h1 rule add pref 120 ipproto tcp sport 1000-2000 dport 80 lookup 100",
            "ip -n h1 rule add pref 130 goto 200",
            "ip -n h1 rule add pref 140 fwmark 0x64/0xff suppress_prefixlength 0 lookup 254",
            "ip -n h1 route del local 127.0.0.0/8 dev lo table local",
        ]
        for line in expected { #expect(lines.contains(line), "missing: \(line)\nplan:\n\(text)") }
        // Interface sysctls come once the links exist and before any address; the route to
        // remove comes after every route and rule.
        let firstVeth = try #require(lines.firstIndex { $0.contains("type veth") })
        let firstAddress = try #require(lines.firstIndex { $0.contains(" addr add ") })
        for line in expected where line.contains("sysctl -w") {
            let i = try #require(lines.firstIndex(of: line))
            #expect(i > firstVeth && i < firstAddress, "\(line) at \(i)")
        }
        #expect(lines.firstIndex(of: "ip -n h1 route del local 127.0.0.0/8 dev lo table local")!
                > lines.lastIndex { $0.contains(" rule add ") }!)
        // Namespace-wide sysctls stay at creation.
        #expect(lines.firstIndex(of: "ip netns exec r1 sysctl -w net.ipv4.ip_forward=1")! < firstVeth)
    }

    @Test func dslFileAndExportAgree() throws {
        let fromFile = try Topology.load(yaml: Layer3Fixture.yaml)
        #expect(fromFile == Layer3Fixture.topology)
        #expect(try Topology.load(yaml: Layer3Fixture.topology.yaml()) == Layer3Fixture.topology)
        #expect(try Topology.load(json: Layer3Fixture.topology.json()) == Layer3Fixture.topology)
        #expect(fromFile.yaml() == Layer3Fixture.topology.yaml())
        // Marks are exported in hex, as `ip rule` prints them.
        #expect(Layer3Fixture.topology.yaml().contains("0x64"))
    }

    @Test func hexAndNamedNumbersAreReadAsIpReadsThem() throws {
        let t = try Topology.load(yaml: Layer3Fixture.yaml)
        let h1 = try #require(t[node: "h1"])
        #expect(h1.routes[0].advmss == 0x550)
        #expect(h1.routes[2].table == RouteTable.local)
        #expect(h1.routes[3].table == 255)
        #expect(h1.rules[4].fwmark == 0x64 && h1.rules[4].fwmask == 0xff)
        #expect(h1.rules[0].tos == 0x10)
        #expect(h1.rules[2].ipproto == 6)
    }
}

/// Validation of the layer-3 declarations: one error per mistake, at its declaration, in the
/// vocabulary of the input.
@Suite struct Layer3ValidationTests {
    private func issues(_ yaml: String) -> [ValidationIssue] {
        do {
            _ = try Topology.load(yaml: yaml)
            return []
        } catch let e as ValidationError {
            return e.issues
        } catch {
            Issue.record("expected a validation error, got \(error)")
            return []
        }
    }

    private func fileError(_ yaml: String) -> String {
        do {
            _ = try Topology.load(yaml: yaml)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func anAddressWithoutPrefixLengthIsAnError() throws {
        let line = #line + 1
        let t = Topology("t") { Host("h1") { Address("10.0.0.1") }; Host("h2"); Link("h1", "h2") }
        let issues = t.validate()
        #expect(issues.count == 1, "\(issues)")
        #expect(issues.first?.location?.line == line)
        #expect(issues.first?.hint?.contains("10.0.0.1/32 if you mean a host address") == true, "\(issues)")
        let link = Topology("t") { Host("h1"); Host("h2"); Link("h1", "h2", aAddress: "fd00::1") }
        #expect(link.validate().first?.hint?.contains("fd00::1/128") == true, "\(link.validate())")
        for yaml in ["nodes: [{name: h1, addresses: [10.0.0.1]}]",
                     "nodes: [{name: h1, addresses: [{address: 10.0.0.1}]}]",
                     "nodes: [{name: h1}, {name: h2}]\nlinks: [{a: h1, b: {endpoint: h2, addresses: [10.0.0.1]}}]"] {
            let message = fileError("name: t\n" + yaml)
            #expect(message.contains("no prefix length") && message.contains("10.0.0.1/32 if you mean a host address"), "\(message)")
        }
    }

    @Test func perInterfaceSysctlsNameAnInterfaceOfTheNode() throws {
        let line = #line + 2
        let t = Topology("t") {
            Host("h1") { Sysctl("net.ipv4.conf.eth9.rp_filter", "1"); Sysctl("net.ipv4.conf.all.rp_filter", "0") }
            Host("h2") { Sysctl("net.ipv6.neigh.default.gc_stale_time", "10"); Sysctl("net.ipv4.conf.lo.arp_ignore", "1") }
            Link("h1", "h2")
        }
        let issues = t.validate()
        #expect(issues.count == 1, "\(issues)")
        #expect(issues.first?.code == .unknownInterface)
        #expect(issues.first?.message.contains("eth9") == true && issues.first?.message.contains("known: eth0, lo") == true)
        // The Sysctl's own line, not the node's.
        #expect(issues.first?.location?.line == line)
        // A VLAN's dots may be written as sysctl(8) writes them.
        let vlan = Topology("t") {
            Host("h1") { VLAN(10, on: "eth0"); Sysctl("net.ipv4.conf.eth0/10.rp_filter", "1") }
            Host("h2"); Link("h1", "h2")
        }
        #expect(vlan.validate() == [])
        #expect(try vlan.plan().description.contains("sysctl -w net.ipv4.conf.eth0/10.rp_filter=1"))
    }

    @Test func aSysctlSetTwiceIsAnError() throws {
        let line = #line + 2
        let t = Topology("t") {
            Host("h1") { Sysctl("net.ipv4.ip_forward", "1"); Sysctl("net.ipv4.ip_forward", "0") }
        }
        let issues = t.validate()
        #expect(issues.map(\.code) == [.duplicateSysctl], "\(issues)")
        #expect(issues.first?.location?.line == line)
    }

    @Test func aBadSysctlValuePointsAtItsSysctl() throws {
        let line = #line + 1
        let t = Topology("t") { Host("h1") { Sysctl("net.ipv4.ip_forward", "1\n0") } }
        #expect(t.validate().first?.location?.line == line, "\(t.validate())")
    }

    @Test func sysctlAndFirewallStepsPointAtTheirDeclarations() throws {
        let sysctlLine = #line + 4
        let firewallLine = #line + 4
        let t = Topology("t") {
            Host("h1") {
                Sysctl("net.ipv4.ip_forward", "1")
                Firewall("table inet f { }")
            }
        }
        let steps = try t.plan().steps
        let sysctl = try #require(steps.first { if case .setSysctl = $0.operation { true } else { false } })
        let firewall = try #require(steps.first { if case .loadFirewall = $0.operation { true } else { false } })
        #expect(sysctl.origin.contains("Layer3Tests.swift:\(sysctlLine)"), "\(sysctl.origin)")
        #expect(firewall.origin.contains("Layer3Tests.swift:\(firewallLine)"), "\(firewall.origin)")
    }

    @Test func aDuplicateRouteIsAnErrorAtItsDeclaration() throws {
        let line = #line + 4
        let t = Topology("t") {
            Host("h1") {
                Route("10.9.0.0/16", via: "10.0.1.1")
                Route("10.9.0.0/16", via: "10.0.1.3")
                Route("10.9.0.0/16", via: "10.0.1.3", metric: 10)
                Route("10.9.0.0/16", via: "10.0.1.3", table: 100)
            }
            Host("h2")
            Link("h1", "h2", aAddress: "10.0.1.2/24", bAddresses: ["10.0.1.1/24", "10.0.1.3/24"])
        }
        let issues = t.validate()
        #expect(issues.map(\.code) == [.duplicateRoute], "\(issues)")
        #expect(issues.first?.location?.line == line)
        // The prefix route an address adds counts too.
        let connected = Topology("t") {
            Host("h1") { Route("10.0.1.0/24", dev: "eth0") }
            Host("h2")
            Link("h1", "h2", aAddress: "10.0.1.2/24")
        }
        #expect(connected.validate().first?.message.contains("prefix route of address 10.0.1.2/24") == true, "\(connected.validate())")
        let unrouted = Topology("t") {
            Host("h1") { Address("10.0.1.2/24", noprefixroute: true); Route("10.0.1.0/24", dev: "eth0") }
            Host("h2")
            Link("h1", "h2")
        }
        #expect(unrouted.validate() == [])
    }

    @Test func routeTypesAndGatewayFamilies() throws {
        let bad = Topology("t") {
            Host("h1") {
                Route("10.1.0.0/16", dev: "eth0", type: .throw)
                Route("10.2.0.1/32", type: .local)
                Route("2001:db8:9::/48", via: "10.0.1.1")
                Route("10.3.0.0/16", via: "fe80::1")
            }
            Host("h2")
            Link("h1", "h2", aAddress: "10.0.1.2/24", bAddress: "10.0.1.1/24")
        }
        let issues = bad.validate()
        #expect(issues.map(\.code) == [.invalidRoute, .invalidRoute, .familyMismatch, .unreachableGateway], "\(issues)")
        #expect(issues.contains { $0.message.contains("throw route") })
        #expect(issues.contains { $0.message.contains("needs dev") })
        // An unknown type lists every declarable one.
        let message = fileError("name: t\nnodes: [{name: h1, routes: [{to: 10.0.0.0/8, type: thrown}]}]")
        #expect(message.contains("local, broadcast") && message.contains("throw") && message.contains("did you mean \"throw\""), "\(message)")
    }

    @Test func ruleShapesTheKernelRefuses() throws {
        let t = Topology("t") {
            Host("h1") {
                Rule(priority: 300, action: .goto(priority: 200))
                Rule(action: .goto(priority: 200))
                Rule(priority: 100, l3mdev: true, table: 100)
                Rule(priority: 10, l3mdev: true)
                Rule(priority: 50, suppressPrefixlength: 33)
                Rule(priority: 60, tos: 0x03)
            }
        }
        let issues = t.validate()
        #expect(issues.map(\.code) == [.invalidRule, .invalidRule, .invalidRule, .invalidRule, .invalidRule], "\(issues)")
        #expect(issues.last?.message.contains("ECN") == true)
        let ranges = fileError("name: t\nnodes: [{name: h1, rules: [{dport: 2000-1000}]}]")
        #expect(ranges.contains("START ≤ END"), "\(ranges)")
        let mark = fileError("name: t\nnodes: [{name: h1, rules: [{fwmark: 0xzz}]}]")
        #expect(mark.contains("hex like 0x64"), "\(mark)")
    }

    @Test func aTooLongInterfaceNameGivesOneError() throws {
        let t = Topology("t") {
            Host("h1") { Address("10.0.0.1/24", on: "averyveryverylongname"); Sysctl("net.ipv4.conf.averyveryverylongname.rp_filter", "1") }
            Host("h2")
            Link("h1:averyveryverylongname", "h2")
        }
        let issues = t.validate()
        #expect(issues.map(\.code) == [.invalidInterfaceName], "\(issues)")
    }

    @Test func fileUsersGetHintsInFileWords() throws {
        let issues = issues("name: t\nnodes: [{name: h1}]\nlinks: [{a: h1, b: h3}]")
        #expect(issues.first?.hint == "add {name: h3} to nodes, or fix the endpoint", "\(issues)")
        #expect(issues.first?.hint?.contains("Host(") == false)
        let swift = Topology("t") { Host("h1"); Link("h1", "h3") }.validate()
        #expect(swift.first?.hint?.contains("declare Host(\"h3\")") == true)
    }

    @Test func enumKeysListTheirValues() throws {
        let kind = fileError("name: t\nnodes: [{name: r1, kind: rooter}]")
        #expect(kind.contains("host, router, switch") && kind.contains("did you mean \"router\""), "\(kind)")
        let family = fileError("name: t\nnodes: [{name: r1, rules: [{family: inet}]}]")
        #expect(family.contains("ipv4, ipv6"), "\(family)")
        let mode = fileError("name: t\nnodes: [{name: r1, macvlans: [{name: m0, parent: eth0, mode: brige}]}]")
        #expect(mode.contains("private, vepa, bridge, passthru") && mode.contains("did you mean \"bridge\""), "\(mode)")
    }
}
