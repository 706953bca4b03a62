/// An IP address family.
public enum IPFamily: String, Sendable, Hashable, Codable, CaseIterable {
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
        case prefix(IPPrefix)

        public var description: String {
            switch self {
            case .default: "default"
            case .prefix(let p): p.description
            }
        }
    }

    public var destination: Destination
    /// The gateway.
    public var via: IPAddress?
    /// The output interface.
    public var dev: String?
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
    /// `unicast`, `blackhole`, `unreachable` or `prohibit`.
    public var type: RouteType = .unicast
    /// Next hops of a multipath route (instead of `via`/`dev`).
    public var nexthops: [Nexthop] = []
    public var provenance = Provenance()

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
    public var via: IPAddress?
    public var dev: String?
    /// The relative weight, 1…256.
    public var weight: Int = 1
    public var provenance = Provenance()
}

/// A policy routing rule inside a node.
public struct Rule: Sendable, Hashable {
    /// What a matching packet does.
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        case lookup(table: UInt32)
        case blackhole
        case unreachable
        case prohibit

        public var description: String {
            switch self {
            case .lookup(let t): "lookup \(t)"
            case .blackhole: "blackhole"
            case .unreachable: "unreachable"
            case .prohibit: "prohibit"
            }
        }
    }

    /// The family; `nil` takes that of `from`/`to`, else IPv4.
    public var family: IPFamily?
    public var priority: UInt32?
    public var from: IPPrefix?
    public var to: IPPrefix?
    public var iif: String?
    public var oif: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32?
    public var action: Action = .lookup(table: RouteTable.main)
    public var provenance = Provenance()

    /// The family this rule is installed in.
    public var resolvedFamily: IPFamily {
        family ?? (from ?? to).map { IPFamily(of: $0.address) } ?? .ipv4
    }
}
