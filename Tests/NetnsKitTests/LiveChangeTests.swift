import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// Changes to a running lab: each kind is made through the node handle, then checked against
/// the kernel's own view (`ip -j`, `tc -j`, `nft -j` inside the node).
@Suite(.netnsPrivileges) struct LiveChangeTests {
    static let pair = Topology("live") {
        Host("a") { Address("10.0.1.1/24") }
        Host("b") { Address("10.0.1.2/24") }
        Host("c")
        Link("a", "b")
    }

    func link(_ node: Node, _ name: String) throws -> [String: Any] {
        try #require(try ipj(node, ["-d", "link", "show", "dev", name]).first)
    }

    func tool(_ node: Node, _ argv: [String]) throws -> Any {
        let r = try node.runBlocking(argv, timeout: 10)
        guard r.status == 0 else { throw BuilderTestFailure("\(argv.joined(separator: " ")) in \(node.name): \(r)") }
        return try JSONSerialization.jsonObject(with: Data(r.stdout))
    }

    @Test func linkDownAndUpAreLogged() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].linkDown("eth0")
        #expect(!((try link(lab["a"], "eth0")["flags"] as? [String]) ?? []).contains("UP"))
        try lab["a"].linkUp("eth0")
        #expect(((try link(lab["a"], "eth0")["flags"] as? [String]) ?? []).contains("UP"))
        #expect(lab.changes.map(\.command) == ["ip link set eth0 down", "ip link set eth0 up"])
        #expect(lab.changes.allSatisfy { $0.node == "a" && $0.error == nil })
        #expect(lab.stateDump().contains("── changes\n"))
        #expect(lab.stateDump().contains("a: ip link set eth0 down ("))
    }

    @Test func flapTakesTheLinkDownForTheDuration() async throws {
        let lab = try await Lab.up(Self.pair)
        defer { lab.down() }
        try await lab["a"].flap("eth0", downFor: .milliseconds(200))
        #expect(((try link(lab["a"], "eth0")["flags"] as? [String]) ?? []).contains("UP"))
        let c = lab.changes
        try #require(c.count == 2)
        #expect(c[0].command == "ip link set eth0 down" && c[1].command == "ip link set eth0 up")
        #expect(c[1].at - c[0].at >= 0.2)
    }

    @Test func mtuIsSetAndARefusedMTUCarriesTheKernelsText() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].setMTU("eth0", 1400)
        #expect(try link(lab["a"], "eth0")["mtu"] as? Int == 1400)
        let e = try #require(throws: ChangeError.self) { try lab["a"].setMTU("eth0", 10) }
        #expect(e.command == "ip link set eth0 mtu 10")
        #expect(e.netlinkError?.errno == .invalidArgument)
        #expect(e.netlinkError?.kernelMessage?.contains("mtu") == true, "\(e)")
        #expect("\(e)".hasPrefix("changing a failed: ip link set eth0 mtu 10: "))
        #expect(lab.changes.last?.error != nil)
        #expect(try link(lab["a"], "eth0")["mtu"] as? Int == 1400)
    }

    @Test func anUnknownInterfaceIsNamed() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        let e = try #require(throws: ChangeError.self) { try lab["a"].linkDown("eth9") }
        #expect("\(e)".contains("node a has no interface \"eth9\""), "\(e)")
        #expect(throws: ChangeError.self) { try lab["a"].addAddress("10.0.1.300/24", on: "eth0") }
    }

    @Test func moveLinkIntoAnotherNode() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].moveLink("eth0", to: lab["c"])
        #expect(try ipj(lab["a"], ["link", "show"]).compactMap { $0["ifname"] as? String }
            .filter { !NetworkNamespace.kernelFallbackDevices.contains($0) } == ["lo"])
        #expect(try ipj(lab["c"], ["link", "show"]).compactMap { $0["ifname"] as? String }.contains("eth0"))
        try lab["c"].addAddress("10.0.1.1/24", on: "eth0")
        try lab["c"].linkUp("eth0")
        #expect(((try link(lab["c"], "eth0")["flags"] as? [String]) ?? []).contains("UP"))
    }

    func addresses(_ node: Node) throws -> [String] {
        try ipj(node, ["addr", "show", "dev", "eth0"]).flatMap { ($0["addr_info"] as? [[String: Any]]) ?? [] }
            .compactMap { a in (a["local"] as? String).map { "\($0)/\(a["prefixlen"] as? Int ?? -1)" } }
    }

    @Test func addressesAreAddedAndRemoved() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].addAddress("10.9.9.1/24", on: "eth0")
        try lab["a"].addAddress("fd00:99::1/64", on: "eth0")
        #expect(try addresses(lab["a"]).contains("10.9.9.1/24"))
        #expect(try addresses(lab["a"]).contains("fd00:99::1/64"))
        try lab["a"].removeAddress("10.9.9.1/24", on: "eth0")
        #expect(!(try addresses(lab["a"]).contains("10.9.9.1/24")))
        #expect(try addresses(lab["a"]).contains("10.0.1.1/24"))
        // Removing it again: the kernel's answer comes back, named.
        let e = try #require(throws: ChangeError.self) { try lab["a"].removeAddress("10.9.9.1/24", on: "eth0") }
        #expect(e.netlinkError?.errno == .addressNotAvailable, "\(e)") // EADDRNOTAVAIL
    }

    @Test func routesAreAddedReplacedAndRemoved() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].addRoute(Route("10.20.0.0/16", via: "10.0.1.2"))
        var r = try ipj(lab["a"], ["route", "show", "10.20.0.0/16"])
        #expect(r.count == 1 && r.first?["gateway"] as? String == "10.0.1.2" && r.first?["dev"] as? String == "eth0")
        try lab["a"].addRoute(Route("10.20.0.0/16", dev: "eth0", metric: 0), replace: true)
        r = try ipj(lab["a"], ["route", "show", "10.20.0.0/16"])
        #expect(r.count == 1 && r.first?["gateway"] == nil && r.first?["scope"] as? String == "link")
        #expect(throws: ChangeError.self) { try lab["a"].addRoute(Route("10.20.0.0/16", via: "10.0.1.2")) } // EEXIST
        try lab["a"].removeRoute(Route("10.20.0.0/16"))
        #expect(try ipj(lab["a"], ["route", "show", "10.20.0.0/16"]).isEmpty)
        let e = try #require(throws: ChangeError.self) { try lab["a"].removeRoute(Route("10.20.0.0/16")) }
        #expect(e.netlinkError?.errno == .noSuchProcess, "\(e)") // ESRCH
        let bad = try #require(throws: ChangeError.self) { try lab["a"].addRoute(Route("10.21.0.0/16", via: "10.0.1.x")) }
        #expect("\(bad)".contains("via \"10.0.1.x\""), "\(bad)")
    }

    @Test func rulesAreAddedAndRemoved() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        let rule = Rule(priority: 1000, from: "10.30.0.0/16", table: 100)
        try lab["a"].addRule(rule)
        let found = try ipj(lab["a"], ["rule", "show"]).filter { $0["priority"] as? Int == 1000 }
        #expect(found.count == 1 && found.first?["src"] as? String == "10.30.0.0" && found.first?["table"] as? String == "100")
        try lab["a"].removeRule(rule)
        #expect(try ipj(lab["a"], ["rule", "show"]).filter { $0["priority"] as? Int == 1000 }.isEmpty)
    }

    @Test func neighboursAreAddedAndRemoved() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].addNeighbor(Neighbor("10.0.1.77", mac: "02:00:00:00:00:77", on: "eth0"))
        let n = try ipj(lab["a"], ["neigh", "show", "10.0.1.77", "dev", "eth0"])
        #expect(n.count == 1 && n.first?["lladdr"] as? String == "02:00:00:00:00:77")
        #expect((n.first?["state"] as? [String]) == ["PERMANENT"])
        try lab["a"].removeNeighbor("10.0.1.77", on: "eth0")
        #expect(try ipj(lab["a"], ["neigh", "show", "10.0.1.77", "dev", "eth0"]).isEmpty)
    }

    func rootQdisc(_ node: Node) throws -> [String: Any] {
        let all = try #require(try tool(node, ["tc", "-j", "qdisc", "show", "dev", "eth0"]) as? [[String: Any]])
        return try #require(all.first { $0["root"] as? Bool == true })
    }

    @Test func aShaperIsReplacedAndRemoved() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].replaceQdisc(.tbf(rate: .mbit(10), burst: 32_000, limit: .latency(.milliseconds(50))), on: "eth0")
        var q = try rootQdisc(lab["a"])
        #expect(q["kind"] as? String == "tbf")
        #expect((q["options"] as? [String: Any])?["rate"] as? Int == 1_250_000, "\(q)") // bytes/s
        try lab["a"].replaceQdisc(.tbf(rate: .mbit(20), burst: 32_000, limit: .latency(.milliseconds(50))), on: "eth0")
        q = try rootQdisc(lab["a"])
        #expect((q["options"] as? [String: Any])?["rate"] as? Int == 2_500_000, "\(q)")
        try lab["a"].removeQdisc(on: "eth0")
        #expect(try rootQdisc(lab["a"])["kind"] as? String != "tbf")
        #expect(lab.changes.map(\.command).last == "tc qdisc del dev eth0 root")
    }

    @Test(.kernelHas(qdisc: "netem")) func netemDelayAndLossAreChangedOnTheFly() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        try lab["a"].replaceQdisc(.netem(delay: .milliseconds(20), loss: 5), on: "eth0")
        var q = try rootQdisc(lab["a"])
        #expect(q["kind"] as? String == "netem")
        var o = q["options"] as? [String: Any]
        #expect(((o?["delay"] as? [String: Any])?["delay"] as? Double).map { abs($0 - 0.02) < 0.001 } == true, "\(q)")
        #expect(((o?["loss-random"] as? [String: Any])?["loss"] as? Double).map { abs($0 - 0.05) < 0.001 } == true, "\(q)")
        try lab["a"].replaceQdisc(.netem(delay: .milliseconds(40)), on: "eth0")
        q = try rootQdisc(lab["a"])
        o = q["options"] as? [String: Any]
        #expect(((o?["delay"] as? [String: Any])?["delay"] as? Double).map { abs($0 - 0.04) < 0.001 } == true, "\(q)")
    }

    @Test(.enabled(if: !NetnsTestEnvironment.kernelHas(qdisc: "netem"), "this kernel has netem")) func netemOnAKernelWithoutItIsNamedUnsupported() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        let e = try #require(throws: ChangeError.self) { try lab["a"].replaceQdisc(.netem(delay: .milliseconds(20)), on: "eth0") }
        #expect(e.unsupportedFeature == "netem qdisc", "\(e)")
    }

    @Test func firewallTablesAreLoadedAndRemoved() async throws {
        guard Spawner.locate("nft", along: "/usr/sbin:/usr/bin:/sbin:/bin") != nil else {
            try Test.cancel("nft is not installed (apt-get install nftables)")
        }
        let lab = try await Lab.up(Self.pair)
        defer { lab.down() }
        func tables() throws -> [String] {
            let j = try #require(try tool(lab["a"], ["nft", "-j", "list", "tables"]) as? [String: Any])
            return ((j["nftables"] as? [[String: Any]]) ?? []).compactMap { ($0["table"] as? [String: Any])?["name"] as? String }
        }
        try await lab["a"].loadFirewall("table inet live {\n  chain input { type filter hook input priority 0; policy accept; }\n}\n")
        #expect(try tables() == ["live"])
        try await lab["a"].removeFirewallTable("inet", "live")
        #expect(try tables().isEmpty)
        let e = try await #require(throws: ChangeError.self) { try await lab["a"].loadFirewall("table inet { oops\n") }
        #expect("\(e)".contains("nft rejected the ruleset"), "\(e)")
    }
}

/// Fault timelines: changes and checks at times, each check timed until it holds.
@Suite(.netnsPrivileges) struct TimelineTests {
    /// Two paths from a to b's 10.9.9.9: eth0 (metric 10) and eth1 (metric 20).
    static let twoPaths = Topology("paths") {
        Host("a") {
            Route("10.9.9.9/32", via: "10.0.1.2", metric: 10)
            Route("10.9.9.9/32", via: "10.0.2.2", metric: 20)
        }
        Host("b") { Address("10.9.9.9/32", on: "lo") }
        Link("a:eth0", "b:eth0", aAddress: "10.0.1.1/24", bAddress: "10.0.1.2/24")
        Link("a:eth1", "b:eth1", aAddress: "10.0.2.1/24", bAddress: "10.0.2.2/24")
    }

    @Test func aFlapTimelineReroutesAndComesBack() async throws {
        let lab = try await Lab.up(Self.twoPaths)
        defer { lab.down() }
        let results = await lab.run([
            .expect(.route(in: "a", to: "10.9.9.9", dev: "eth0"), within: .seconds(1)),
            .change(.at(.milliseconds(300)), .linkDown(node: "a", link: "eth0")),
            .expect(.route(in: "a", to: "10.9.9.9", dev: "eth1"), within: .seconds(1)),
            .expect(.reachable(from: "a", to: "10.9.9.9"), within: .seconds(3)),
            .change(.after(.milliseconds(100)), .linkUp(node: "a", link: "eth0")),
            // IPv4 drops routes through a link taken down; without a daemon, put it back.
            .change(.addRoute(node: "a", Route("10.9.9.9/32", via: "10.0.1.2", metric: 10))),
            .expect(.route(in: "a", to: "10.9.9.9", dev: "eth0"), within: .seconds(1)),
        ])
        #expect(results.allSatisfy { $0.outcome == .passed }, "\(results.map(\.description).joined(separator: "\n"))")
        #expect(results[1].startedAt >= 0.3)
        #expect(results.compactMap(\.convergence).count == 4)
        #expect(lab.changes.map(\.command) == ["ip link set eth0 down", "ip link set eth0 up",
                                               "ip route add 10.9.9.9/32 via 10.0.1.2 metric 10"])
    }

    @Test func aCheckThatNeverHoldsFailsAndSkipsTheRest() async throws {
        let lab = try await Lab.up(Self.twoPaths)
        defer { lab.down() }
        let results = await lab.run([
            .change(.linkDown(node: "a", link: "eth0")),
            .expect(.route(in: "a", to: "10.9.9.9", dev: "eth0"), within: .milliseconds(300)),
            .change(.linkUp(node: "a", link: "eth0")),
        ])
        #expect(results.map(\.outcome) == [.passed, .failed, .skipped])
        #expect(results[1].observed?.contains("did not hold within 0.3 s") == true, "\(results[1])")
        #expect(lab.changes.count == 1)
    }
}
