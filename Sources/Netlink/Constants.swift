// Netlink and rtnetlink constants, from the kernel's uapi headers.
// Values are ABI; the kernel-edge tests check a sample against the C headers.

/// Netlink message types and flags (linux/netlink.h).
public enum NLMsg {
    public static let noop: UInt16 = 1
    public static let error: UInt16 = 2
    public static let done: UInt16 = 3
    public static let overrun: UInt16 = 4
    public static let minType: UInt16 = 0x10
    public static let headerLength = 16
}

/// Netlink message flags (`NLM_F_*`).
public struct NLFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let request = NLFlags(rawValue: 0x01)
    public static let multi = NLFlags(rawValue: 0x02)
    public static let ack = NLFlags(rawValue: 0x04)
    public static let echo = NLFlags(rawValue: 0x08)
    public static let dumpInterrupted = NLFlags(rawValue: 0x10)
    public static let dumpFiltered = NLFlags(rawValue: 0x20)
    // GET requests
    public static let root = NLFlags(rawValue: 0x100)
    public static let match = NLFlags(rawValue: 0x200)
    public static let dump: NLFlags = [.root, .match]
    // NEW requests
    public static let replace = NLFlags(rawValue: 0x100)
    public static let excl = NLFlags(rawValue: 0x200)
    public static let create = NLFlags(rawValue: 0x400)
    public static let append = NLFlags(rawValue: 0x800)
    // ACK flags
    public static let capped = NLFlags(rawValue: 0x100)
    public static let ackTLVs = NLFlags(rawValue: 0x200)
}

/// Extended-ack attributes inside `NLMSG_ERROR`/`NLMSG_DONE` (`NLMSGERR_ATTR_*`).
public enum NLMsgErrAttr {
    public static let msg: UInt16 = 1
    public static let offset: UInt16 = 2
    public static let cookie: UInt16 = 3
    public static let policy: UInt16 = 4
    public static let missingType: UInt16 = 5
    public static let missingNest: UInt16 = 6
}

/// rtnetlink message types (`RTM_*`).
public enum RTM {
    public static let newLink: UInt16 = 16, delLink: UInt16 = 17, getLink: UInt16 = 18, setLink: UInt16 = 19
    public static let newAddr: UInt16 = 20, delAddr: UInt16 = 21, getAddr: UInt16 = 22
    public static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    public static let newNeigh: UInt16 = 28, delNeigh: UInt16 = 29, getNeigh: UInt16 = 30
    public static let newRule: UInt16 = 32, delRule: UInt16 = 33, getRule: UInt16 = 34
    public static let newQdisc: UInt16 = 36, delQdisc: UInt16 = 37, getQdisc: UInt16 = 38
    public static let newTClass: UInt16 = 40, delTClass: UInt16 = 41, getTClass: UInt16 = 42
    public static let newTFilter: UInt16 = 44, delTFilter: UInt16 = 45, getTFilter: UInt16 = 46

    /// The kernel's name for a message type, e.g. `RTM_NEWLINK`.
    public static func name(_ type: UInt16) -> String {
        switch type {
        case NLMsg.noop: return "NLMSG_NOOP"
        case NLMsg.error: return "NLMSG_ERROR"
        case NLMsg.done: return "NLMSG_DONE"
        case newLink: return "RTM_NEWLINK"
        case delLink: return "RTM_DELLINK"
        case getLink: return "RTM_GETLINK"
        case setLink: return "RTM_SETLINK"
        case newAddr: return "RTM_NEWADDR"
        case delAddr: return "RTM_DELADDR"
        case getAddr: return "RTM_GETADDR"
        case newRoute: return "RTM_NEWROUTE"
        case delRoute: return "RTM_DELROUTE"
        case getRoute: return "RTM_GETROUTE"
        case newNeigh: return "RTM_NEWNEIGH"
        case delNeigh: return "RTM_DELNEIGH"
        case getNeigh: return "RTM_GETNEIGH"
        case newRule: return "RTM_NEWRULE"
        case delRule: return "RTM_DELRULE"
        case getRule: return "RTM_GETRULE"
        case newQdisc: return "RTM_NEWQDISC"
        case delQdisc: return "RTM_DELQDISC"
        case getQdisc: return "RTM_GETQDISC"
        case newTClass: return "RTM_NEWTCLASS"
        case delTClass: return "RTM_DELTCLASS"
        case getTClass: return "RTM_GETTCLASS"
        case newTFilter: return "RTM_NEWTFILTER"
        case delTFilter: return "RTM_DELTFILTER"
        case getTFilter: return "RTM_GETTFILTER"
        default: return "type \(type)"
        }
    }
}

/// Address families.
public enum AF {
    public static let unspec: UInt8 = 0
    public static let inet: UInt8 = 2
    public static let bridge: UInt8 = 7
    public static let inet6: UInt8 = 10
}

/// Link attributes (`IFLA_*`).
public enum IFLA {
    public static let address = AttrType(1, "IFLA_ADDRESS")
    public static let broadcast = AttrType(2, "IFLA_BROADCAST")
    public static let ifname = AttrType(3, "IFLA_IFNAME")
    public static let mtu = AttrType(4, "IFLA_MTU")
    public static let link = AttrType(5, "IFLA_LINK")
    public static let qdisc = AttrType(6, "IFLA_QDISC")
    public static let stats = AttrType(7, "IFLA_STATS")
    public static let master = AttrType(10, "IFLA_MASTER")
    public static let txqlen = AttrType(13, "IFLA_TXQLEN")
    public static let operstate = AttrType(16, "IFLA_OPERSTATE")
    public static let linkinfo = AttrType(18, "IFLA_LINKINFO")
    public static let netnsPID = AttrType(19, "IFLA_NET_NS_PID")
    public static let ifalias = AttrType(20, "IFLA_IFALIAS")
    public static let stats64 = AttrType(23, "IFLA_STATS64")
    public static let group = AttrType(27, "IFLA_GROUP")
    public static let netnsFD = AttrType(28, "IFLA_NET_NS_FD")
    public static let numTxQueues = AttrType(31, "IFLA_NUM_TX_QUEUES")
    public static let numRxQueues = AttrType(32, "IFLA_NUM_RX_QUEUES")
    public static let carrier = AttrType(33, "IFLA_CARRIER")
    public static let linkNetnsid = AttrType(37, "IFLA_LINK_NETNSID")
    public static let targetNetnsid = AttrType(46, "IFLA_TARGET_NETNSID")
    public static let propList = AttrType(52, "IFLA_PROP_LIST")
    public static let altIfname = AttrType(53, "IFLA_ALT_IFNAME")
    public static let permAddress = AttrType(54, "IFLA_PERM_ADDRESS")

    public static let infoKind = AttrType(1, "IFLA_INFO_KIND")
    public static let infoData = AttrType(2, "IFLA_INFO_DATA")
    public static let infoSlaveKind = AttrType(4, "IFLA_INFO_SLAVE_KIND")
    public static let infoSlaveData = AttrType(5, "IFLA_INFO_SLAVE_DATA")

    public static let vethInfoPeer = AttrType(1, "VETH_INFO_PEER")
}

/// Interface flags (`IFF_*`).
public struct InterfaceFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let up = InterfaceFlags(rawValue: 0x1)
    public static let broadcast = InterfaceFlags(rawValue: 0x2)
    public static let loopback = InterfaceFlags(rawValue: 0x8)
    public static let pointToPoint = InterfaceFlags(rawValue: 0x10)
    public static let running = InterfaceFlags(rawValue: 0x40)
    public static let noARP = InterfaceFlags(rawValue: 0x80)
    public static let promisc = InterfaceFlags(rawValue: 0x100)
    public static let multicast = InterfaceFlags(rawValue: 0x1000)
    public static let lowerUp = InterfaceFlags(rawValue: 0x10000)
}

/// Address attributes (`IFA_*`) and flags.
public enum IFA {
    public static let address = AttrType(1, "IFA_ADDRESS")
    public static let local = AttrType(2, "IFA_LOCAL")
    public static let label = AttrType(3, "IFA_LABEL")
    public static let broadcast = AttrType(4, "IFA_BROADCAST")
    public static let cacheinfo = AttrType(6, "IFA_CACHEINFO")
    public static let flags = AttrType(8, "IFA_FLAGS")

    public static let fSecondary: UInt32 = 0x01
    public static let fNoDAD: UInt32 = 0x02
    public static let fOptimistic: UInt32 = 0x04
    public static let fDADFailed: UInt32 = 0x08
    public static let fHomeAddress: UInt32 = 0x10
    public static let fDeprecated: UInt32 = 0x20
    public static let fTentative: UInt32 = 0x40
    public static let fPermanent: UInt32 = 0x80
    public static let fNoPrefixRoute: UInt32 = 0x200
}

/// Route attributes (`RTA_*`) and rtmsg field values.
public enum RTA {
    public static let dst = AttrType(1, "RTA_DST")
    public static let src = AttrType(2, "RTA_SRC")
    public static let iif = AttrType(3, "RTA_IIF")
    public static let oif = AttrType(4, "RTA_OIF")
    public static let gateway = AttrType(5, "RTA_GATEWAY")
    public static let priority = AttrType(6, "RTA_PRIORITY")
    public static let prefsrc = AttrType(7, "RTA_PREFSRC")
    public static let metrics = AttrType(8, "RTA_METRICS")
    public static let multipath = AttrType(9, "RTA_MULTIPATH")
    public static let flow = AttrType(11, "RTA_FLOW")
    public static let table = AttrType(15, "RTA_TABLE")
    public static let mark = AttrType(16, "RTA_MARK")
    public static let via = AttrType(18, "RTA_VIA")
    public static let pref = AttrType(20, "RTA_PREF")
    public static let uid = AttrType(25, "RTA_UID")
    public static let ipProto = AttrType(27, "RTA_IP_PROTO")
    public static let sport = AttrType(28, "RTA_SPORT")
    public static let dport = AttrType(29, "RTA_DPORT")
    public static let nhID = AttrType(30, "RTA_NH_ID")

    public static let metricMTU = AttrType(2, "RTAX_MTU")
}

/// Route types (`RTN_*`).
public enum RouteType: UInt8, Sendable, Codable, CaseIterable {
    case unspec = 0, unicast = 1, local = 2, broadcast = 3, anycast = 4, multicast = 5
    case blackhole = 6, unreachable = 7, prohibit = 8, `throw` = 9, nat = 10
}

/// Route scopes (`RT_SCOPE_*`).
public enum RouteScope: UInt8, Sendable, Codable {
    case universe = 0, site = 200, link = 253, host = 254, nowhere = 255
}

/// Route protocols (`RTPROT_*`) commonly used.
public enum RouteProtocol {
    public static let unspec: UInt8 = 0
    public static let redirect: UInt8 = 1
    public static let kernel: UInt8 = 2
    public static let boot: UInt8 = 3
    public static let `static`: UInt8 = 4
}

/// Route tables (`RT_TABLE_*`).
public enum RouteTable {
    public static let unspec: UInt32 = 0
    public static let `default`: UInt32 = 253
    public static let main: UInt32 = 254
    public static let local: UInt32 = 255
}

/// Route flags in rtm_flags (`RTM_F_*`, `RTNH_F_*`).
public enum RouteFlags {
    public static let onlink: UInt32 = 0x4        // RTNH_F_ONLINK
    public static let notify: UInt32 = 0x100      // RTM_F_NOTIFY
    public static let cloned: UInt32 = 0x200
    public static let lookupTable: UInt32 = 0x1000 // RTM_F_LOOKUP_TABLE
    public static let fibMatch: UInt32 = 0x2000    // RTM_F_FIB_MATCH
}

/// FIB rule attributes (`FRA_*`) and actions.
public enum FRA {
    public static let dst = AttrType(1, "FRA_DST")
    public static let src = AttrType(2, "FRA_SRC")
    public static let iifname = AttrType(3, "FRA_IIFNAME")
    public static let goto = AttrType(4, "FRA_GOTO")
    public static let priority = AttrType(6, "FRA_PRIORITY")
    public static let fwmark = AttrType(10, "FRA_FWMARK")
    public static let flow = AttrType(11, "FRA_FLOW")
    public static let suppressPrefixlen = AttrType(14, "FRA_SUPPRESS_PREFIXLEN")
    public static let table = AttrType(15, "FRA_TABLE")
    public static let fwmask = AttrType(16, "FRA_FWMASK")
    public static let oifname = AttrType(17, "FRA_OIFNAME")
    public static let proto = AttrType(21, "FRA_PROTOCOL")
    public static let ipProto = AttrType(22, "FRA_IP_PROTO")

    public static let actToTbl: UInt8 = 1
    public static let actGoto: UInt8 = 2
    public static let actBlackhole: UInt8 = 6
    public static let actUnreachable: UInt8 = 7
    public static let actProhibit: UInt8 = 8
}

/// Neighbour attributes (`NDA_*`) and states (`NUD_*`).
public enum NDA {
    public static let dst = AttrType(1, "NDA_DST")
    public static let lladdr = AttrType(2, "NDA_LLADDR")
    public static let cacheinfo = AttrType(3, "NDA_CACHEINFO")
    public static let vlan = AttrType(5, "NDA_VLAN")
    public static let master = AttrType(9, "NDA_MASTER")

    public static let nudIncomplete: UInt16 = 0x01
    public static let nudReachable: UInt16 = 0x02
    public static let nudStale: UInt16 = 0x04
    public static let nudDelay: UInt16 = 0x08
    public static let nudProbe: UInt16 = 0x10
    public static let nudFailed: UInt16 = 0x20
    public static let nudNoARP: UInt16 = 0x40
    public static let nudPermanent: UInt16 = 0x80

    public static let ntfSelf: UInt8 = 0x02
    public static let ntfMaster: UInt8 = 0x04
}

/// Traffic-control attributes (`TCA_*`).
public enum TCA {
    public static let kind = AttrType(1, "TCA_KIND")
    public static let options = AttrType(2, "TCA_OPTIONS")
}

/// Netlink socket options (SOL_NETLINK level 270).
public enum NetlinkSocketOption {
    public static let level: Int32 = 270
    public static let addMembership: Int32 = 1
    public static let extAck: Int32 = 11
    public static let getStrictCheck: Int32 = 12
    public static let capAck: Int32 = 10
    public static let noENOBUFS: Int32 = 5
}

/// rtnetlink multicast groups (`RTNLGRP_*`).
public enum RTNLGroup {
    public static let link: UInt32 = 1
    public static let neigh: UInt32 = 3
    public static let ipv4Rule: UInt32 = 8
    public static let ipv6Rule: UInt32 = 19
    public static let ipv4IfAddr: UInt32 = 5
    public static let ipv4Route: UInt32 = 7
    public static let ipv6IfAddr: UInt32 = 9
    public static let ipv6Route: UInt32 = 11
}
