// Netlink and rtnetlink constants, from the kernel's uapi headers.
// Values are ABI; the kernel-edge tests check a sample against the C headers.

/// Netlink message types and flags (linux/netlink.h).
public enum NLMsg {
    /// The corresponding C constant is `NLMSG_NOOP`.
    public static let noop: UInt16 = 1
    /// The corresponding C constant is `NLMSG_ERROR`.
    public static let error: UInt16 = 2
    /// The corresponding C constant is `NLMSG_DONE`.
    public static let done: UInt16 = 3
    /// The corresponding C constant is `NLMSG_OVERRUN`.
    public static let overrun: UInt16 = 4
    /// The corresponding C constant is `NLMSG_MIN_TYPE`.
    public static let minType: UInt16 = 0x10
    /// The corresponding C constant is `NLMSG_HDRLEN`.
    public static let headerLength = 16
}

/// Netlink message flags (`NLM_F_*`).
public struct NLFlags: OptionSet, Sendable, Hashable {
    /// The `nlmsg_flags` bits.
    public let rawValue: UInt16
    /// The flags of these bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// The corresponding C constant is `NLM_F_REQUEST`.
    public static let request = NLFlags(rawValue: 0x01)
    /// The corresponding C constant is `NLM_F_MULTI`.
    public static let multi = NLFlags(rawValue: 0x02)
    /// The corresponding C constant is `NLM_F_ACK`.
    public static let ack = NLFlags(rawValue: 0x04)
    /// The corresponding C constant is `NLM_F_ECHO`.
    public static let echo = NLFlags(rawValue: 0x08)
    /// The corresponding C constant is `NLM_F_DUMP_INTR`.
    public static let dumpInterrupted = NLFlags(rawValue: 0x10)
    /// The corresponding C constant is `NLM_F_DUMP_FILTERED`.
    public static let dumpFiltered = NLFlags(rawValue: 0x20)
    // GET requests
    /// The corresponding C constant is `NLM_F_ROOT`.
    public static let root = NLFlags(rawValue: 0x100)
    /// The corresponding C constant is `NLM_F_MATCH`.
    public static let match = NLFlags(rawValue: 0x200)
    /// The corresponding C constant is `NLM_F_DUMP`.
    public static let dump: NLFlags = [.root, .match]
    // NEW requests
    /// The corresponding C constant is `NLM_F_REPLACE`.
    public static let replace = NLFlags(rawValue: 0x100)
    /// The corresponding C constant is `NLM_F_EXCL`.
    public static let excl = NLFlags(rawValue: 0x200)
    /// The corresponding C constant is `NLM_F_CREATE`.
    public static let create = NLFlags(rawValue: 0x400)
    /// The corresponding C constant is `NLM_F_APPEND`.
    public static let append = NLFlags(rawValue: 0x800)
    // ACK flags
    /// The corresponding C constant is `NLM_F_CAPPED`.
    public static let capped = NLFlags(rawValue: 0x100)
    /// The corresponding C constant is `NLM_F_ACK_TLVS`.
    public static let ackTLVs = NLFlags(rawValue: 0x200)
}

/// Extended-ack attributes inside `NLMSG_ERROR`/`NLMSG_DONE` (`NLMSGERR_ATTR_*`).
public enum NLMsgErrAttr {
    /// The corresponding C constant is `NLMSGERR_ATTR_MSG`.
    public static let msg: UInt16 = 1
    /// The corresponding C constant is `NLMSGERR_ATTR_OFFS`.
    public static let offset: UInt16 = 2
    /// The corresponding C constant is `NLMSGERR_ATTR_COOKIE`.
    public static let cookie: UInt16 = 3
    /// The corresponding C constant is `NLMSGERR_ATTR_POLICY`.
    public static let policy: UInt16 = 4
    /// The corresponding C constant is `NLMSGERR_ATTR_MISS_TYPE`.
    public static let missingType: UInt16 = 5
    /// The corresponding C constant is `NLMSGERR_ATTR_MISS_NEST`.
    public static let missingNest: UInt16 = 6
}

/// rtnetlink message types (`RTM_*`).
public enum RTM {
    /// The corresponding C constants are `RTM_NEWLINK`, `RTM_DELLINK`, `RTM_GETLINK` and `RTM_SETLINK`.
    public static let newLink: UInt16 = 16, delLink: UInt16 = 17, getLink: UInt16 = 18, setLink: UInt16 = 19
    /// The corresponding C constants are `RTM_NEWADDR`, `RTM_DELADDR` and `RTM_GETADDR`.
    public static let newAddr: UInt16 = 20, delAddr: UInt16 = 21, getAddr: UInt16 = 22
    /// The corresponding C constants are `RTM_NEWROUTE`, `RTM_DELROUTE` and `RTM_GETROUTE`.
    public static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    /// The corresponding C constants are `RTM_NEWNEIGH`, `RTM_DELNEIGH` and `RTM_GETNEIGH`.
    public static let newNeigh: UInt16 = 28, delNeigh: UInt16 = 29, getNeigh: UInt16 = 30
    /// The corresponding C constants are `RTM_NEWRULE`, `RTM_DELRULE` and `RTM_GETRULE`.
    public static let newRule: UInt16 = 32, delRule: UInt16 = 33, getRule: UInt16 = 34
    /// The corresponding C constants are `RTM_NEWQDISC`, `RTM_DELQDISC` and `RTM_GETQDISC`.
    public static let newQdisc: UInt16 = 36, delQdisc: UInt16 = 37, getQdisc: UInt16 = 38
    /// The corresponding C constants are `RTM_NEWTCLASS`, `RTM_DELTCLASS` and `RTM_GETTCLASS`.
    public static let newTClass: UInt16 = 40, delTClass: UInt16 = 41, getTClass: UInt16 = 42
    /// The corresponding C constants are `RTM_NEWTFILTER`, `RTM_DELTFILTER` and `RTM_GETTFILTER`.
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
    /// The corresponding C constant is `AF_UNSPEC`.
    public static let unspec: UInt8 = 0
    /// The corresponding C constant is `AF_INET`.
    public static let inet: UInt8 = 2
    /// The corresponding C constant is `AF_BRIDGE`.
    public static let bridge: UInt8 = 7
    /// The corresponding C constant is `AF_INET6`.
    public static let inet6: UInt8 = 10
}

/// Link attributes (`IFLA_*`).
public enum IFLA {
    /// The corresponding C constant is `IFLA_ADDRESS`.
    public static let address = AttrType(1, "IFLA_ADDRESS")
    /// The corresponding C constant is `IFLA_BROADCAST`.
    public static let broadcast = AttrType(2, "IFLA_BROADCAST")
    /// The corresponding C constant is `IFLA_IFNAME`.
    public static let ifname = AttrType(3, "IFLA_IFNAME")
    /// The corresponding C constant is `IFLA_MTU`.
    public static let mtu = AttrType(4, "IFLA_MTU")
    /// The corresponding C constant is `IFLA_LINK`.
    public static let link = AttrType(5, "IFLA_LINK")
    /// The corresponding C constant is `IFLA_QDISC`.
    public static let qdisc = AttrType(6, "IFLA_QDISC")
    /// The corresponding C constant is `IFLA_STATS`.
    public static let stats = AttrType(7, "IFLA_STATS")
    /// The corresponding C constant is `IFLA_MASTER`.
    public static let master = AttrType(10, "IFLA_MASTER")
    /// The corresponding C constant is `IFLA_TXQLEN`.
    public static let txqlen = AttrType(13, "IFLA_TXQLEN")
    /// The corresponding C constant is `IFLA_OPERSTATE`.
    public static let operstate = AttrType(16, "IFLA_OPERSTATE")
    /// The corresponding C constant is `IFLA_LINKINFO`.
    public static let linkinfo = AttrType(18, "IFLA_LINKINFO")
    /// The corresponding C constant is `IFLA_NET_NS_PID`.
    public static let netnsPID = AttrType(19, "IFLA_NET_NS_PID")
    /// The corresponding C constant is `IFLA_IFALIAS`.
    public static let ifalias = AttrType(20, "IFLA_IFALIAS")
    /// The corresponding C constant is `IFLA_STATS64`.
    public static let stats64 = AttrType(23, "IFLA_STATS64")
    /// The corresponding C constant is `IFLA_GROUP`.
    public static let group = AttrType(27, "IFLA_GROUP")
    /// The corresponding C constant is `IFLA_NET_NS_FD`.
    public static let netnsFD = AttrType(28, "IFLA_NET_NS_FD")
    /// The corresponding C constant is `IFLA_NUM_TX_QUEUES`.
    public static let numTxQueues = AttrType(31, "IFLA_NUM_TX_QUEUES")
    /// The corresponding C constant is `IFLA_NUM_RX_QUEUES`.
    public static let numRxQueues = AttrType(32, "IFLA_NUM_RX_QUEUES")
    /// The corresponding C constant is `IFLA_CARRIER`.
    public static let carrier = AttrType(33, "IFLA_CARRIER")
    /// The corresponding C constant is `IFLA_LINK_NETNSID`.
    public static let linkNetnsid = AttrType(37, "IFLA_LINK_NETNSID")
    /// The corresponding C constant is `IFLA_TARGET_NETNSID`.
    public static let targetNetnsid = AttrType(46, "IFLA_TARGET_NETNSID")
    /// The corresponding C constant is `IFLA_PROP_LIST`.
    public static let propList = AttrType(52, "IFLA_PROP_LIST")
    /// The corresponding C constant is `IFLA_ALT_IFNAME`.
    public static let altIfname = AttrType(53, "IFLA_ALT_IFNAME")
    /// The corresponding C constant is `IFLA_PERM_ADDRESS`.
    public static let permAddress = AttrType(54, "IFLA_PERM_ADDRESS")

    /// The corresponding C constant is `IFLA_INFO_KIND`.
    public static let infoKind = AttrType(1, "IFLA_INFO_KIND")
    /// The corresponding C constant is `IFLA_INFO_DATA`.
    public static let infoData = AttrType(2, "IFLA_INFO_DATA")
    /// The corresponding C constant is `IFLA_INFO_SLAVE_KIND`.
    public static let infoSlaveKind = AttrType(4, "IFLA_INFO_SLAVE_KIND")
    /// The corresponding C constant is `IFLA_INFO_SLAVE_DATA`.
    public static let infoSlaveData = AttrType(5, "IFLA_INFO_SLAVE_DATA")

    /// The corresponding C constant is `VETH_INFO_PEER`.
    public static let vethInfoPeer = AttrType(1, "VETH_INFO_PEER")
}

/// Interface flags (`IFF_*`).
public struct InterfaceFlags: OptionSet, Sendable, Hashable {
    /// The `ifi_flags` bits.
    public let rawValue: UInt32
    /// The flags of these bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The corresponding C constant is `IFF_UP`.
    public static let up = InterfaceFlags(rawValue: 0x1)
    /// The corresponding C constant is `IFF_BROADCAST`.
    public static let broadcast = InterfaceFlags(rawValue: 0x2)
    /// The corresponding C constant is `IFF_LOOPBACK`.
    public static let loopback = InterfaceFlags(rawValue: 0x8)
    /// The corresponding C constant is `IFF_POINTOPOINT`.
    public static let pointToPoint = InterfaceFlags(rawValue: 0x10)
    /// The corresponding C constant is `IFF_RUNNING`.
    public static let running = InterfaceFlags(rawValue: 0x40)
    /// The corresponding C constant is `IFF_NOARP`.
    public static let noARP = InterfaceFlags(rawValue: 0x80)
    /// The corresponding C constant is `IFF_PROMISC`.
    public static let promisc = InterfaceFlags(rawValue: 0x100)
    /// The corresponding C constant is `IFF_MULTICAST`.
    public static let multicast = InterfaceFlags(rawValue: 0x1000)
    /// The corresponding C constant is `IFF_LOWER_UP`.
    public static let lowerUp = InterfaceFlags(rawValue: 0x10000)
}

/// Address attributes (`IFA_*`) and flags.
public enum IFA {
    /// The corresponding C constant is `IFA_ADDRESS`.
    public static let address = AttrType(1, "IFA_ADDRESS")
    /// The corresponding C constant is `IFA_LOCAL`.
    public static let local = AttrType(2, "IFA_LOCAL")
    /// The corresponding C constant is `IFA_LABEL`.
    public static let label = AttrType(3, "IFA_LABEL")
    /// The corresponding C constant is `IFA_BROADCAST`.
    public static let broadcast = AttrType(4, "IFA_BROADCAST")
    /// The corresponding C constant is `IFA_CACHEINFO`.
    public static let cacheinfo = AttrType(6, "IFA_CACHEINFO")
    /// The corresponding C constant is `IFA_FLAGS`.
    public static let flags = AttrType(8, "IFA_FLAGS")
    /// The metric of the prefix route the address adds.
    public static let rtPriority = AttrType(9, "IFA_RT_PRIORITY")

    /// The corresponding C constant is `IFA_F_SECONDARY`.
    public static let fSecondary: UInt32 = 0x01
    /// The corresponding C constant is `IFA_F_NODAD`.
    public static let fNoDAD: UInt32 = 0x02
    /// The corresponding C constant is `IFA_F_OPTIMISTIC`.
    public static let fOptimistic: UInt32 = 0x04
    /// The corresponding C constant is `IFA_F_DADFAILED`.
    public static let fDADFailed: UInt32 = 0x08
    /// The corresponding C constant is `IFA_F_HOMEADDRESS`.
    public static let fHomeAddress: UInt32 = 0x10
    /// The corresponding C constant is `IFA_F_DEPRECATED`.
    public static let fDeprecated: UInt32 = 0x20
    /// The corresponding C constant is `IFA_F_TENTATIVE`.
    public static let fTentative: UInt32 = 0x40
    /// The corresponding C constant is `IFA_F_PERMANENT`.
    public static let fPermanent: UInt32 = 0x80
    /// The corresponding C constant is `IFA_F_NOPREFIXROUTE`.
    public static let fNoPrefixRoute: UInt32 = 0x200
}

/// Route attributes (`RTA_*`) and rtmsg field values.
public enum RTA {
    /// The corresponding C constant is `RTA_DST`.
    public static let dst = AttrType(1, "RTA_DST")
    /// The corresponding C constant is `RTA_SRC`.
    public static let src = AttrType(2, "RTA_SRC")
    /// The corresponding C constant is `RTA_IIF`.
    public static let iif = AttrType(3, "RTA_IIF")
    /// The corresponding C constant is `RTA_OIF`.
    public static let oif = AttrType(4, "RTA_OIF")
    /// The corresponding C constant is `RTA_GATEWAY`.
    public static let gateway = AttrType(5, "RTA_GATEWAY")
    /// The corresponding C constant is `RTA_PRIORITY`.
    public static let priority = AttrType(6, "RTA_PRIORITY")
    /// The corresponding C constant is `RTA_PREFSRC`.
    public static let prefsrc = AttrType(7, "RTA_PREFSRC")
    /// The corresponding C constant is `RTA_METRICS`.
    public static let metrics = AttrType(8, "RTA_METRICS")
    /// The corresponding C constant is `RTA_MULTIPATH`.
    public static let multipath = AttrType(9, "RTA_MULTIPATH")
    /// The corresponding C constant is `RTA_FLOW`.
    public static let flow = AttrType(11, "RTA_FLOW")
    /// The corresponding C constant is `RTA_TABLE`.
    public static let table = AttrType(15, "RTA_TABLE")
    /// The corresponding C constant is `RTA_MARK`.
    public static let mark = AttrType(16, "RTA_MARK")
    /// The corresponding C constant is `RTA_VIA`.
    public static let via = AttrType(18, "RTA_VIA")
    /// The corresponding C constant is `RTA_PREF`.
    public static let pref = AttrType(20, "RTA_PREF")
    /// The corresponding C constant is `RTA_UID`.
    public static let uid = AttrType(25, "RTA_UID")
    /// The corresponding C constant is `RTA_IP_PROTO`.
    public static let ipProto = AttrType(27, "RTA_IP_PROTO")
    /// The corresponding C constant is `RTA_SPORT`.
    public static let sport = AttrType(28, "RTA_SPORT")
    /// The corresponding C constant is `RTA_DPORT`.
    public static let dport = AttrType(29, "RTA_DPORT")
    /// The corresponding C constant is `RTA_NH_ID`.
    public static let nhID = AttrType(30, "RTA_NH_ID")

    /// The corresponding C constant is `RTAX_MTU`.
    public static let metricMTU = AttrType(2, "RTAX_MTU")
    /// The corresponding C constant is `RTAX_ADVMSS`.
    public static let metricAdvMSS = AttrType(8, "RTAX_ADVMSS")
}

/// Route types (`RTN_*`).
public enum RouteType: UInt8, Sendable, Codable, CaseIterable {
    /// `RTN_UNSPEC`, `RTN_UNICAST`, `RTN_LOCAL`, `RTN_BROADCAST`, `RTN_ANYCAST` and `RTN_MULTICAST`.
    case unspec = 0, unicast = 1, local = 2, broadcast = 3, anycast = 4, multicast = 5
    /// `RTN_BLACKHOLE`, `RTN_UNREACHABLE`, `RTN_PROHIBIT`, `RTN_THROW` and `RTN_NAT`.
    case blackhole = 6, unreachable = 7, prohibit = 8, `throw` = 9, nat = 10
}

/// Route scopes (`RT_SCOPE_*`).
public enum RouteScope: UInt8, Sendable, Codable {
    /// `RT_SCOPE_UNIVERSE`, `RT_SCOPE_SITE`, `RT_SCOPE_LINK`, `RT_SCOPE_HOST` and `RT_SCOPE_NOWHERE`.
    case universe = 0, site = 200, link = 253, host = 254, nowhere = 255
}

/// Route protocols (`RTPROT_*`) commonly used.
public enum RouteProtocol {
    /// The corresponding C constant is `RTPROT_UNSPEC`.
    public static let unspec: UInt8 = 0
    /// The corresponding C constant is `RTPROT_REDIRECT`.
    public static let redirect: UInt8 = 1
    /// The corresponding C constant is `RTPROT_KERNEL`.
    public static let kernel: UInt8 = 2
    /// The corresponding C constant is `RTPROT_BOOT`.
    public static let boot: UInt8 = 3
    /// The corresponding C constant is `RTPROT_STATIC`.
    public static let `static`: UInt8 = 4
}

/// Route tables (`RT_TABLE_*`).
public enum RouteTable {
    /// The corresponding C constant is `RT_TABLE_UNSPEC`.
    public static let unspec: UInt32 = 0
    /// The corresponding C constant is `RT_TABLE_DEFAULT`.
    public static let `default`: UInt32 = 253
    /// The corresponding C constant is `RT_TABLE_MAIN`.
    public static let main: UInt32 = 254
    /// The corresponding C constant is `RT_TABLE_LOCAL`.
    public static let local: UInt32 = 255
}

/// Route flags in rtm_flags (`RTM_F_*`, `RTNH_F_*`).
public enum RouteFlags {
    /// The corresponding C constant is `RTNH_F_ONLINK`.
    public static let onlink: UInt32 = 0x4        // RTNH_F_ONLINK
    /// The corresponding C constant is `RTM_F_NOTIFY`.
    public static let notify: UInt32 = 0x100      // RTM_F_NOTIFY
    /// The corresponding C constant is `RTM_F_CLONED`.
    public static let cloned: UInt32 = 0x200
    /// The corresponding C constant is `RTM_F_LOOKUP_TABLE`.
    public static let lookupTable: UInt32 = 0x1000 // RTM_F_LOOKUP_TABLE
    /// The corresponding C constant is `RTM_F_FIB_MATCH`.
    public static let fibMatch: UInt32 = 0x2000    // RTM_F_FIB_MATCH
}

/// FIB rule attributes (`FRA_*`) and actions.
public enum FRA {
    /// The corresponding C constant is `FRA_DST`.
    public static let dst = AttrType(1, "FRA_DST")
    /// The corresponding C constant is `FRA_SRC`.
    public static let src = AttrType(2, "FRA_SRC")
    /// The corresponding C constant is `FRA_IIFNAME`.
    public static let iifname = AttrType(3, "FRA_IIFNAME")
    /// The corresponding C constant is `FRA_GOTO`.
    public static let goto = AttrType(4, "FRA_GOTO")
    /// The corresponding C constant is `FRA_PRIORITY`.
    public static let priority = AttrType(6, "FRA_PRIORITY")
    /// The corresponding C constant is `FRA_FWMARK`.
    public static let fwmark = AttrType(10, "FRA_FWMARK")
    /// The corresponding C constant is `FRA_FLOW`.
    public static let flow = AttrType(11, "FRA_FLOW")
    /// The corresponding C constant is `FRA_SUPPRESS_PREFIXLEN`.
    public static let suppressPrefixlen = AttrType(14, "FRA_SUPPRESS_PREFIXLEN")
    /// The corresponding C constant is `FRA_TABLE`.
    public static let table = AttrType(15, "FRA_TABLE")
    /// The corresponding C constant is `FRA_FWMASK`.
    public static let fwmask = AttrType(16, "FRA_FWMASK")
    /// The corresponding C constant is `FRA_OIFNAME`.
    public static let oifname = AttrType(17, "FRA_OIFNAME")
    /// The corresponding C constant is `FRA_PROTOCOL`.
    public static let proto = AttrType(21, "FRA_PROTOCOL")
    /// The corresponding C constant is `FRA_IP_PROTO`.
    public static let ipProto = AttrType(22, "FRA_IP_PROTO")
    /// The corresponding C constant is `FRA_L3MDEV`.
    public static let l3mdev = AttrType(19, "FRA_L3MDEV")
    /// The corresponding C constant is `FRA_UID_RANGE`.
    public static let uidRange = AttrType(20, "FRA_UID_RANGE")
    /// The corresponding C constant is `FRA_SPORT_RANGE`.
    public static let sportRange = AttrType(23, "FRA_SPORT_RANGE")
    /// The corresponding C constant is `FRA_DPORT_RANGE`.
    public static let dportRange = AttrType(24, "FRA_DPORT_RANGE")

    /// The corresponding C constant is `FR_ACT_TO_TBL`.
    public static let actToTbl: UInt8 = 1
    /// The corresponding C constant is `FR_ACT_GOTO`.
    public static let actGoto: UInt8 = 2
    /// The corresponding C constant is `FR_ACT_BLACKHOLE`.
    public static let actBlackhole: UInt8 = 6
    /// The corresponding C constant is `FR_ACT_UNREACHABLE`.
    public static let actUnreachable: UInt8 = 7
    /// The corresponding C constant is `FR_ACT_PROHIBIT`.
    public static let actProhibit: UInt8 = 8
}

/// Neighbour attributes (`NDA_*`) and states (`NUD_*`).
public enum NDA {
    /// The corresponding C constant is `NDA_DST`.
    public static let dst = AttrType(1, "NDA_DST")
    /// The corresponding C constant is `NDA_LLADDR`.
    public static let lladdr = AttrType(2, "NDA_LLADDR")
    /// The corresponding C constant is `NDA_CACHEINFO`.
    public static let cacheinfo = AttrType(3, "NDA_CACHEINFO")
    /// The corresponding C constant is `NDA_VLAN`.
    public static let vlan = AttrType(5, "NDA_VLAN")
    /// The corresponding C constant is `NDA_MASTER`.
    public static let master = AttrType(9, "NDA_MASTER")

    /// The corresponding C constant is `NUD_INCOMPLETE`.
    public static let nudIncomplete: UInt16 = 0x01
    /// The corresponding C constant is `NUD_REACHABLE`.
    public static let nudReachable: UInt16 = 0x02
    /// The corresponding C constant is `NUD_STALE`.
    public static let nudStale: UInt16 = 0x04
    /// The corresponding C constant is `NUD_DELAY`.
    public static let nudDelay: UInt16 = 0x08
    /// The corresponding C constant is `NUD_PROBE`.
    public static let nudProbe: UInt16 = 0x10
    /// The corresponding C constant is `NUD_FAILED`.
    public static let nudFailed: UInt16 = 0x20
    /// The corresponding C constant is `NUD_NOARP`.
    public static let nudNoARP: UInt16 = 0x40
    /// The corresponding C constant is `NUD_PERMANENT`.
    public static let nudPermanent: UInt16 = 0x80

    /// The corresponding C constant is `NTF_SELF`.
    public static let ntfSelf: UInt8 = 0x02
    /// The corresponding C constant is `NTF_MASTER`.
    public static let ntfMaster: UInt8 = 0x04
}

/// Traffic-control attributes (`TCA_*`).
public enum TCA {
    /// The corresponding C constant is `TCA_KIND`.
    public static let kind = AttrType(1, "TCA_KIND")
    /// The corresponding C constant is `TCA_OPTIONS`.
    public static let options = AttrType(2, "TCA_OPTIONS")
}

/// Netlink socket options (SOL_NETLINK level 270).
public enum NetlinkSocketOption {
    /// The corresponding C constant is `SOL_NETLINK`.
    public static let level: Int32 = 270
    /// The corresponding C constant is `NETLINK_ADD_MEMBERSHIP`.
    public static let addMembership: Int32 = 1
    /// The corresponding C constant is `NETLINK_EXT_ACK`.
    public static let extAck: Int32 = 11
    /// The corresponding C constant is `NETLINK_GET_STRICT_CHK`.
    public static let getStrictCheck: Int32 = 12
    /// The corresponding C constant is `NETLINK_CAP_ACK`.
    public static let capAck: Int32 = 10
    /// The corresponding C constant is `NETLINK_NO_ENOBUFS`.
    public static let noENOBUFS: Int32 = 5
}

/// rtnetlink multicast groups (`RTNLGRP_*`).
public enum RTNLGroup {
    /// The corresponding C constant is `RTNLGRP_LINK`.
    public static let link: UInt32 = 1
    /// The corresponding C constant is `RTNLGRP_NEIGH`.
    public static let neigh: UInt32 = 3
    /// The corresponding C constant is `RTNLGRP_IPV4_RULE`.
    public static let ipv4Rule: UInt32 = 8
    /// The corresponding C constant is `RTNLGRP_IPV6_RULE`.
    public static let ipv6Rule: UInt32 = 19
    /// The corresponding C constant is `RTNLGRP_IPV4_IFADDR`.
    public static let ipv4IfAddr: UInt32 = 5
    /// The corresponding C constant is `RTNLGRP_IPV4_ROUTE`.
    public static let ipv4Route: UInt32 = 7
    /// The corresponding C constant is `RTNLGRP_IPV6_IFADDR`.
    public static let ipv6IfAddr: UInt32 = 9
    /// The corresponding C constant is `RTNLGRP_IPV6_ROUTE`.
    public static let ipv6Route: UInt32 = 11
}
