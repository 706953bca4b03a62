/// A static forwarding-database entry (`bridge fdb`): on a bridge, a MAC address behind one of
/// its ports; on a VXLAN device, a MAC address behind a remote VTEP (`dst`).
///
/// The all-zero MAC on a VXLAN device is where frames with no better entry go (broadcast,
/// unknown unicast); a ``VXLANDevice``'s `remotes` add one such entry per remote.
public struct FDBEntry: Sendable, Hashable {
    /// The MAC address the entry is for; all zeros on a VXLAN device for the default destination.
    public var mac: MACAddress
    /// The remote VTEP (VXLAN devices only).
    public var dst: IPAddress?
    /// The bridge port (bridges only).
    public var port: String?
    /// The VLAN (bridges with VLAN filtering only).
    public var vlan: UInt16?
    /// Where the entry was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// The outer IPv4 header's DF bit on a VXLAN device.
public enum VXLANDF: String, Sendable, Hashable, Codable, CaseIterable {
    /// Clear the DF bit, set it, or copy it from the inner IPv4 header (`df unset|set|inherit`).
    case unset, set, inherit

    /// `IFLA_VXLAN_DF`'s value.
    public var code: UInt8 {
        switch self {
        case .unset: 0
        case .set: 1
        case .inherit: 2
        }
    }
}

/// VXLAN settings a point-to-point ``Tunnel`` and a ``VXLANDevice`` share; nil keeps the kernel's default.
public struct VXLANSettings: Sendable, Hashable {
    /// The outer TOS byte (kernel default 0).
    public var tos: UInt8?
    /// Learn remote MAC addresses from received packets (kernel default on).
    public var learning: Bool?
    /// Checksum the outer UDP header over IPv4 (kernel default off).
    public var udpChecksum: Bool?
    /// The outer IPv4 header's DF bit (kernel default `unset`).
    public var df: VXLANDF?

    /// Settings with these values; each nil keeps the kernel's default.
    public init(tos: UInt8? = nil, learning: Bool? = nil, udpChecksum: Bool? = nil, df: VXLANDF? = nil) {
        self.tos = tos; self.learning = learning; self.udpChecksum = udpChecksum; self.df = df
    }

    var isEmpty: Bool { self == VXLANSettings() }
}

/// A VXLAN device inside one node: a VTEP that can reach several remotes.
///
/// Unlike a ``Tunnel`` (one device at each of two ends), this declares only the local end:
/// frames with no better FDB entry go to the multicast `group`, or to every one of `remotes`
/// (head-end replication: an all-zero FDB entry per remote), and `fdb` pins MAC addresses to
/// remotes. One VTEP per VNI and port in a node; the kernel refuses a second.
public struct VXLANDevice: Sendable, Hashable {
    /// The device's interface name.
    public var name: String
    /// The VXLAN network identifier, 0…16777215.
    public var vni: UInt32
    /// The UDP destination port.
    public var port: UInt16 = 4789
    /// The source address of the underlay.
    public var local: IPAddress?
    /// A multicast group to flood to (needs `dev`).
    public var group: IPAddress?
    /// Remote VTEPs to replicate broadcast and unknown frames to.
    public var remotes: [IPAddress] = []
    /// The underlay device.
    public var dev: String?
    /// The outer TTL (kernel default: the route's, `ttl auto`).
    public var ttl: UInt8?
    /// TOS, learning, UDP checksum and DF, as for a VXLAN ``Tunnel``.
    public var settings = VXLANSettings()
    /// The device's MTU, in bytes.
    public var mtu: Int?
    /// A bridge of the node to enslave the device to.
    public var master: String?
    /// Static FDB entries, each with a remote (`dst`).
    public var fdb: [FDBEntry] = []
    /// Where the device was declared, and values that did not parse.
    public var provenance = Provenance()
}

extension IPAddress {
    /// True for 224.0.0.0/4 and ff00::/8.
    public var isMulticast: Bool {
        switch self {
        case .v4(let v): v >> 28 == 0xe
        case .v6(let high, _): high >> 56 == 0xff
        }
    }
}

extension MACAddress {
    /// `00:00:00:00:00:00`: on a VXLAN device, the FDB entry for frames with no better one.
    public static let zero = MACAddress(bytes: [0, 0, 0, 0, 0, 0])!
}

extension Duration {
    /// Whole centiseconds, the kernel's `clock_t` unit for bridge times (clamped to 32 bits).
    var centiseconds: UInt32 {
        let cs = components.seconds * 100 + components.attoseconds / 10_000_000_000_000_000
        return UInt32(clamping: cs)
    }
}

extension Bridge {
    /// The settings as the codec takes them.
    public var options: BridgeOptions {
        BridgeOptions(forwardDelay: forwardDelay?.centiseconds, helloTime: helloTime?.centiseconds,
                      maxAge: maxAge?.centiseconds, ageingTime: ageingTime?.centiseconds,
                      mcastSnooping: mcastSnooping, vlanDefaultPvid: vlanDefaultPvid)
    }
}

extension BridgePort {
    /// The flags as the codec takes them.
    public var options: BridgePortOptions {
        BridgePortOptions(learning: learning, flood: flood, mcastFlood: mcastFlood, neighSuppress: neighSuppress,
                          isolated: isolated, hairpin: hairpin)
    }
}
