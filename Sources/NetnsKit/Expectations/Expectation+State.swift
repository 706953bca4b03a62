import SystemPackage
import Namespaces
import Netlink
import NetnsModel

// Expectation kinds of issue 19 (items 5 and 6): TCP/UDP exchanges with their outcome, reply and
// the peer a listener saw; nftables named counters; the kernel's MIB counters.

/// How a TCP connection or a UDP exchange ends.
public enum TransportResult: String, Sendable, Hashable, Codable, CaseIterable {
    /// TCP: the handshake completed. UDP: a reply came back.
    case ok
    /// TCP: a RST (`ECONNREFUSED`). UDP: an ICMP port unreachable (`ECONNREFUSED` on a connected socket).
    case refused
    /// Nothing came back within the probe's time (dropped on the way, or a UDP service that does not answer).
    case timeout
    /// Another error came back: an ICMP host/net unreachable or prohibited, or no route at the sender.
    case unreachable
}

/// A TCP connection (optionally with a request) or a UDP exchange, and what must come of it.
public struct TransportExpectation: Sendable, Hashable {
    /// The node that connects.
    public var from: String
    /// The destination address.
    public var to: IPAddress
    /// The destination port.
    public var port: UInt16
    /// TCP or UDP.
    public var proto: TransportProtocol
    /// True: a path check, with a built-in echo listener started for the check on the node that owns
    /// `to` (unless something there already listens); false: the test's own server is probed, nothing
    /// is started, and a dead server fails.
    public var listener: Bool
    /// How the exchange must end.
    public var result: TransportResult
    /// The payload sent (TCP: then the sending side is shut down; UDP: one datagram; nil: nothing
    /// for TCP, `netnskit probe\n` for UDP).
    public var send: String?
    /// Text the reply must contain (the built-in listener echoes what it gets).
    public var reply: String?
    /// The source address the built-in listener saw (after NAT: the masquerading router's address);
    /// needs `listener`.
    public var peer: IPAddress?

    /// An exchange from `from` to `to:port`; see the properties.
    public init(from: String, to: IPAddress, port: UInt16, proto: TransportProtocol = .tcp, listener: Bool = false,
                result: TransportResult = .ok, send: String? = nil, reply: String? = nil, peer: IPAddress? = nil) {
        self.from = from; self.to = to; self.port = port; self.proto = proto; self.listener = listener
        self.result = result; self.send = send; self.reply = reply; self.peer = peer
    }

    /// `h1 → 10.0.0.2:80/tcp (built-in listener) ends ok, replies "hi", seen from 10.0.0.9`.
    public var description: String {
        "\(from) → \(to.bracketedText):\(port)/\(proto.rawValue)" + (listener ? " (with a listener started for the check)" : "")
            + (send.map { " sending \(quoted($0))" } ?? "") + " ends \(result.rawValue)"
            + (reply.map { ", replies \(quoted($0))" } ?? "") + (peer.map { ", seen from \($0)" } ?? "")
    }
}

/// An nftables named counter (`counter NAME { }` in a table) and the bounds it must be in.
public struct NftCounterExpectation: Sendable, Hashable {
    /// The node whose ruleset holds the counter.
    public var node: String
    /// The table's family (`inet`, `ip`, `ip6`, `bridge`, `netdev`, `arp`).
    public var family: String
    /// The table.
    public var table: String
    /// The counter's name.
    public var name: String
    /// At least this many packets (nil: no bound).
    public var minPackets: UInt64?
    /// At most this many packets.
    public var maxPackets: UInt64?
    /// At least this many bytes.
    public var minBytes: UInt64?
    /// At most this many bytes.
    public var maxBytes: UInt64?

    /// The counter `family table name` within the bounds given.
    public init(in node: String, family: String = "inet", table: String, name: String, minPackets: UInt64? = nil,
                maxPackets: UInt64? = nil, minBytes: UInt64? = nil, maxBytes: UInt64? = nil) {
        self.node = node; self.family = family; self.table = table; self.name = name
        self.minPackets = minPackets; self.maxPackets = maxPackets; self.minBytes = minBytes; self.maxBytes = maxBytes
    }

    /// The table families nft knows.
    public static let families = ["inet", "ip", "ip6", "bridge", "netdev", "arp"]

    /// `in r1, nft counter inet nslab_fw ssh_drops counted ≥1 packets`.
    public var description: String {
        "in \(node), nft counter \(family) \(table) \(name) counted"
            + bounds(minPackets, maxPackets, "packets") + bounds(minBytes, maxBytes, "bytes")
    }
}

/// A kernel MIB counter of a node (`/proc/net/snmp`, `/proc/net/netstat`, `/proc/net/snmp6`), e.g.
/// `Ip.InNoRoutes` or `TcpExt.IPReversePathFilter`, and the bounds it must be in.
public struct MIBCounterExpectation: Sendable, Hashable {
    /// The node whose counters are read.
    public var node: String
    /// `Group.Name` as `nstat` prints it without the group's separator (`Ip.InNoRoutes`, `TcpExt.IPReversePathFilter`,
    /// `Icmp6.InDestUnreachs`, `Ip6.InNoRoutes`); the group is the first column of `/proc/net/snmp` and
    /// `/proc/net/netstat`, or the name's prefix in `/proc/net/snmp6` (`Ip6InNoRoutes`).
    public var counter: String
    /// At least this value.
    public var min: UInt64?
    /// At most this value.
    public var max: UInt64?

    /// The counter within `[min, max]`.
    public init(in node: String, counter: String, min: UInt64? = nil, max: UInt64? = nil) {
        self.node = node; self.counter = counter; self.min = min; self.max = max
    }

    /// The groups the three files hold.
    public static let groups = ["Ip", "Icmp", "IcmpMsg", "Tcp", "Udp", "UdpLite", "TcpExt", "IpExt", "MPTcpExt",
                                "Ip6", "Icmp6", "Udp6", "UdpLite6"]

    /// Whether `text` names a counter (`Group.Name` with a known group).
    public static func isWellFormed(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, groups.contains(String(parts[0])), !parts[1].isEmpty else { return false }
        return parts[1].allSatisfy { $0.isLetter || $0.isNumber }
    }

    /// `in r1, MIB counter Ip.InNoRoutes ≥1`.
    public var description: String {
        "in \(node), MIB counter \(counter) is" + bounds(min, max, "")
    }
}

private func bounds(_ min: UInt64?, _ max: UInt64?, _ unit: String) -> String {
    let u = unit.isEmpty ? "" : " \(unit)"
    switch (min, max) {
    case let (a?, b?): return " \(a)…\(b)\(u)"
    case let (a?, nil): return " ≥\(a)\(u)"
    case let (nil, b?): return " ≤\(b)\(u)"
    case (nil, nil): return unit.isEmpty ? " present" : ""
    }
}

func quoted(_ s: String) -> String {
    "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
        .replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

extension IPAddress {
    /// The address as it appears before `:port` (IPv6 in brackets).
    var bracketedText: String { isIPv6 ? "[\(self)]" : "\(self)" }
}

/// A link's attributes, general and kind-specific; only the fields given are compared, and a
/// failure lists every field that differs, expected against got.
public struct LinkAttributesExpectation: Sendable, Hashable {
    /// The node holding the link.
    public var node: String
    /// The link's name.
    public var name: String
    /// Administratively up (true) or down.
    public var up: Bool?
    /// The MTU.
    public var mtu: Int?
    /// The master's name; `"none"`: no master.
    public var master: String?
    /// The kind as `ip -d link` names it (`veth`, `bridge`, `vxlan`, `macvlan`, `bond`, …).
    public var kind: String?
    /// A bridge's FDB ageing time (`ageing_time`).
    public var ageing: Duration?
    /// A VXLAN (or tunnel) TTL (`ttl`; 0: inherit).
    public var ttl: Int?
    /// Whether a VXLAN learns source addresses (`learning`).
    public var learning: Bool?
    /// A bond's mode (`mode`: `balance-rr`, `active-backup`, `802.3ad`, …).
    public var bondMode: String?
    /// Other `info_data` keys as `ip -d -j link show` prints them, with their value's text (`"1"`, `"true"`, `"unset"`).
    public var data: [String: String]

    /// The attributes to compare (nil or empty: not compared).
    public init(in node: String, name: String, up: Bool? = nil, mtu: Int? = nil, master: String? = nil, kind: String? = nil,
                ageing: Duration? = nil, ttl: Int? = nil, learning: Bool? = nil, bondMode: String? = nil,
                data: [String: String] = [:]) {
        self.node = node; self.name = name; self.up = up; self.mtu = mtu; self.master = master; self.kind = kind
        self.ageing = ageing; self.ttl = ttl; self.learning = learning; self.bondMode = bondMode; self.data = data
    }

    /// The fields given, as `name value` pairs in a fixed order.
    var fields: [(String, String)] {
        var out: [(String, String)] = []
        if let up { out.append(("state", up ? "up" : "down")) }
        if let mtu { out.append(("mtu", "\(mtu)")) }
        if let master { out.append(("master", master)) }
        if let kind { out.append(("kind", kind)) }
        if let ageing { out.append(("ageing", ageing.tcText)) }
        if let ttl { out.append(("ttl", "\(ttl)")) }
        if let learning { out.append(("learning", "\(learning)")) }
        if let bondMode { out.append(("bondMode", bondMode)) }
        for (k, v) in data.sorted(by: { $0.key < $1.key }) { out.append((k, v)) }
        return out
    }

    /// `in sw, link br0 has kind bridge, ageing 10s`.
    public var description: String {
        "in \(node), link \(name) has " + (fields.isEmpty ? "no attributes to check" : fields.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
    }
}

/// A qdisc on a link with its parameters (as `tc -j qdisc show dev LINK` reports them).
public struct QdiscExpectation: Sendable, Hashable {
    /// The node holding the link.
    public var node: String
    /// The link.
    public var dev: String
    /// The qdisc kind (`tbf`, `htb`, `netem`, `fq_codel`, `ingress`, `clsact`, …).
    public var kind: String
    /// True: the root qdisc; false: any qdisc of that kind on the link.
    public var root: Bool
    /// A tbf rate.
    public var rate: Rate?
    /// A tbf burst in bytes (the kernel keeps it as time at the rate, so within 1% or 1 byte).
    public var burst: UInt64?
    /// A netem delay.
    public var delay: Duration?

    /// A `kind` qdisc on `dev` with these parameters (nil: not compared).
    public init(in node: String, dev: String, kind: String, root: Bool = true, rate: Rate? = nil, burst: UInt64? = nil,
                delay: Duration? = nil) {
        self.node = node; self.dev = dev; self.kind = kind; self.root = root; self.rate = rate; self.burst = burst; self.delay = delay
    }

    /// `in h1, eth0's root qdisc is tbf rate 10mbit burst 32768`.
    public var description: String {
        "in \(node), \(dev)'s \(root ? "root " : "")qdisc is \(kind)" + (rate.map { " rate \($0)" } ?? "")
            + (burst.map { " burst \($0)" } ?? "") + (delay.map { " delay \($0.tcText)" } ?? "")
    }
}

/// A change the kernel must refuse, with its errno and (part of) its extack text; the node's
/// links, addresses, routes and qdiscs must be the same after the attempt.
public struct RefusedChangeExpectation: Sendable, Hashable {
    /// The change attempted (its node is the expectation's node).
    public var change: TimelineChange
    /// The errno the kernel must answer (`EINVAL`, `ENETUNREACH`, `EEXIST`, …).
    public var errno: Errno
    /// Text the kernel's extack message must contain (nil: not checked).
    public var extack: String?

    /// `change` is refused with `errno` (and an extack message containing `extack`).
    public init(_ change: TimelineChange, errno: Errno, extack: String? = nil) {
        self.change = change; self.errno = errno; self.extack = extack
    }

    /// `in h1, ip route add … is refused with EINVAL ("Egress device not specified")`.
    public var description: String {
        "in \(change.description.replacingOccurrences(of: ": ", with: ", ", range: change.description.range(of: ": "))) is refused with "
            + ErrnoNames.name(errno) + (extack.map { " (\(quoted($0)))" } ?? "") + ", the lab unchanged"
    }

    /// The errno whose name (`EINVAL`) is `text`.
    public static func errno(named text: String) -> Errno? {
        (1...200).lazy.map { Errno(rawValue: Int32($0)) }.first { ErrnoNames.name($0) == text }
    }
}

/// Which links a probe's packets crossed: the rx+tx packet counters of `through` links move by
/// at least `minPackets` while `during` is checked (it must hold too), those of `notThrough` links
/// by fewer ("this ping went through r1:eth1, not r1:eth2").
public struct TrafficPathExpectation: Sendable, Hashable {
    /// The node whose links are counted.
    public var node: String
    /// Links whose counters must move.
    public var through: [String]
    /// Links whose counters must not move (by `minPackets` or more).
    public var notThrough: [String]
    /// The packets (rx + tx) that count as moving.
    public var minPackets: UInt64
    /// The check that sends the traffic (a reachability or TCP/UDP check).
    public var during: LabExpectation

    /// `during`, counted on the node's links.
    public init(in node: String, through: [String], notThrough: [String] = [], minPackets: UInt64 = 1, during: LabExpectation) {
        self.node = node; self.through = through; self.notThrough = notThrough; self.minPackets = minPackets; self.during = during
    }

    /// `h1 reaches 10.0.2.2, through r1:eth1, not through r1:eth2`.
    public var description: String {
        "\(during), through " + through.map { "\(node):\($0)" }.joined(separator: ", ")
            + (notThrough.isEmpty ? "" : ", not through " + notThrough.map { "\(node):\($0)" }.joined(separator: ", "))
            + (minPackets == 1 ? "" : " (≥\(minPackets) packets)")
    }
}

/// An address scope as `ip addr` prints it.
public enum AddressScope: String, Sendable, Hashable, CaseIterable {
    /// `scope global` (0).
    case global
    /// `scope site` (200).
    case site
    /// `scope link` (253): IPv6 `fe80::/10`, or an IPv4 address added with `scope link`.
    case link
    /// `scope host` (254): loopback.
    case host

    /// The kernel's number (`rtm_scope`/`ifa_scope`).
    public var value: UInt8 { switch self { case .global: 0; case .site: 200; case .link: 253; case .host: 254 } }
}

/// An address flag as `ip addr` prints it (`IFA_F_*`).
public enum AddressFlag: String, Sendable, Hashable, CaseIterable {
    case secondary, nodad, optimistic, dadfailed, homeaddress, deprecated, tentative, permanent, managetempaddr,
         noprefixroute, mcautojoin, stableprivacy

    /// The `IFA_F_*` bit.
    public var bit: UInt32 {
        switch self {
        case .secondary: 0x01; case .nodad: 0x02; case .optimistic: 0x04; case .dadfailed: 0x08; case .homeaddress: 0x10
        case .deprecated: 0x20; case .tentative: 0x40; case .permanent: 0x80; case .managetempaddr: 0x100
        case .noprefixroute: 0x200; case .mcautojoin: 0x400; case .stableprivacy: 0x800
        }
    }

    /// The flags set in `bits`, in their declared order.
    public static func names(_ bits: UInt32) -> [String] { allCases.filter { bits & $0.bit != 0 }.map(\.rawValue) }
}

/// The number of a node's addresses (on one interface, or all) of a family and scope.
public struct AddressCountExpectation: Sendable, Hashable {
    /// The node.
    public var node: String
    /// The interface (nil: every interface).
    public var on: String?
    /// The family (nil: both).
    public var family: IPFamily?
    /// The scope (nil: any).
    public var scope: AddressScope?
    /// How many there must be.
    public var count: Int

    /// `count` addresses of `family` and `scope` on `on`.
    public init(in node: String, on: String? = nil, family: IPFamily? = nil, scope: AddressScope? = nil, count: Int) {
        self.node = node; self.on = on; self.family = family; self.scope = scope; self.count = count
    }

    /// `in h1, eth0 has 1 ipv6 scope link address`.
    public var description: String {
        "in \(node), \(on ?? "the node") has \(count)" + (family.map { " \($0.rawValue)" } ?? "") + (scope.map { " scope \($0.rawValue)" } ?? "")
            + " address\(count == 1 ? "" : "es")"
    }
}

/// An address on an interface with flags set (and others not set).
public struct AddressFlagsExpectation: Sendable, Hashable {
    /// The node.
    public var node: String
    /// The address and prefix length.
    public var prefix: IPPrefix
    /// The interface.
    public var on: String
    /// Flags that must be set.
    public var flags: [AddressFlag]
    /// Flags that must not be set.
    public var notFlags: [AddressFlag]

    /// `prefix` on `on` with `flags` and without `notFlags`.
    public init(in node: String, prefix: IPPrefix, on: String, flags: [AddressFlag], notFlags: [AddressFlag] = []) {
        self.node = node; self.prefix = prefix; self.on = on; self.flags = flags; self.notFlags = notFlags
    }

    /// `in h1, eth0 has fd00::2/64 with nodad, permanent`.
    public var description: String {
        "in \(node), \(on) has \(prefix)" + (flags.isEmpty ? "" : " with " + flags.map(\.rawValue).joined(separator: ", "))
            + (notFlags.isEmpty ? "" : " without " + notFlags.map(\.rawValue).joined(separator: ", "))
    }
}

/// A MAC address given, or the MAC of a node's interface (read when the check runs).
public enum MACReference: Sendable, Hashable, CustomStringConvertible {
    /// This MAC.
    case address(MACAddress)
    /// The MAC of `node:ifname`.
    case of(node: String, interface: String)

    /// `02:00:00:00:00:01` or `h1:eth0`.
    public var description: String {
        switch self {
        case .address(let m): "\(m)"
        case let .of(n, i): "\(n):\(i)"
        }
    }
}

/// A bridge (or VXLAN) FDB entry for a MAC: present or absent, on a port, with a VXLAN `dst`, learned or static.
public struct FDBExpectation: Sendable, Hashable {
    /// The node holding the bridge.
    public var node: String
    /// The MAC.
    public var mac: MACReference
    /// Present (true) or absent.
    public var present: Bool
    /// The port (or VXLAN device) the entry points to.
    public var port: String?
    /// A VXLAN entry's remote (`dst`).
    public var dst: IPAddress?
    /// Learned (true) or static/permanent (false).
    public var learned: Bool?

    /// An entry for `mac` with these fields (nil: not compared).
    public init(in node: String, mac: MACReference, present: Bool = true, port: String? = nil, dst: IPAddress? = nil,
                learned: Bool? = nil) {
        self.node = node; self.mac = mac; self.present = present; self.port = port; self.dst = dst; self.learned = learned
    }

    /// `in sw, the FDB has h1:eth0 on p1, learned`.
    public var description: String {
        "in \(node), the FDB " + (present ? "has" : "has no entry for") + " \(mac)" + (port.map { " on \($0)" } ?? "")
            + (dst.map { " dst \($0)" } ?? "") + (learned.map { $0 ? ", learned" : ", static" } ?? "")
    }
}
