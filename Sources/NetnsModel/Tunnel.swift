/// A point-to-point tunnel between two nodes, over addresses they already have (the underlay).
public struct Tunnel: Sendable, Hashable {
    /// The kind of tunnel and its kind-specific settings.
    public enum Kind: Sendable, Hashable {
        /// VXLAN (an Ethernet segment over UDP); `port` is the UDP destination port.
        case vxlan(vni: UInt32, port: UInt16 = 4789)
        /// GRE carrying IP.
        case gre
        /// GRE carrying Ethernet.
        case gretap
        /// IPv4 in IPv4.
        case ipip
        /// IPv6 in IPv4.
        case sit
        /// IP in IPv6.
        case ip6tnl
        /// WireGuard: not supported yet (validation refuses it: NetnsKit cannot configure keys and peers).
        case wireguard(port: UInt16 = 51820)

        /// The kernel's link kind, e.g. `vxlan`.
        public var name: String {
            switch self {
            case .vxlan: "vxlan"
            case .gre: "gre"
            case .gretap: "gretap"
            case .ipip: "ipip"
            case .sit: "sit"
            case .ip6tnl: "ip6tnl"
            case .wireguard: "wireguard"
            }
        }

        /// True for tunnels that carry Ethernet frames and so can join a bridge.
        public var isEthernet: Bool {
            switch self {
            case .vxlan, .gretap: true
            default: false
            }
        }
    }

    /// The interface name on both ends unless an end names its own.
    public var name: String
    /// The kind of tunnel and its kind-specific settings.
    public var kind: Kind
    /// The first end.
    public var a: TunnelEnd
    /// The second end.
    public var b: TunnelEnd
    /// The MTU of the tunnel interfaces, in bytes.
    public var mtu: Int?
    /// The outer TTL (GRE, IP-in-IP and VXLAN tunnels).
    public var ttl: UInt8?
    /// VXLAN-only settings (TOS, learning, UDP checksum, DF).
    public var vxlan = VXLANSettings()
    /// Where the tunnel was declared, and values that did not parse.
    public var provenance = Provenance()

    /// The two ends, `a` first.
    public var ends: [TunnelEnd] { [a, b] }
}

/// Where a tunnel end sends from: an address, or the address of one of the node's interfaces.
public enum Underlay: Sendable, Hashable, CustomStringConvertible {
    /// This address of the node.
    case address(IPAddress)
    /// The first address (of the peer's family) on this interface of the same node.
    case interface(String)

    /// Parses an IP address, and takes anything else as an interface name.
    public init(_ text: String) {
        self = IPAddress(text).map(Underlay.address) ?? .interface(text)
    }

    /// The address, or the interface's name.
    public var description: String {
        switch self {
        case .address(let a): a.description
        case .interface(let i): i
        }
    }
}

/// One end of a tunnel.
public struct TunnelEnd: Sendable, Hashable {
    /// The node of this end.
    public var node: String
    /// The interface name at this end; `nil` means the tunnel's name.
    public var interface: String?
    /// The local underlay; `nil` picks an address the two nodes share a subnet on, else the node's first address.
    public var underlay: Underlay?
    /// The device the underlay traffic leaves by (VXLAN `dev`); `nil` picks the underlay address's interface.
    public var underlayDevice: String?
    /// Overlay addresses on the tunnel interface.
    public var addresses: [IPPrefix] = []
    /// A bridge of this node to enslave the tunnel interface to (Ethernet tunnels only).
    public var master: String?
}
