import Netlink

/// The IP header of a captured frame, parsed.
public struct IPHeaderView: Sendable, Hashable {
    /// 4 or 6.
    public var version: Int
    /// The source address of the IP header.
    public var source: IPAddress
    /// The destination address of the IP header.
    public var destination: IPAddress
    /// The transport protocol (`IPPROTO_*`: 1 ICMP, 6 TCP, 17 UDP, 58 ICMPv6); for IPv6, the
    /// first next-header value after hop-by-hop/routing/destination-options headers.
    public var proto: UInt8
    /// TTL or hop limit.
    public var ttl: UInt8
    /// True for a fragment other than the first (no transport header to parse).
    public var isLaterFragment: Bool
    /// Where the transport header starts in the frame.
    public var payloadOffset: Int
}

extension CapturedPacket {
    private func u16(_ i: Int) -> UInt16? {
        i + 1 < bytes.count ? UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) : nil
    }

    /// The Ethernet destination address.
    public var destinationMAC: MACAddress? { bytes.count >= 14 ? MACAddress(bytes: Array(bytes[0..<6])) : nil }
    /// The Ethernet source address.
    public var sourceMAC: MACAddress? { bytes.count >= 14 ? MACAddress(bytes: Array(bytes[6..<12])) : nil }

    /// The EtherType after any 802.1Q tags (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP).
    public var etherType: UInt16? { l3.map { $0.0 } }

    /// EtherType and the offset of the network header.
    private var l3: (UInt16, Int)? {
        guard var t = u16(12) else { return nil }
        var off = 14
        for _ in 0..<2 where t == 0x8100 || t == 0x88a8 {
            guard let inner = u16(off + 2) else { return nil }
            t = inner
            off += 4
        }
        return (t, off)
    }

    /// The IPv4 or IPv6 header, when the frame carries one.
    public var ip: IPHeaderView? {
        guard let (type, off) = l3 else { return nil }
        if type == 0x0800 {
            guard bytes.count >= off + 20, bytes[off] >> 4 == 4 else { return nil }
            let ihl = Int(bytes[off] & 0x0f) * 4
            guard ihl >= 20, bytes.count >= off + ihl,
                  let src = IPAddress(bytes: Array(bytes[(off + 12)..<(off + 16)])),
                  let dst = IPAddress(bytes: Array(bytes[(off + 16)..<(off + 20)])) else { return nil }
            let fragOffset = (u16(off + 6) ?? 0) & 0x1fff
            return IPHeaderView(version: 4, source: src, destination: dst, proto: bytes[off + 9], ttl: bytes[off + 8],
                                isLaterFragment: fragOffset != 0, payloadOffset: off + ihl)
        }
        if type == 0x86dd {
            guard bytes.count >= off + 40, bytes[off] >> 4 == 6,
                  let src = IPAddress(bytes: Array(bytes[(off + 8)..<(off + 24)])),
                  let dst = IPAddress(bytes: Array(bytes[(off + 24)..<(off + 40)])) else { return nil }
            var next = bytes[off + 6]
            var p = off + 40
            var later = false
            // Skip hop-by-hop (0), routing (43), destination options (60); note fragments (44).
            for _ in 0..<8 {
                if next == 0 || next == 43 || next == 60, bytes.count >= p + 8 {
                    next = bytes[p]
                    p += (Int(bytes[p + 1]) + 1) * 8
                } else if next == 44, bytes.count >= p + 8 {
                    later = ((u16(p + 2) ?? 0) >> 3) != 0
                    next = bytes[p]
                    p += 8
                } else {
                    break
                }
            }
            return IPHeaderView(version: 6, source: src, destination: dst, proto: next, ttl: bytes[off + 7],
                                isLaterFragment: later, payloadOffset: p)
        }
        return nil
    }

    /// ICMP or ICMPv6 type and code.
    public var icmp: (type: UInt8, code: UInt8)? {
        guard let h = ip, !h.isLaterFragment, h.proto == 1 || h.proto == 58, bytes.count >= h.payloadOffset + 4 else { return nil }
        return (bytes[h.payloadOffset], bytes[h.payloadOffset + 1])
    }

    /// ICMP echo identifier and sequence, for echo requests and replies.
    public var icmpEcho: (identifier: UInt16, sequence: UInt16)? {
        guard let (type, _) = icmp, [0, 8, 128, 129].contains(type), let h = ip,
              let id = u16(h.payloadOffset + 4), let seq = u16(h.payloadOffset + 6) else { return nil }
        return (id, seq)
    }

    /// TCP or UDP source and destination ports.
    public var ports: (source: UInt16, destination: UInt16)? {
        guard let h = ip, !h.isLaterFragment, h.proto == 6 || h.proto == 17,
              let s = u16(h.payloadOffset), let d = u16(h.payloadOffset + 2) else { return nil }
        return (s, d)
    }

    /// TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    public var tcpFlags: UInt8? {
        guard let h = ip, !h.isLaterFragment, h.proto == 6, bytes.count > h.payloadOffset + 13 else { return nil }
        return bytes[h.payloadOffset + 13]
    }

    /// A one-line summary in the spirit of `tcpdump -nn`.
    public var summary: String {
        let dir = "\(direction)"
        guard let h = ip else {
            if etherType == 0x0806 { return "\(dir) ARP, length \(originalLength)" }
            let t = etherType.map { String($0, radix: 16) } ?? "?"
            return "\(dir) ethertype 0x\(t), length \(originalLength)"
        }
        let ipv = h.version == 4 ? "IP" : "IP6"
        if let p = ports {
            let name = h.proto == 6 ? "tcp" : "UDP"
            return "\(dir) \(ipv) \(h.source).\(p.source) > \(h.destination).\(p.destination): \(name)"
        }
        if let (t, c) = icmp {
            return "\(dir) \(ipv) \(h.source) > \(h.destination): ICMP\(h.version == 6 ? "6" : "") type \(t) code \(c)"
        }
        return "\(dir) \(ipv) \(h.source) > \(h.destination): proto \(h.proto)"
    }
}

/// A predicate on captured packets, like a term of a `tcpdump` filter expression.
///
/// Combine them in ``Swift/Sequence/matching(_:)-(PacketFilter...)``: every predicate given must hold.
/// `packets.matching(.icmp, .src("10.0.1.2"), .echoRequest)` is `tcpdump 'icmp and src 10.0.1.2 and icmp[0] == 8'`.
public struct PacketFilter: Sendable, CustomStringConvertible {
    /// The filter in `tcpdump` syntax, for messages.
    public let description: String
    private let test: @Sendable (CapturedPacket) -> Bool

    /// A filter that keeps the packets for which `test` returns true; `description` names it in
    /// messages (in `tcpdump` syntax, as the built-in filters do).
    public init(_ description: String, _ test: @escaping @Sendable (CapturedPacket) -> Bool) {
        self.description = description
        self.test = test
    }

    /// Whether the packet passes the filter.
    public func matches(_ p: CapturedPacket) -> Bool { test(p) }

    private static func address(_ text: String) -> IPAddress {
        guard let a = IPAddress(text) else { preconditionFailure("PacketFilter: not an IP address: \(text)") }
        return a
    }

    /// IPv4 packets. `tcpdump ip`.
    public static let ipv4 = PacketFilter("ip") { $0.ip?.version == 4 }
    /// IPv6 packets. `tcpdump ip6`.
    public static let ipv6 = PacketFilter("ip6") { $0.ip?.version == 6 }
    /// ARP frames. `tcpdump arp`.
    public static let arp = PacketFilter("arp") { $0.etherType == 0x0806 }
    /// ICMP over IPv4. `tcpdump icmp`.
    public static let icmp = PacketFilter("icmp") { $0.ip?.version == 4 && $0.ip?.proto == 1 }
    /// ICMPv6. `tcpdump icmp6`.
    public static let icmpv6 = PacketFilter("icmp6") { $0.ip?.proto == 58 }
    /// TCP. `tcpdump tcp`.
    public static let tcp = PacketFilter("tcp") { $0.ip?.proto == 6 }
    /// UDP. `tcpdump udp`.
    public static let udp = PacketFilter("udp") { $0.ip?.proto == 17 }
    /// Echo requests, ICMP type 8 or ICMPv6 type 128.
    public static let echoRequest = PacketFilter("echo request") {
        guard let (t, _) = $0.icmp, let v = $0.ip?.version else { return false }
        return t == (v == 4 ? 8 : 128)
    }
    /// Echo replies, ICMP type 0 or ICMPv6 type 129.
    public static let echoReply = PacketFilter("echo reply") {
        guard let (t, _) = $0.icmp, let v = $0.ip?.version else { return false }
        return t == (v == 4 ? 0 : 129)
    }
    /// TCP segments with SYN set. `tcpdump 'tcp[tcpflags] & tcp-syn != 0'`.
    public static let syn = PacketFilter("tcp-syn") { ($0.tcpFlags ?? 0) & 0x02 != 0 }
    /// TCP segments with RST set.
    public static let rst = PacketFilter("tcp-rst") { ($0.tcpFlags ?? 0) & 0x04 != 0 }
    /// Frames this host sent. `tcpdump -Q out`.
    public static let outgoing = PacketFilter("outbound") { $0.direction == .outgoing }
    /// Frames this host received. `tcpdump -Q in`.
    public static let incoming = PacketFilter("inbound") { $0.direction != .outgoing }

    /// ICMP/ICMPv6 of one type (and code). `tcpdump 'icmp[0] == T'`.
    public static func icmpType(_ type: UInt8, code: UInt8? = nil) -> PacketFilter {
        PacketFilter("icmp type \(type)" + (code.map { " code \($0)" } ?? "")) {
            guard let (t, c) = $0.icmp else { return false }
            return t == type && (code == nil || c == code)
        }
    }
    /// From this IP address. `tcpdump src ADDR`.
    public static func src(_ a: IPAddress) -> PacketFilter { PacketFilter("src \(a)") { $0.ip?.source == a } }
    /// From this IP address, given as text (a malformed literal is a programming error).
    public static func src(_ text: String) -> PacketFilter { src(address(text)) }
    /// To this IP address. `tcpdump dst ADDR`.
    public static func dst(_ a: IPAddress) -> PacketFilter { PacketFilter("dst \(a)") { $0.ip?.destination == a } }
    /// To this IP address, given as text.
    public static func dst(_ text: String) -> PacketFilter { dst(address(text)) }
    /// From or to this IP address. `tcpdump host ADDR`.
    public static func host(_ a: IPAddress) -> PacketFilter {
        PacketFilter("host \(a)") { $0.ip?.source == a || $0.ip?.destination == a }
    }
    /// From or to this IP address, given as text.
    public static func host(_ text: String) -> PacketFilter { host(address(text)) }
    /// TCP/UDP source port. `tcpdump src port P`.
    public static func srcPort(_ p: UInt16) -> PacketFilter { PacketFilter("src port \(p)") { $0.ports?.source == p } }
    /// TCP/UDP destination port. `tcpdump dst port P`.
    public static func dstPort(_ p: UInt16) -> PacketFilter { PacketFilter("dst port \(p)") { $0.ports?.destination == p } }
    /// TCP/UDP source or destination port. `tcpdump port P`.
    public static func port(_ p: UInt16) -> PacketFilter {
        PacketFilter("port \(p)") { $0.ports?.source == p || $0.ports?.destination == p }
    }
    /// This EtherType. `tcpdump 'ether proto T'`.
    public static func etherType(_ t: UInt16) -> PacketFilter { PacketFilter("ether proto \(t)") { $0.etherType == t } }
    /// The negation. `tcpdump 'not …'`.
    public static func not(_ f: PacketFilter) -> PacketFilter { PacketFilter("not (\(f))") { !f.matches($0) } }
    /// Any of the filters. `tcpdump '… or …'`.
    public static func anyOf(_ fs: PacketFilter...) -> PacketFilter {
        PacketFilter("(" + fs.map(\.description).joined(separator: " or ") + ")") { p in fs.contains { $0.matches(p) } }
    }
}

extension Sequence where Element == CapturedPacket {
    /// The packets for which every filter holds (all packets when none is given).
    public func matching(_ filters: PacketFilter...) -> [CapturedPacket] { matching(filters) }

    /// The packets for which every filter holds.
    public func matching(_ filters: [PacketFilter]) -> [CapturedPacket] {
        filter { p in filters.allSatisfy { $0.matches(p) } }
    }

    /// One `tcpdump -nn`-style line per packet, for failure messages.
    public var summary: String { map(\.summary).joined(separator: "\n") }
}
