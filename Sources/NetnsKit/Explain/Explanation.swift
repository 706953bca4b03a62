import Foundation
import Netlink

/// What ``Lab/explain(from:to:protocol:source:mark:size:ttl:)`` sends: the probe whose path is explained.
public enum ExplainProtocol: Sendable, Hashable, Codable, CustomStringConvertible {
    /// An ICMP (or ICMPv6) echo request.
    case icmp
    /// A TCP SYN to `port`.
    case tcp(port: UInt16)
    /// A UDP datagram to `port`.
    case udp(port: UInt16)

    /// The IP protocol number the route lookups carry (`RTA_IP_PROTO`).
    func ipProtocol(_ v6: Bool) -> UInt8 {
        switch self {
        case .icmp: return v6 ? 58 : 1
        case .tcp: return 6
        case .udp: return 17
        }
    }

    var port: UInt16? {
        switch self {
        case .icmp: return nil
        case .tcp(let p), .udp(let p): return p
        }
    }

    /// `icmp`, `tcp/PORT` or `udp/PORT`.
    public var description: String {
        switch self {
        case .icmp: return "icmp"
        case .tcp(let p): return "tcp \(p)"
        case .udp(let p): return "udp \(p)"
        }
    }
}

/// Why a packet stops at a hop, as a stable code (the text says it in the kernel's words).
public enum ExplainReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// No route (`ENETUNREACH`, "Network is unreachable").
    case noRoute
    /// An `unreachable` route matched (`EHOSTUNREACH`).
    case unreachableRoute
    /// A `prohibit` route matched (`EACCES`).
    case prohibitRoute
    /// A `blackhole` route matched (`EINVAL`).
    case blackholeRoute
    /// Forwarding is off for the family on the arriving interface.
    case forwardingOff
    /// Reverse-path filtering drops the packet (`rp_filter`, `EXDEV`/`EINVAL` on the input lookup).
    case reversePath
    /// The source address is not acceptable on this interface (martian, `EINVAL`).
    case martianSource
    /// The interface is administratively down, or has no carrier (its peer is down).
    case linkDown
    /// The next hop's link-layer address is not resolved: no answer to ARP / neighbour solicitation.
    case neighbourFailed
    /// The TTL (hop limit) runs out here.
    case ttlExceeded
    /// The packet is bigger than the next link's MTU and may not be fragmented.
    case tooBig
    /// nftables drops or rejects it (traced), or nftables is the only thing left on the path (not traced).
    case nftables
    /// The walk cannot follow the link to the next node (an unknown kind of device).
    case notFollowed
    /// The route lookup failed for another reason.
    case lookupFailed
}

/// One step of an explained path: what one node's kernel decided about the packet.
public struct ExplainHop: Sendable, Hashable, Codable {
    /// What a hop is: a route lookup, a layer-2 pass, nftables chains, a delivery or a drop.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The route lookup at the sender or at a forwarding node.
        case route
        /// A bridge port or VXLAN device passing the frame on at layer 2.
        case bridge
        /// The packet reached the node that owns the destination.
        case delivered
        /// nftables chains the packet passes through.
        case nftables
        /// The packet dies here.
        case dropped
    }
    /// What the node's kernel did at this hop.
    public var kind: Kind
    /// The node whose kernel decided.
    public var node: String
    /// The interface the packet arrived on (nil at the sender).
    public var inInterface: String?
    /// The interface the packet leaves by (nil when it is delivered or dropped here).
    public var outInterface: String?
    /// The next hop's address, when the route has a gateway.
    public var gateway: String?
    /// The routing table the lookup used (`main`, `100`…).
    public var table: String?
    /// The line's text, without the node column.
    public var text: String
    /// Why the packet dies here (for `dropped` hops).
    public var reason: ExplainReason?
}

/// Packet counters of one interface on the path, before and after one probe.
public struct ExplainCounter: Sendable, Hashable, Codable {
    /// The node the interface is in.
    public var node: String
    /// The interface's name.
    public var interface: String
    /// Packets received during the probe (the difference of the two readings).
    public var rxPackets: UInt64
    /// Packets sent during the probe.
    public var txPackets: UInt64
    /// Received packets the kernel dropped during the probe.
    public var rxDropped: UInt64
    /// Packets the kernel failed to send during the probe.
    public var txDropped: UInt64
}

/// The path a packet takes through a lab, hop by hop, from the kernels' own decisions
/// (route lookups, neighbour entries, link states, bridge FDBs, sysctls), and where and why
/// it dies. ``description`` is one line per hop; the value is `Codable` for JSON.
public struct Explanation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The sending node.
    public var from: String
    /// The destination, as given.
    public var to: String
    /// The probe, as ``ExplainProtocol`` prints it (`icmp`, `tcp/80`).
    public var `protocol`: String
    /// The source address the sender's route lookup chose (or the one asked for).
    public var source: String?
    /// The request's path, ending where it dies or is delivered.
    public var hops: [ExplainHop]
    /// The reply's path (empty when the request does not arrive).
    public var reply: [ExplainHop]
    /// True when the request arrives and the reply gets back.
    public var works: Bool
    /// The node where the packet (request or reply) dies.
    public var failedNode: String?
    /// Why the packet dies at ``failedNode`` (nil when it gets through).
    public var failedReason: ExplainReason?
    /// Whether it is the reply that dies.
    public var replyFails: Bool
    /// What the probe sent while explaining saw ("echo reply", "timeout (no reply)").
    public var probe: String?
    /// Counter changes on the path's interfaces during that probe. They count all traffic,
    /// so in a lab that just came up IPv6 router and multicast listener messages add to them.
    public var counters: [ExplainCounter]

    /// The explanation as JSON (sorted keys, pretty printed).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? e.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The probe on one line, then one line per hop of the request and of the reply.
    public var description: String {
        var lines = ["\(from) → \(to) (\(`protocol`)\(source.map { ", from \($0)" } ?? ""))"]
        let width = max(4, (hops + reply).map(\.node.count).max() ?? 0)
        func render(_ h: ExplainHop) -> String {
            "  " + h.node.padding(toLength: width, withPad: " ", startingAt: 0) + " " + h.text
        }
        lines += hops.map(render)
        if !reply.isEmpty {
            lines.append("  reply:")
            lines += reply.map(render)
        }
        if let probe {
            var c = "  probe: \(probe)"
            let moved = counters.filter { $0.rxPackets + $0.txPackets + $0.rxDropped + $0.txDropped > 0 }
            if !counters.isEmpty {
                c += "; counters during it (all traffic) " + (moved.isEmpty ? "unchanged on the path" : moved.map { k in
                    var parts: [String] = []
                    if k.txPackets > 0 { parts.append("tx+\(k.txPackets)") }
                    if k.rxPackets > 0 { parts.append("rx+\(k.rxPackets)") }
                    if k.txDropped > 0 { parts.append("tx dropped+\(k.txDropped)") }
                    if k.rxDropped > 0 { parts.append("rx dropped+\(k.rxDropped)") }
                    return "\(k.node):\(k.interface) " + parts.joined(separator: " ")
                }.joined(separator: ", "))
            }
            lines.append(c)
        }
        if works {
            lines.append("  ✔ works: request and reply get through")
        } else if let n = failedNode {
            lines.append("  ✘ the \(replyFails ? "reply" : "request") dies at \(n)"
                         + (failedReason.map { " (\($0.rawValue))" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}
