/// An IP address family.
public enum IPFamily: String, Sendable, Hashable, Codable, CaseIterable {
    /// IPv4 (`AF_INET`) and IPv6 (`AF_INET6`).
    case ipv4, ipv6

    /// The family of an address.
    public init(of address: IPAddress) { self = address.isIPv4 ? .ipv4 : .ipv6 }

    /// The default route of this family, `0.0.0.0/0` or `::/0`.
    public var defaultPrefix: IPPrefix { self == .ipv4 ? IPPrefix(.v4(0), 0) : IPPrefix(.v6(0, 0), 0) }
}

/// A static route inside a node.
public struct Route: Sendable, Hashable {
    /// Where a route leads.
    public enum Destination: Sendable, Hashable, CustomStringConvertible {
        /// The default route, of the family of its gateway (IPv4 when nothing tells).
        case `default`
        /// A prefix such as `10.0.0.0/8`.
        case prefix(IPPrefix)

        /// `default` or the prefix.
        public var description: String {
            switch self {
            case .default: "default"
            case .prefix(let p): p.description
            }
        }
    }

    /// What the route leads to: the default route or a prefix.
    public var destination: Destination
    /// The gateway; an IPv6 gateway of an IPv4 route is RFC 5549's `via inet6` (`RTA_VIA`).
    public var via: IPAddress?
    /// The output interface.
    public var dev: String?
    /// The route's priority (`metric`); lower wins.
    public var metric: UInt32?
    /// The routing table; 254 is `main`.
    public var table: UInt32 = RouteTable.main
    /// The scope; `nil` means `link` for a gatewayless unicast route, else `universe`.
    public var scope: RouteScope?
    /// The `RTPROT_*` origin; `nil` means `static`.
    public var proto: UInt8?
    /// The preferred source address.
    public var src: IPAddress?
    /// Use the gateway even if no connected subnet contains it.
    public var onlink: Bool = false
    /// One of ``Route/declarableTypes``: `unicast`, `local`, `broadcast`, `blackhole`, `unreachable`, `prohibit`, `throw`.
    public var type: RouteType = .unicast
    /// Next hops of a multipath route (instead of `via`/`dev`).
    public var nexthops: [Nexthop] = []
    /// The path MTU of the route (`RTAX_MTU`).
    public var mtu: UInt32?
    /// The MSS advertised to peers over the route (`RTAX_ADVMSS`).
    public var advmss: UInt32?
    /// A route to remove once everything else is built, such as one the kernel creates itself
    /// (`local 127.0.0.0/8` in table local): it matches by destination, table, type and the
    /// `dev`, `via` and `metric` given.
    public var absent: Bool = false
    /// Where the route was declared, and values that did not parse.
    public var provenance = Provenance()

    /// The route types a declaration may have, in the order messages list them.
    public static let declarableTypes: [RouteType] = [.unicast, .local, .broadcast, .blackhole, .unreachable, .prohibit, .throw]

    /// The family: the destination's, else the gateways', else the source's, else IPv4.
    public var family: IPFamily {
        if case .prefix(let p) = destination { return IPFamily(of: p.address) }
        if let g = via ?? nexthops.lazy.compactMap(\.via).first ?? src { return IPFamily(of: g) }
        return .ipv4
    }

    /// The destination as a prefix, with `default` made concrete.
    public var destinationPrefix: IPPrefix {
        switch destination {
        case .default: family.defaultPrefix
        case .prefix(let p): p
        }
    }
}

/// One next hop of a multipath route.
public struct Nexthop: Sendable, Hashable {
    /// The next hop's gateway.
    public var via: IPAddress?
    /// The next hop's output interface.
    public var dev: String?
    /// The relative weight, 1…256.
    public var weight: Int = 1
    /// Where the next hop was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// A policy routing rule inside a node.
public struct Rule: Sendable, Hashable {
    /// What a matching packet does.
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Look up this routing table.
        case lookup(table: UInt32)
        /// Continue with the rule of this priority (`goto`).
        case goto(priority: UInt32)
        /// Drop silently.
        case blackhole
        /// Drop with "network unreachable" (`ENETUNREACH` locally).
        case unreachable
        /// Drop with "administratively prohibited" (`EACCES` locally).
        case prohibit

        /// The action as `ip rule` writes it (`lookup 100`).
        public var description: String {
            switch self {
            case .lookup(let t): "lookup \(t)"
            case .goto(let p): "goto \(p)"
            case .blackhole: "blackhole"
            case .unreachable: "unreachable"
            case .prohibit: "prohibit"
            }
        }
    }

    /// The family; `nil` takes that of `from`/`to`, else IPv4.
    public var family: IPFamily?
    /// The rule's priority (`pref`); lower is tried first. The kernel picks one when nil.
    public var priority: UInt32?
    /// The source prefix to match.
    public var from: IPPrefix?
    /// The destination prefix to match.
    public var to: IPPrefix?
    /// The input interface to match.
    public var iif: String?
    /// The output interface to match (for locally generated packets bound to it).
    public var oif: String?
    /// The firewall mark to match.
    public var fwmark: UInt32?
    /// The mask applied to the mark before comparing with ``fwmark``.
    public var fwmask: UInt32?
    /// What a matching packet does; `lookup main` by default.
    public var action: Action = .lookup(table: RouteTable.main)
    /// The TOS byte to match.
    public var tos: UInt8?
    /// The UIDs of the sockets to match.
    public var uidrange: ClosedRange<UInt32>?
    /// The IP protocol number to match (6 is TCP).
    public var ipproto: UInt8?
    /// The source port or port range to match.
    public var sport: PortRange?
    /// The destination port or port range to match.
    public var dport: PortRange?
    /// Look up the table of the VRF the packet's interface belongs to, instead of `table`.
    public var l3mdev: Bool = false
    /// Ignore a lookup's result whose prefix length is this or shorter (0 ignores default routes).
    public var suppressPrefixlength: UInt32?
    /// Where the rule was declared, and values that did not parse.
    public var provenance = Provenance()

    /// The family this rule is installed in.
    public var resolvedFamily: IPFamily {
        family ?? (from ?? to).map { IPFamily(of: $0.address) } ?? .ipv4
    }
}

/// A port or an inclusive range of ports, as `ip rule` writes `dport 80` or `dport 1000-2000`.
public struct PortRange: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The ports, inclusive.
    public var range: ClosedRange<UInt16>

    /// The ports of `range`.
    public init(_ range: ClosedRange<UInt16>) { self.range = range }
    /// One port.
    public init(_ port: UInt16) { self.range = port...port }
    /// One port written as an integer literal.
    public init(integerLiteral port: UInt16) { self.init(port) }

    /// Parses `80` or `1000-2000`.
    public init?(_ text: String) {
        guard let r = parseRange(text, UInt16.self) else { return nil }
        range = r
    }

    /// `80`, or `1000-2000`.
    public var description: String { rangeText(range) }
}

/// `100` or `100-200` (inclusive, start not after end), each number decimal or `0x` hex.
func parseRange<T: FixedWidthInteger & UnsignedInteger>(_ text: String, _: T.Type) -> ClosedRange<T>? {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 1 || parts.count == 2,
          let lo = parseNumber(String(parts[0]), T.self), let hi = parts.count == 2 ? parseNumber(String(parts[1]), T.self) : lo,
          lo <= hi else { return nil }
    return lo...hi
}

/// `100`, or `100-200` when the range has more than one value.
func rangeText<T: FixedWidthInteger>(_ r: ClosedRange<T>) -> String {
    r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)"
}

/// A whole number as `ip` reads one: decimal, or hex after `0x`.
func parseNumber<T: FixedWidthInteger & UnsignedInteger>(_ text: String, _: T.Type) -> T? {
    let lower = text.lowercased()
    let (digits, radix) = lower.hasPrefix("0x") ? (String(lower.dropFirst(2)), 16) : (lower, 10)
    // T(_:radix:) accepts a sign ("+5"): only digits here.
    guard !digits.isEmpty, digits.allSatisfy({ radix == 16 ? $0.isHexDigit : $0.isASCII && $0.isNumber }) else { return nil }
    return T(digits, radix: radix)
}
