import Foundation
import Namespaces
import Netlink

/// nftables tracing around one probe: in every node that has a ruleset, a table of our own
/// sets `meta nftrace` on the probe's packets (to and from the destination) before any other
/// chain sees them, and `nft monitor trace` (the kernel's `NFT_MSG_TRACE` events on
/// `NFNLGRP_NFTRACE`) reports each chain's verdict, with the rule's handle and text.
///
/// The trace mark does not survive a veth crossing into another namespace (the skb is
/// scrubbed), so each node marks the packets it receives or sends itself.
final class NftTracer: @unchecked Sendable {
    static let table = "nslab_explain"
    private var monitors: [(node: Node, process: BackgroundProcess)] = []
    private(set) var traced: Set<String> = []

    /// Starts tracing in `nodes` (those whose nftables ruleset has base chains); nodes where
    /// nft refuses are left untraced.
    private let destination: IPAddress

    init(nodes: [Node], destination: IPAddress) {
        self.destination = destination
        let family = destination.isIPv4 ? "ip" : "ip6"
        let rules = "\(family) daddr \(destination) meta nftrace set 1; \(family) saddr \(destination) meta nftrace set 1;"
        let ruleset = """
            table inet \(Self.table) {
                chain pre { type filter hook prerouting priority -350; \(rules) }
                chain out { type filter hook output priority -350; \(rules) }
            }
            """
        for node in nodes {
            guard let ns = try? node.namespace,
                  let r = try? node.runBlocking(["nft", "-f", "-"], stdin: Array(ruleset.utf8), timeout: 5), r.status == 0,
                  let p = try? BackgroundProcess.start(["nft", "-a", "monitor", "trace"], in: ns) else { continue }
            monitors.append((node, p))
        }
        // `nft monitor` says nothing when it has subscribed; give it a moment to.
        if !monitors.isEmpty { usleep(200_000) }
    }

    /// Stops the monitors, removes the tables, and returns each node's trace events.
    func finish() -> [String: [NftTraceEvent]] {
        guard !monitors.isEmpty else { return [:] }
        usleep(200_000)
        var out: [String: [NftTraceEvent]] = [:]
        for (node, p) in monitors {
            p.stop(grace: 1)
            _ = try? node.runBlocking(["nft", "delete", "table", "inet", Self.table], timeout: 5)
            out[node.name] = NftTraceEvent.parse(p.output, destination: destination).filter { $0.table != Self.table }
            traced.insert(node.name)
        }
        monitors = []
        return out
    }
}

/// One verdict line of `nft monitor trace`: the chain, and the rule (handle and text) or the policy.
struct NftTraceEvent: Sendable, Hashable {
    var id: String
    var family: String
    var table: String
    var chain: String
    /// The packet went to the destination (false: it came from it, a reply).
    var toDestination: Bool
    var ruleHandle: Int?
    var ruleText: String?
    /// `accept`, `drop`, `continue`, `jump x`, …
    var verdict: String

    var isDrop: Bool { verdict.hasPrefix("drop") || verdict.hasPrefix("reject") }

    var text: String {
        "\(family) \(table) \(chain): "
            + (ruleHandle.map { "rule \($0) \"\(ruleText ?? "")\" (verdict \(verdict))" } ?? "policy \(verdict)")
    }

    /// Parses `trace id ID FAMILY TABLE CHAIN (packet: …|rule … # handle N (verdict V)|policy V|verdict V)`.
    static func parse(_ output: String, destination: IPAddress) -> [NftTraceEvent] {
        var direction: [String: Bool] = [:]
        var events: [NftTraceEvent] = []
        for line in output.split(separator: "\n").map(String.init) {
            let w = line.split(separator: " ", maxSplits: 6).map(String.init)
            guard w.count == 7, w[0] == "trace", w[1] == "id" else { continue }
            let (id, family, table, chain, rest) = (w[2], w[3], w[4], w[5], w[6])
            if rest.hasPrefix("packet:") {
                // The packet line shows the headers: the destination is the daddr on the way there.
                if direction[id] == nil { direction[id] = (rest + " ").contains("daddr \(destination) ") }
                continue
            }
            var e = NftTraceEvent(id: id, family: family, table: table, chain: chain, toDestination: true,
                                  ruleHandle: nil, ruleText: nil, verdict: "")
            if rest.hasPrefix("rule "), let h = rest.range(of: " # handle ") {
                e.ruleText = String(rest[rest.index(rest.startIndex, offsetBy: 5)..<h.lowerBound])
                let after = rest[h.upperBound...]
                e.ruleHandle = Int(after.prefix { $0.isNumber })
                if let v = after.range(of: "(verdict ") {
                    e.verdict = String(after[v.upperBound...].prefix { $0 != ")" })
                }
            } else if rest.hasPrefix("policy ") {
                e.verdict = rest.dropFirst(7).trimmingCharacters(in: .whitespaces)
            } else if rest.hasPrefix("verdict ") {
                e.verdict = rest.dropFirst(8).trimmingCharacters(in: .whitespaces)
            } else {
                continue
            }
            events.append(e)
        }
        return events.map { var e = $0; e.toDestination = direction[e.id] ?? true; return e }
    }
}
