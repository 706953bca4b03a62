/// A Linux bridge inside a node.
public struct Bridge: Sendable, Hashable {
    public var name: String
    /// Interfaces of the node enslaved to the bridge (veth ends may also join with `master`).
    public var ports: [BridgePort] = []
    public var stp: Bool = false
    public var vlanFiltering: Bool = false
    public var mtu: Int?
    public var mac: MACAddress?
    public var addresses: [IPPrefix] = []
    public var provenance = Provenance()
}

/// An interface enslaved to a bridge, with its VLAN membership when the bridge filters VLANs.
public struct BridgePort: Sendable, Hashable {
    public var name: String
    /// The port VLAN id: untagged frames arriving on the port belong to it, and leave untagged.
    public var pvid: UInt16?
    /// VLANs carried tagged on the port.
    public var vlans: [UInt16] = []
    public var provenance = Provenance()
}

/// A macvlan interface on a parent interface of the same node.
public struct Macvlan: Sendable, Hashable {
    /// The modes of `IFLA_MACVLAN_MODE`.
    public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
        case `private`, vepa, bridge, passthru
    }
    public var name: String
    public var parent: String
    public var mode: Mode = .bridge
    public var mac: MACAddress?
    public var provenance = Provenance()
}

/// An 802.1Q VLAN sub-interface.
public struct VLAN: Sendable, Hashable {
    public var name: String
    public var parent: String
    /// The VLAN id, 1…4094.
    public var id: Int
    public var provenance = Provenance()
}

/// A dummy interface: a place to put addresses that is always up.
public struct Dummy: Sendable, Hashable {
    public var name: String
    public var mtu: Int?
    public var provenance = Provenance()
}
