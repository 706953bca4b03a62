/// Bridge settings beyond STP and VLAN filtering (`IFLA_BR_*` in `IFLA_INFO_DATA`); nil leaves the kernel's default.
///
/// Times are in centiseconds (the kernel's `clock_t` at `USER_HZ` 100), as `ip link` takes them.
public struct BridgeOptions: Sendable, Hashable {
    /// The STP forward delay (`IFLA_BR_FORWARD_DELAY`), in centiseconds.
    public var forwardDelay: UInt32?
    /// The STP hello time (`IFLA_BR_HELLO_TIME`), in centiseconds.
    public var helloTime: UInt32?
    /// The STP maximum message age (`IFLA_BR_MAX_AGE`), in centiseconds.
    public var maxAge: UInt32?
    /// How long a learnt FDB entry lives (`IFLA_BR_AGEING_TIME`), in centiseconds.
    public var ageingTime: UInt32?
    /// IGMP/MLD snooping (`IFLA_BR_MCAST_SNOOPING`).
    public var mcastSnooping: Bool?
    /// The VLAN new ports join untagged (0: none); the kernel reads it only with VLAN filtering compiled in.
    public var vlanDefaultPvid: UInt16?

    /// Options with these values; each nil leaves the kernel's default.
    public init(forwardDelay: UInt32? = nil, helloTime: UInt32? = nil, maxAge: UInt32? = nil, ageingTime: UInt32? = nil,
                mcastSnooping: Bool? = nil, vlanDefaultPvid: UInt16? = nil) {
        self.forwardDelay = forwardDelay; self.helloTime = helloTime; self.maxAge = maxAge; self.ageingTime = ageingTime
        self.mcastSnooping = mcastSnooping; self.vlanDefaultPvid = vlanDefaultPvid
    }

    func encode(into d: inout AttributeWriter) {
        if let t = forwardDelay { d.put(AttrType(1, "IFLA_BR_FORWARD_DELAY"), t) }
        if let t = helloTime { d.put(AttrType(2, "IFLA_BR_HELLO_TIME"), t) }
        if let t = maxAge { d.put(AttrType(3, "IFLA_BR_MAX_AGE"), t) }
        if let t = ageingTime { d.put(AttrType(4, "IFLA_BR_AGEING_TIME"), t) }
        if let s = mcastSnooping { d.put(AttrType(23, "IFLA_BR_MCAST_SNOOPING"), UInt8(s ? 1 : 0)) }
        if let p = vlanDefaultPvid { d.put(AttrType(39, "IFLA_BR_VLAN_DEFAULT_PVID"), p) }
    }
}

/// Per-port bridge flags (`IFLA_BRPORT_*`); nil leaves the kernel's default.
public struct BridgePortOptions: Sendable, Hashable {
    /// Learn source MAC addresses on the port (`IFLA_BRPORT_LEARNING`).
    public var learning: Bool?
    /// Flood unknown unicast (`IFLA_BRPORT_UNICAST_FLOOD`).
    public var flood: Bool?
    /// Flood multicast out of the port (`IFLA_BRPORT_MCAST_FLOOD`).
    public var mcastFlood: Bool?
    /// Answer ARP and neighbour solicitations from the bridge's table (`IFLA_BRPORT_NEIGH_SUPPRESS`).
    public var neighSuppress: Bool?
    /// An isolated port forwards only to ports that are not isolated (`IFLA_BRPORT_ISOLATED`).
    public var isolated: Bool?
    /// Hairpin mode: send frames back out of the port they came in on (`IFLA_BRPORT_MODE`).
    public var hairpin: Bool?

    /// Flags with these values; each nil leaves the kernel's default.
    public init(learning: Bool? = nil, flood: Bool? = nil, mcastFlood: Bool? = nil, neighSuppress: Bool? = nil,
                isolated: Bool? = nil, hairpin: Bool? = nil) {
        self.learning = learning; self.flood = flood; self.mcastFlood = mcastFlood
        self.neighSuppress = neighSuppress; self.isolated = isolated; self.hairpin = hairpin
    }
}

extension NetlinkRequest {
    /// Sets a bridge port's flags. Equivalent to
    /// `bridge link set dev PORT [learning on|off] [flood …] [mcast_flood …] [neigh_suppress …] [isolated …] [hairpin …]`.
    ///
    /// An `AF_BRIDGE` `RTM_SETLINK` with `IFLA_PROTINFO`, which must carry `NLA_F_NESTED`: without
    /// it the kernel reads the attribute as the old one-byte STP port state. The port must
    /// already be in its bridge.
    public static func setBridgePort(index: Int32, _ o: BridgePortOptions, what: String) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(IfInfoMsg(family: AF.bridge, index: index).bytes)
        w.nest(AttrType(12, "IFLA_PROTINFO"), nestedFlag: true) { p in
            func flag(_ type: AttrType, _ v: Bool?) { if let v { p.put(type, UInt8(v ? 1 : 0)) } }
            flag(AttrType(4, "IFLA_BRPORT_MODE"), o.hairpin)
            flag(AttrType(8, "IFLA_BRPORT_LEARNING"), o.learning)
            flag(AttrType(9, "IFLA_BRPORT_UNICAST_FLOOD"), o.flood)
            flag(AttrType(27, "IFLA_BRPORT_MCAST_FLOOD"), o.mcastFlood)
            flag(AttrType(32, "IFLA_BRPORT_NEIGH_SUPPRESS"), o.neighSuppress)
            flag(AttrType(33, "IFLA_BRPORT_ISOLATED"), o.isolated)
        }
        return NetlinkRequest(type: RTM.setLink, flags: [.ack], body: w, what: what)
    }

    /// Adds a static forwarding-database entry. On a bridge port (`master`):
    /// `bridge fdb add MAC dev PORT master static [vlan V]`; on a VXLAN device (`self`):
    /// `bridge fdb append MAC dev VX dst IP self permanent` (append, so the all-zero MAC can
    /// carry one entry per remote: head-end replication).
    public static func newFDB(index: Int32, mac: MACAddress, dst: IPAddress? = nil, vlan: UInt16? = nil, master: Bool,
                              what: String) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(NdMsg(family: AF.bridge, index: index, state: master ? NDA.nudNoARP : NDA.nudPermanent,
                             flags: master ? NDA.ntfMaster : NDA.ntfSelf).bytes)
        w.put(NDA.lladdr, mac)
        if let d = dst { w.put(NDA.dst, d) }
        if let v = vlan { w.put(NDA.vlan, v) }
        return NetlinkRequest(type: RTM.newNeigh, flags: master ? [.create, .excl, .ack] : [.create, .append, .ack],
                              body: w, what: what)
    }
}
