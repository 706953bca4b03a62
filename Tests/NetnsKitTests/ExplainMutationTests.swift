import Foundation
import Netlink
import NetnsKit
import Scenarios
import Testing

/// One thing broken on a catalogue scenario's working path, and what the explanation must then say.
enum PathMutation: String, CaseIterable, Sendable {
    case routeRemoved, forwardingOff, linkDown, nftDrop, rpFilterStrict
}

/// For every catalogue scenario (loaded from `Scenarios/catalogue/*.yaml` by the scenario loader)
/// and every mutation that applies to its first reachability check: build the lab, check that
/// the explanation of that check says the path works, break one thing on the path, and check
/// that the explanation names the node that was broken and the reason.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct ExplainMutationTests {
    @Test(arguments: Catalogue.names, PathMutation.allCases)
    func aBrokenPathIsExplainedWhereItBreaks(_ name: String, _ mutation: PathMutation) async throws {
        let scenario = try #require(Catalogue.named(name))
        for feature in scenario.requires {
            if let o = KernelFeatures.shared.probe(feature), !o.supported {
                try Test.cancel(Comment(rawValue: "this kernel has no \(o.feature)" + (o.detail.map { " (\($0))" } ?? "")))
            }
        }
        guard let (from, to) = scenario.expectations.lazy.compactMap({ e -> (String, IPAddress)? in
            guard case let .reachable(f, t) = e, let a = IPAddress(t) else { return nil }
            return (f, a)
        }).first else { return }
        let lab = try await Lab.up(scenario.topology)
        defer { lab.down() }
        for command in scenario.setup {
            let r = try await lab.node(command.node).run(command.argv, stdin: command.stdin.map { Array($0.utf8) })
            try #require(r.status == 0, "setup \(command): \(r)")
        }
        let before = try await lab.explain(from: from, to: to)
        try #require(before.works, "\(name): the unbroken path should work:\n\(before)")

        let v6 = to.isIPv6
        let routers = before.hops.filter { $0.kind == .route && $0.inInterface != nil }
        let first = routers.first
        let broken: String
        let reason: ExplainReason
        switch mutation {
        case .routeRemoved:
            broken = first?.node ?? from
            reason = .noRoute
            let node = lab[broken]
            // Every route that holds the destination, in every table but local: nothing is left to fall back on.
            for r in try node.routes(v6 ? .ipv6 : .ipv4, table: nil)
            where r.table != RouteTable.local && r.type == .unicast && (r.destination?.contains(to) ?? true) {
                let result = try await node.run(["ip", v6 ? "-6" : "-4", "route", "del", r.destinationText, "table", "\(r.table)"])
                try #require(result.status == 0, "\(result)")
            }
        case .forwardingOff:
            guard let first else { return }
            broken = first.node
            reason = .forwardingOff
            try lab[broken].setSysctl(v6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.conf.all.forwarding", "0")
        case .linkDown:
            let hop = first ?? before.hops[0]
            broken = hop.node
            reason = .linkDown
            let dev = try #require(hop.outInterface)
            let r = try await lab[broken].run(["ip", "link", "set", dev, "down"])
            try #require(r.status == 0, "\(r)")
        case .nftDrop:
            guard access("/usr/sbin/nft", X_OK) == 0 || access("/usr/bin/nft", X_OK) == 0 else { return }
            // A router drops it in forward; with no router, the destination drops it in input.
            let target = first?.node ?? before.hops.last!.node
            broken = target
            reason = .nftables
            let r = try await lab[target].run(["nft", "-f", "-"], stdin: Array("""
                table inet explainmut {
                    chain c { type filter hook \(first == nil ? "input" : "forward") priority 0; \(v6 ? "ip6" : "ip") daddr \(to) drop; }
                }
                """.utf8))
            try #require(r.status == 0, "\(r)")
        case .rpFilterStrict:
            guard let first, !v6, let iif = first.inInterface, let out = first.outInterface, let src = before.source else { return }
            broken = first.node
            reason = .reversePath
            // The route back to the sender now leaves by the interface towards the destination.
            let r = try await lab[broken].run(["ip", "route", "add", "\(src)/32", "dev", out])
            try #require(r.status == 0, "\(r)")
            try lab[broken].setSysctl("net.ipv4.conf.all.rp_filter", "1")
            try lab[broken].setSysctl("net.ipv4.conf.\(iif).rp_filter", "1")
        }
        let after = try await lab.explain(from: from, to: to)
        if after.works {
            // Another path took over (a second ECMP next hop): fine, if the kernel agrees.
            let probe = await lab.check(.reachable(from: from, to: "\(to)"))
            #expect(probe.passed && mutation == .linkDown, "\(name)/\(mutation) at \(broken): explained as working:\n\(after)")
            return
        }
        // A link taken down can kill the packet at the other end of the link (a multipath reply
        // that picks the next hop with no carrier), which then names the interface that is down.
        let namesTheLink = mutation == .linkDown && after.description.contains("its peer \(broken):")
        #expect(after.failedNode == broken || namesTheLink, "\(name)/\(mutation): broke \(broken):\n\(after)")
        let accepted: Set<ExplainReason> = [reason]
        #expect(after.failedReason.map(accepted.contains) == true, "\(name)/\(mutation): broke \(broken):\n\(after)")
        #expect(await !lab.check(.reachable(from: from, to: "\(to)")).passed, "\(name)/\(mutation): the probe still passes")
    }
}
