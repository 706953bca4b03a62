/// A declared network: namespaces (nodes), the veth links between them and the tunnels across them.
///
/// Build one with the DSL (`Topology("name") { … }`) or load one from YAML or JSON, then
/// ``validate()`` it, ``plan()`` it, or export it with ``dot()`` and ``mermaid()``.
public struct Topology: Sendable, Hashable {
    /// The topology's name; labs built from it are named after it.
    public var name: String
    /// The nodes (network namespaces), in declaration order.
    public var nodes: [Node]
    /// The veth links between nodes.
    public var links: [Link]
    /// The tunnels between nodes.
    public var tunnels: [Tunnel]
    /// Where the topology was declared (Swift source or file), and values that did not parse.
    public var provenance: Provenance

    /// Creates a topology from already-built parts.
    public init(name: String, nodes: [Node] = [], links: [Link] = [], tunnels: [Tunnel] = [],
                provenance: Provenance = Provenance()) {
        self.name = name
        self.nodes = nodes
        self.links = links
        self.tunnels = tunnels
        self.provenance = provenance
    }

    /// The first node with this name.
    public subscript(node name: String) -> Node? { nodes.first { $0.name == name } }
}

/// The role of a node, which decides its defaults.
public enum NodeKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// An end host.
    case host
    /// A host that forwards: `net.ipv4.ip_forward=1` and `net.ipv6.conf.all.forwarding=1`.
    case router
    /// A namespace holding a bridge (`br0` unless declared otherwise) that every link to it joins.
    case `switch`
}

/// One network namespace and everything declared inside it.
public struct Node: Sendable, Hashable {
    /// The node's name, unique in the topology.
    public var name: String
    /// Host, router or switch; decides the node's defaults.
    public var kind: NodeKind
    /// Addresses on the node's interfaces.
    public var addresses: [InterfaceAddress] = []
    /// Routes, in declaration order.
    public var routes: [Route] = []
    /// Policy routing rules.
    public var rules: [Rule] = []
    /// Sysctls under `/proc/sys`, keyed like `net.ipv4.ip_forward`.
    public var sysctls: [String: String] = [:]
    /// Bridges in the node.
    public var bridges: [Bridge] = []
    /// Macvlan interfaces.
    public var macvlans: [Macvlan] = []
    /// VLAN subinterfaces.
    public var vlans: [VLAN] = []
    /// Dummy interfaces.
    public var dummies: [Dummy] = []
    /// VRFs, bonds, ipvlans, GENEVE endpoints, ifbs, tuns and taps.
    public var devices: [Device] = []
    /// VXLAN devices of this node alone (VTEPs with several remotes); a ``Tunnel`` declares both ends of one.
    public var vxlans: [VXLANDevice] = []
    /// Queueing disciplines.
    public var qdiscs: [Qdisc] = []
    /// Static neighbour entries.
    public var neighbors: [Neighbor] = []
    /// An nftables ruleset loaded into the node (`nft -f -`) after everything else is built.
    public var firewall: String?
    /// Whether the node also gets private mount and UTS namespaces (for daemons).
    public var isolation: Isolation = .network
    /// Where the node was declared, and values that did not parse.
    public var provenance = Provenance()

    /// The sysctls the node's kind implies, before the declared ones (which win).
    public var impliedSysctls: [String: String] {
        kind == .router ? ["net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"] : [:]
    }

    /// The bridge that links to a switch join: its first bridge, or `br0`.
    public var switchBridge: String? { kind == .switch ? (bridges.first?.name ?? "br0") : nil }
}

/// An address assigned to an interface of a node.
public struct InterfaceAddress: Sendable, Hashable {
    /// The interface; `nil` means the node's first link interface.
    public var interface: String?
    /// The address and its prefix length (`10.0.1.2/24`).
    public var prefix: IPPrefix
    /// Skip duplicate address detection (IPv6 only); on by default so addresses are usable at
    /// once. With `false` the kernel really runs DAD on this address (the builder turns
    /// `accept_dad` on for its interface), so it is tentative for about two seconds.
    public var nodad: Bool = true
    /// The metric of the route to the address's prefix (`IFA_RT_PRIORITY`).
    public var metric: UInt32?
    /// Add no route to the address's prefix (`IFA_F_NOPREFIXROUTE`).
    public var noprefixroute: Bool = false
    /// Where the address was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// A static neighbour (ARP or NDP) entry.
public struct Neighbor: Sendable, Hashable {
    /// The interface; `nil` means the node's first link interface.
    public var interface: String?
    /// The neighbour's IP address.
    public var address: IPAddress
    /// The neighbour's link-layer address.
    public var mac: MACAddress
    /// Where the entry was declared, and values that did not parse.
    public var provenance = Provenance()
}
