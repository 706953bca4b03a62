import Foundation
import Netlink
import NetnsKit
import NetnsTesting
import Testing

/// h1 — r1 — r2 — h2, IPv4 and IPv6, static routes both ways:
///
///     h1 eth0 10.0.1.2 ── eth0 r1 eth1 10.0.12.1 ── 10.0.12.2 eth0 r2 eth1 10.0.2.1 ── eth0 h2 10.0.2.2
let explainChain = Topology("explain") {
    Host("h1") { Address("10.0.1.2/24"); Address("fd00:1::2/64"); Route(.default, via: "10.0.1.1"); Route(.default, via: "fd00:1::1") }
    Router("r1") { Route("10.0.2.0/24", via: "10.0.12.2"); Route("fd00:2::/64", via: "fd00:12::2") }
    Router("r2") { Route("10.0.1.0/24", via: "10.0.12.1"); Route("fd00:1::/64", via: "fd00:12::1") }
    Host("h2") { Address("10.0.2.2/24"); Address("fd00:2::2/64"); Route(.default, via: "10.0.2.1"); Route(.default, via: "fd00:2::1") }
    Link("h1:eth0", "r1:eth0", bAddresses: ["10.0.1.1/24", "fd00:1::1/64"])
    Link("r1:eth1", "r2:eth0", aAddresses: ["10.0.12.1/24", "fd00:12::1/64"], bAddresses: ["10.0.12.2/24", "fd00:12::2/64"])
    Link("r2:eth1", "h2:eth0", aAddresses: ["10.0.2.1/24", "fd00:2::1/64"])
}

/// Runs `ip …` (or any command) in a node and requires it to succeed.
private func sh(_ lab: Lab, _ node: String, _ argv: String...) async throws {
    let r = try await lab[node].run(argv)
    try #require(r.status == 0, "\(node): \(argv.joined(separator: " ")): \(r.errorOutput)")
}

/// Asserts the explanation names `node` and `reason`, and shows the whole explanation if not.
private func expectDies(_ e: Explanation, at node: String, _ reason: ExplainReason, reply: Bool = false,
                        saying words: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!e.works, "\(e)", sourceLocation: sourceLocation)
    #expect(e.failedNode == node, "\(e)", sourceLocation: sourceLocation)
    #expect(e.failedReason == reason, "\(e)", sourceLocation: sourceLocation)
    #expect(e.replyFails == reply, "\(e)", sourceLocation: sourceLocation)
    if let words { #expect(e.description.contains(words), "\(e)", sourceLocation: sourceLocation) }
}

@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct ExplainTests {
    @Test(.lab(explainChain), arguments: ["10.0.2.2", "fd00:2::2"])
    func aReachableDestinationShowsTheWholePath(_ to: String) async throws {
        let lab = try #require(Lab.current)
        let e = try await lab.explain(from: "h1", to: to)
        #expect(e.works, "\(e)")
        #expect(e.failedNode == nil)
        #expect(e.hops.map(\.node) == ["h1", "r1", "r2", "h2"], "\(e)")
        #expect(e.reply.map(\.node) == ["h2", "r2", "r1", "h1"], "\(e)")
        #expect(e.hops.last?.kind == .delivered && e.reply.last?.kind == .delivered)
        #expect(e.probe == "echo reply")
        // Each hop's next hop and device are what `ip route get` says in that node, independently.
        let v6 = to.contains(":")
        for (hop, forwarded) in [("h1", false), ("r1", true), ("r2", true)] {
            var argv = ["ip", "-j", v6 ? "-6" : "-4", "route", "get", to]
            if forwarded {
                argv += ["from", v6 ? "fd00:1::2" : "10.0.1.2", "iif", "eth0"]
            }
            let r = try await lab[hop].run(argv)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [[String: Any]]).first
            let step = try #require(e.hops.first { $0.node == hop && $0.kind == .route })
            #expect(step.outInterface == json?["dev"] as? String, "\(hop): \(r.output)")
            #expect(step.gateway == json?["gateway"] as? String, "\(hop): \(r.output)")
        }
        // One probe passed every interface of the path.
        #expect(e.counters.allSatisfy { $0.rxPackets + $0.txPackets > 0 }, "\(e)")
        // The JSON is the same value.
        let decoded = try JSONDecoder().decode(Explanation.self, from: Data(e.json.utf8))
        #expect(decoded == e)
    }

    @Test(.lab(explainChain), arguments: ["10.0.2.2", "fd00:2::2"])
    func noRouteAtTheSender(_ to: String) async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "h1", "ip", to.contains(":") ? "-6" : "-4", "route", "del", "default")
        expectDies(try await lab.explain(from: "h1", to: to), at: "h1", .noRoute, saying: "Network is unreachable")
    }

    @Test(.lab(explainChain), arguments: [("10.0.2.2", "10.0.1.99"), ("fd00:2::2", "fd00:1::99")])
    func aGatewayNobodyHasLeavesTheNeighbourUnresolved(_ to: String, _ gateway: String) async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "h1", "ip", "route", "replace", "default", "via", gateway)
        let e = try await lab.explain(from: "h1", to: to)
        expectDies(e, at: "h1", .neighbourFailed, saying: "r1 on the other end does not have \(gateway)")
        #expect(e.description.contains(to.contains(":") ? "neighbour solicitation" : "ARP"))
    }

    @Test(.lab(explainChain)) func aLinkDownOnARouter() async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "r2", "ip", "link", "set", "eth1", "down")
        expectDies(try await lab.explain(from: "h1", to: "10.0.2.2"), at: "r2", .linkDown, saying: "eth1 is down")
    }

    @Test(.lab(explainChain)) func aPeerDownLeavesNoCarrier() async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "h2", "ip", "link", "set", "eth0", "down")
        expectDies(try await lab.explain(from: "h1", to: "10.0.2.2"), at: "r2", .linkDown,
                   saying: "dev eth1 has no carrier (its peer h2:eth0 is down)")
    }

    @Test(.lab(explainChain), arguments: [("10.0.2.2", "net.ipv4.ip_forward"), ("fd00:2::2", "net.ipv6.conf.all.forwarding")])
    func forwardingOff(_ to: String, _ key: String) async throws {
        let lab = try #require(Lab.current)
        try lab["r2"].setSysctl(key, "0")
        expectDies(try await lab.explain(from: "h1", to: to), at: "r2", .forwardingOff, saying: "forwarding is off")
    }

    @Test(.lab(explainChain), arguments: [RouteType.unreachable, .prohibit, .blackhole], [false, true])
    func rejectRoutesOnARouter(_ type: RouteType, _ v6: Bool) async throws {
        let lab = try #require(Lab.current)
        let reason: ExplainReason = type == .unreachable ? .unreachableRoute : type == .prohibit ? .prohibitRoute : .blackholeRoute
        try await sh(lab, "r1", "ip", "route", "add", "\(type)", v6 ? "fd00:2::/112" : "10.0.2.0/25")
        expectDies(try await lab.explain(from: "h1", to: v6 ? "fd00:2::2" : "10.0.2.2"), at: "r1", reason,
                   saying: "route \(type) \(v6 ? "fd00:2::/112" : "10.0.2.0/25")")
    }

    @Test(.lab(explainChain)) func strictReversePathFiltering() async throws {
        let lab = try #require(Lab.current)
        // r2's route back to h1 now leaves by eth1, not eth0 where h1's packets arrive.
        try await sh(lab, "r2", "ip", "route", "replace", "10.0.1.0/24", "via", "10.0.2.2")
        try lab["r2"].setSysctl("net.ipv4.conf.all.rp_filter", "1")
        try lab["r2"].setSysctl("net.ipv4.conf.eth0.rp_filter", "1")
        expectDies(try await lab.explain(from: "h1", to: "10.0.2.2"), at: "r2", .reversePath,
                   saying: "reverse-path check fails (rp_filter=1 on eth0: route back to 10.0.1.2 leaves by eth1, not eth0")
    }

    @Test(.lab(explainChain)) func anNftablesDropIsNamed() async throws {
        let lab = try #require(Lab.current)
        let r = try await lab["r2"].run(["nft", "-f", "-"], stdin: Array("""
            table inet filter {
                chain forward { type filter hook forward priority 0; policy accept; ip daddr 10.0.2.2 drop; }
            }
            """.utf8))
        try #require(r.status == 0, "nft: \(r.errorOutput)")
        let e = try await lab.explain(from: "h1", to: "10.0.2.2")
        // Traced: the rule's handle and text, in the chain that dropped it.
        expectDies(e, at: "r2", .nftables, saying: "r2   in eth0 → dropped by nftables inet filter forward: rule 2 \"ip daddr 10.0.2.2 drop\" (verdict drop)")
        #expect(e.hops.last?.kind == .dropped, "\(e)")
        // The tracing table is gone again.
        let rules = try await lab["r2"].run(["nft", "list", "tables"])
        #expect(!rules.output.contains("nslab_explain"), "\(rules.output)")
    }

    @Test(.lab(explainChain)) func aRoutingLoopRunsOutOfTTL() async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "r2", "ip", "route", "replace", "10.0.2.0/24", "via", "10.0.12.1")
        // 64 hops: r1 takes the odd ones, r2 the even ones and the 64th, where the TTL is 1.
        expectDies(try await lab.explain(from: "h1", to: "10.0.2.2"), at: "r2", .ttlExceeded,
                   saying: "TTL exceeded (it arrives with 1; path so far h1 → r1 → r2 → r1")
        expectDies(try await lab.explain(from: "h1", to: "10.0.2.2", ttl: 2), at: "r2", .ttlExceeded)
    }

    @Test(.lab(explainChain), arguments: [("10.0.2.2", 1272), ("fd00:2::2", 1252)])
    func tooBigWithDF(_ to: String, _ fits: Int) async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "r2", "ip", "link", "set", "eth1", "mtu", "1300")
        try await sh(lab, "h2", "ip", "link", "set", "eth0", "mtu", "1300")
        expectDies(try await lab.explain(from: "h1", to: to, size: fits + 1), at: "r2", .tooBig,
                   saying: "> mtu 1300 of eth1")
        let ok = try await lab.explain(from: "h1", to: to, size: fits)
        #expect(ok.works, "\(ok)")
    }

    @Test(.lab(explainChain)) func aBrokenReplyPath() async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "r2", "ip", "route", "del", "10.0.1.0/24")
        let e = try await lab.explain(from: "h1", to: "10.0.2.2")
        expectDies(e, at: "r2", .noRoute, reply: true, saying: "no route to 10.0.1.2")
        #expect(e.hops.last?.kind == .delivered && e.hops.last?.node == "h2", "\(e)")
    }

    @Test(.lab(explainChain)) func tcpAndUDPFollowTheSamePath() async throws {
        let lab = try #require(Lab.current)
        let tcp = try await lab.explain(from: "h1", to: "10.0.2.2", protocol: .tcp(port: 9))
        #expect(tcp.works && tcp.probe?.hasPrefix("connection refused") == true, "\(tcp)")
        let udp = try await lab.explain(from: "h1", to: "10.0.2.2", protocol: .udp(port: 9))
        #expect(udp.works && udp.hops.map(\.node) == ["h1", "r1", "r2", "h2"], "\(udp)")
        try await sh(lab, "r1", "ip", "route", "add", "prohibit", "10.0.2.2/32")
        expectDies(try await lab.explain(from: "h1", to: "10.0.2.2", protocol: .tcp(port: 9)), at: "r1", .prohibitRoute)
    }

    @Test(.lab(explainChain)) func policyRulesAndMarksChooseTheTable() async throws {
        let lab = try #require(Lab.current)
        try await sh(lab, "h1", "ip", "route", "add", "default", "via", "10.0.1.1", "table", "100")
        try await sh(lab, "h1", "ip", "route", "del", "default")
        try await sh(lab, "h1", "ip", "rule", "add", "pref", "100", "from", "10.0.1.2", "lookup", "100")
        try await sh(lab, "h1", "ip", "route", "add", "prohibit", "10.0.2.0/24", "table", "200")
        try await sh(lab, "h1", "ip", "rule", "add", "pref", "50", "fwmark", "7", "lookup", "200")
        let e = try await lab.explain(from: "h1", to: ip("10.0.2.2"), source: ip("10.0.1.2"))
        #expect(e.works, "\(e)")
        #expect(e.hops.first?.table == "100", "\(e)")
        #expect(e.description.contains("(table 100) by rule \"100: from 10.0.1.2/32 lookup 100\""), "\(e)")
        // The mark is part of the sender's lookup: the fwmark rule sends it to the prohibit route.
        expectDies(try await lab.explain(from: "h1", to: ip("10.0.2.2"), source: ip("10.0.1.2"), mark: 7), at: "h1",
                   .prohibitRoute, saying: "route prohibit 10.0.2.0/24")
    }

    @Test(.lab(explainChain)) func aFailedExpectationPutsTheExplanationFirst() async throws {
        let lab = try #require(Lab.current)
        try lab["r1"].setSysctl("net.ipv4.ip_forward", "0")
        let f = try #require(await lab.verify(.reachable(from: "h1", to: "10.0.2.2")))
        let text = f.description
        let why = try #require(text.range(of: "why, hop by hop:"))
        let state = try #require(text.range(of: "kernel state:"))
        #expect(why.lowerBound < state.lowerBound)
        #expect(text.contains("r1   in eth0 → dropped: forwarding is off"), "\(text)")
        let tcp = try #require(await lab.verify(.tcp(from: "h1", to: "10.0.2.2", port: 80, open: true)))
        #expect(tcp.explanation.contains("forwarding is off"), "\(tcp)")
        // Kernel-state expectations have no path to explain.
        let link = try #require(await lab.verify(.link(in: "h1", name: "eth0", up: false)))
        #expect(link.explanation.isEmpty)
    }
}
