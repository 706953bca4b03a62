import Namespaces
import Netlink
import NetnsModel

/// Packets a node sends for later checks, without asserting any reply: a timeline step
/// (`{node: h1, send: 10.0.0.2, packets: 100}` in `steps:`) or ``Node/sendTraffic(_:)``.
public struct TrafficBurst: Sendable, Hashable, CustomStringConvertible {
    /// The destination.
    public var to: IPAddress
    /// UDP to a port (the default: port 9, discard) or ICMP echo requests.
    public var proto: TrafficProtocol
    /// How many packets (1…10,000).
    public var count: Int
    /// A local address to send from (nil: the kernel's choice).
    public var source: IPAddress?
    /// Payload bytes per packet.
    public var size: Int

    /// `count` packets to `to`.
    public init(to: IPAddress, proto: TrafficProtocol = .udp(port: 9), count: Int = 1, source: IPAddress? = nil, size: Int = 56) {
        self.to = to; self.proto = proto; self.count = count; self.source = source; self.size = size
    }

    /// `send 100 udp port 9 packets to 10.0.0.2 from 10.0.0.1`.
    public var description: String {
        "send \(count) \(proto) packet\(count == 1 ? "" : "s") of \(size) bytes to \(to)" + (source.map { " from \($0)" } ?? "")
    }

    /// Why the burst cannot be sent, or nil.
    public var problem: String? {
        if !(1...10_000).contains(count) { return "packets \(count) is outside 1…10000" }
        if !(0...65_000).contains(size) { return "size \(size) is outside 0…65000" }
        if let source, source.isIPv4 != to.isIPv4 { return "source \(source) and destination \(to) are of different families" }
        if case .udp(0) = proto { return "port 0 is not a destination port" }
        return nil
    }
}

extension Node {
    /// Sends packets from this node without waiting for replies (traffic for the checks that
    /// follow: counters, captures). Equivalent to `ip netns exec NODE ping -c N -i 0 -W 0 ADDRESS`
    /// (ICMP) or `N × nc -u -w0 ADDRESS PORT` (UDP).
    /// - Throws: `ExpectationError` for a burst out of bounds; `ProbeError` for the first send that fails.
    public func sendTraffic(_ burst: TrafficBurst) throws {
        if let p = burst.problem { throw ExpectationError("\(self.name): \(burst): \(p)") }
        _ = try sendPackets(to: burst.to, in: namespace, protocol: burst.proto, count: burst.count, source: burst.source,
                            size: burst.size)
    }
}

extension TrafficBurst {
    /// Reads a `send` step's keys: `send: ADDRESS`, `packets` (1), `proto` (`udp` or `icmp`),
    /// `port` (9, UDP only), `source`, `size` (56).
    init(fileForm c: KeyedDecodingContainer<FieldKey>) throws {
        let text: String = try c.required("send")
        guard let to = IPAddress(text) else { throw bad(c, "send", "not an IP address: \"\(text)\"") }
        let protoText: String = try c.value("proto", default: "udp")
        let proto: TrafficProtocol
        switch protoText {
        case "udp": proto = .udp(port: c.contains(FieldKey("port")) ? try c.port("port") : 9)
        case "icmp":
            if c.contains(FieldKey("port")) { throw bad(c, "port", "ICMP has no port; drop port or use proto: udp") }
            proto = .icmp
        default: throw bad(c, "proto", "unknown protocol \"\(protoText)\" (expected udp or icmp)")
        }
        var source: IPAddress?
        if let s: String = try c.optional("source") {
            guard let a = IPAddress(s) else { throw bad(c, "source", "not an IP address: \"\(s)\"") }
            source = a
        }
        self.init(to: to, proto: proto, count: try c.value("packets", default: 1), source: source,
                  size: try c.value("size", default: 56))
        if let p = problem {
            let key = p.hasPrefix("packets") ? "packets" : p.hasPrefix("size") ? "size" : p.hasPrefix("port") ? "port" : "source"
            throw bad(c, key, p)
        }
    }

    /// Writes the keys ``init(fileForm:)`` reads (defaults left out).
    func encodeFileForm(_ c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put("\(to)", "send")
        if count != 1 { try c.put(count, "packets") }
        switch proto {
        case .udp(let port): if port != 9 { try c.put(port, "port") }
        case .icmp: try c.put("icmp", "proto")
        }
        try c.put(source.map { "\($0)" }, "source")
        if size != 56 { try c.put(size, "size") }
    }
}
