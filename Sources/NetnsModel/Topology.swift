/// A declared network: namespaces (nodes), the veth links between them and the tunnels across them.
///
/// Build one with the DSL (`Topology("name") { … }`) or load one from YAML or JSON, then
/// ``validate()`` it, ``plan()`` it, or export it with ``dot()`` and ``mermaid()``.
public struct Topology: Sendable, Hashable {
    public var name: String
    public var nodes: [Node]
    public var links: [Link]
    public var tunnels: [Tunnel]
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
    public var name: String
    public var kind: NodeKind
    public var addresses: [InterfaceAddress] = []
    public var routes: [Route] = []
    public var rules: [Rule] = []
    /// Sysctls under `/proc/sys`, keyed like `net.ipv4.ip_forward`.
    public var sysctls: [String: String] = [:]
    public var bridges: [Bridge] = []
    public var macvlans: [Macvlan] = []
    public var vlans: [VLAN] = []
    public var dummies: [Dummy] = []
    public var qdiscs: [Qdisc] = []
    public var neighbors: [Neighbor] = []
    /// An nftables ruleset loaded into the node (`nft -f -`) after everything else is built.
    public var firewall: String?
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
    public var prefix: IPPrefix
    /// Skip duplicate address detection (IPv6 only); on by default so addresses are usable at once.
    public var nodad: Bool = true
    public var provenance = Provenance()
}

/// A static neighbour (ARP or NDP) entry.
public struct Neighbor: Sendable, Hashable {
    /// The interface; `nil` means the node's first link interface.
    public var interface: String?
    public var address: IPAddress
    public var mac: MACAddress
    public var provenance = Provenance()
}
