/// A Linux bridge inside a node.
public struct Bridge: Sendable, Hashable {
    /// The bridge's interface name (`br0`).
    public var name: String
    /// Interfaces of the node enslaved to the bridge (veth ends may also join with `master`).
    public var ports: [BridgePort] = []
    /// Run the kernel's spanning tree protocol (`stp_state 1`); off by default.
    public var stp: Bool = false
    /// Filter by VLAN (`vlan_filtering 1`): ports carry only their ``BridgePort/pvid`` and ``BridgePort/vlans``.
    public var vlanFiltering: Bool = false
    /// The bridge interface's MTU, in bytes.
    public var mtu: Int?
    /// The bridge interface's MAC address; the kernel picks one when nil.
    public var mac: MACAddress?
    /// Addresses on the bridge interface itself.
    public var addresses: [IPPrefix] = []
    /// How long a learnt MAC address stays in the forwarding database (kernel default 300 s).
    public var ageingTime: Duration?
    /// IGMP/MLD snooping (kernel default on).
    public var mcastSnooping: Bool?
    /// The VLAN every new port joins as PVID, untagged (kernel default 1; 0: none). Needs `vlanFiltering`.
    public var vlanDefaultPvid: UInt16?
    /// STP timers (kernel defaults 15 s, 2 s and 20 s).
    public var forwardDelay: Duration?
    /// See ``forwardDelay``.
    public var helloTime: Duration?
    /// See ``forwardDelay``.
    public var maxAge: Duration?
    /// Static forwarding-database entries, each on a port of this bridge.
    public var fdb: [FDBEntry] = []
    /// Where the bridge was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// An interface enslaved to a bridge, with its VLAN membership when the bridge filters VLANs.
public struct BridgePort: Sendable, Hashable {
    /// The enslaved interface's name.
    public var name: String
    /// The port VLAN id: untagged frames arriving on the port belong to it, and leave untagged.
    public var pvid: UInt16?
    /// VLANs carried tagged on the port.
    public var vlans: [UInt16] = []
    /// Port flags (`bridge link set`); nil keeps the kernel's default (all on except
    /// `neighSuppress`, `isolated` and `hairpin`).
    public var learning: Bool?
    /// Flood unknown unicast out of this port.
    public var flood: Bool?
    /// Flood multicast out of this port.
    public var mcastFlood: Bool?
    /// Answer ARP and neighbour solicitations from the bridge's neighbour table instead of flooding them.
    public var neighSuppress: Bool?
    /// An isolated port forwards only to ports that are not isolated.
    public var isolated: Bool?
    /// Send frames back out of the port they came in on.
    public var hairpin: Bool?
    /// Where the port was declared, and values that did not parse.
    public var provenance = Provenance()

    /// True when a port flag is set.
    public var hasFlags: Bool { [learning, flood, mcastFlood, neighSuppress, isolated, hairpin].contains { $0 != nil } }
}

/// A macvlan interface on a parent interface of the same node.
public struct Macvlan: Sendable, Hashable {
    /// The modes of `IFLA_MACVLAN_MODE`.
    public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
        /// `private`, `vepa`, `bridge` (the default) and `passthru`, as `ip link … type macvlan mode` names them.
        case `private`, vepa, bridge, passthru
    }
    /// The macvlan's interface name.
    public var name: String
    /// The interface of the same node it sits on.
    public var parent: String
    /// How the macvlan forwards between its siblings and the parent; `bridge` by default.
    public var mode: Mode = .bridge
    /// The macvlan's MAC address; the kernel picks one when nil.
    public var mac: MACAddress?
    /// Where the macvlan was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// An 802.1Q VLAN sub-interface.
public struct VLAN: Sendable, Hashable {
    /// The subinterface's name (`eth0.10`).
    public var name: String
    /// The interface of the same node that carries the tagged frames.
    public var parent: String
    /// The VLAN id, 1…4094.
    public var id: Int
    /// Where the VLAN was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// A dummy interface: a place to put addresses that is always up.
public struct Dummy: Sendable, Hashable {
    /// The dummy's interface name.
    public var name: String
    /// Its MTU, in bytes.
    public var mtu: Int?
    /// Where the dummy was declared, and values that did not parse.
    public var provenance = Provenance()
}
