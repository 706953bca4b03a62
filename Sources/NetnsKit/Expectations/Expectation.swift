import Namespaces
import Netlink
import NetnsModel

/// Why a destination is expected to be unreachable.
public enum UnreachableReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// No route at the sender (`Network is unreachable`).
    case noRoute
    /// A blackhole route drops the packet silently.
    case blackholed
    /// An `unreachable` route or an ICMP host/net unreachable answer.
    case unreachable
    /// A `prohibit` route or an ICMP administratively-prohibited answer.
    case prohibited
    /// No answer before the timeout (dropped somewhere): silently dropped, no reply and no error.
    case timeout
    /// Too big for the path with DF set: an ICMP "fragmentation needed" / "packet too big" or a
    /// local `EMSGSIZE`.
    case tooBig
    /// Any reason.
    case any
}

/// A statement about what the kernel does in a built lab, checked by ``Lab/check(_:)->ExpectationResult``.
///
/// Scenarios declare these; `nslab test` checks them; tests can check them too.
public enum LabExpectation: Sendable, Hashable, CustomStringConvertible {
    /// ICMP echo from `node` to `address` gets an answer.
    case reachable(from: String, to: String)
    /// ICMP echo from `node` to `address` fails, for `reason`.
    case unreachable(from: String, to: String, reason: UnreachableReason)
    /// A ping of `size` payload bytes with the DF bit set succeeds (or not).
    case pingSize(from: String, to: String, size: Int, succeeds: Bool)
    /// An ICMP echo gets a reply whose round trip took at least `min` and at most `max` (e.g. to
    /// see a netem delay).
    case rtt(from: String, to: String, min: Duration? = nil, max: Duration? = nil)
    /// A path check: a TCP connection from `node` to `address:port` gets through (an echo
    /// listener is started on the node owning `address` for the check, unless something
    /// there already listens) or not (refused or dropped). It says nothing about the
    /// test's own server; use ``tcpConnect(from:to:port:open:)`` for that.
    case tcp(from: String, to: String, port: UInt16, open: Bool)
    /// A TCP connection from `node` to `address:port` is accepted by whatever listens there
    /// (nothing is started for the check: a dead server fails), or not (refused or dropped).
    case tcpConnect(from: String, to: String, port: UInt16, open: Bool)
    /// A route lookup (`ip route get` with any selector: from, iif, oif, vrf, mark, tos, uid,
    /// ipproto, sport, dport) in `node` answers the expected fields (dev, via, prefsrc, table,
    /// type, mtu) or fails with the expected error; a failure lists the differing fields.
    /// ``route(in:to:from:iif:via:dev:vrf:)`` is the original short form.
    case route(in: String, RouteLookup)
    /// Multipath from `node`: flows spread over devices, one flow's path is stable, or real
    /// traffic splits over the devices (``MultipathCheck/Mode``). Ports count only with
    /// `net.ipv4.fib_multipath_hash_policy` (or the IPv6 one) at 1 or 2; with the default 0 (L3:
    /// addresses only) vary the source addresses, and the observation says which policy applied.
    /// ``multipathSpread(in:to:devices:)`` is the original form.
    case multipath(in: String, MultipathCheck)
    /// A link is up (or down) with this MTU.
    case link(in: String, name: String, up: Bool = true, mtu: Int? = nil)
    /// A sysctl has this value.
    case sysctl(in: String, key: String, value: String)
    /// An interface has sent (`tx`) or received at least this many packets.
    case counters(in: String, name: String, minRxPackets: UInt64 = 0, minTxPackets: UInt64 = 0)
    /// An address is on an interface and usable (not tentative).
    case address(in: String, prefix: String, on: String)
    /// A link is enslaved to `master` (nil: to no master).
    case master(in: String, name: String, master: String?)
    /// A policy rule with exactly these selectors (from, to, iif, oif, fwmark/mask, tos, uidrange,
    /// ipproto, sport, dport, l3mdev, suppressPrefixlength; a selector not given must be absent, so
    /// no `from` means `from all`), this action (table, goto, blackhole…) and, when given, priority.
    /// A failure shows the closest rule field by field. ``rule(in:from:table:priority:)`` is the original form.
    case rule(in: String, Rule)
    /// The neighbour entry for `address` is in one of `states` (`REACHABLE`, `PERMANENT`, …).
    case neighbor(in: String, address: String, states: [String])
    /// The routes of a table matching a filter (destination, type, protocol, metric, mtu, next-hop
    /// count, dev, via) number at least `atLeast` (1: such a route exists) and at most `atMost`
    /// (0: no such route). As a timeline check (`within:`) it waits for a daemon to converge.
    /// ``routes(in:protocol:atLeast:)`` is the original form (routes of a protocol in the main table).
    case routes(in: String, RouteFilter, atLeast: Int = 1, atMost: Int? = nil)
    /// A ping with options (count, size, DF, ttl, source, device): every echo is answered
    /// (`failure` nil), or none is and the failure matches (reason, reporter, ICMP type/code, MTU).
    case ping(from: String, to: IPAddress, options: PingOptions = PingOptions(), failure: PingFailureExpectation? = nil)
    /// A bulk TCP transfer of `bytes` bytes from `node` to `address:port` (a sink listens on the
    /// node owning the address for the check) runs at `min`…`max` Mbit/s, cut at `timeLimit`.
    case throughput(from: String, to: IPAddress, port: UInt16 = 5201, bytes: Int = 2_000_000,
                    timeLimit: Duration = .seconds(10), min: Double? = nil, max: Double? = nil)
    /// A TCP connection or UDP exchange ends `ok`, `refused`, `timeout` or `unreachable`, with a
    /// reply and the peer a listener saw (see ``TransportExpectation``).
    case transport(TransportExpectation)
    /// An nftables named counter is within bounds (see ``NftCounterExpectation``).
    case nftCounter(NftCounterExpectation)
    /// A kernel MIB counter (`/proc/net/snmp`, `netstat`, `snmp6`) is within bounds (see ``MIBCounterExpectation``).
    case mibCounter(MIBCounterExpectation)
    /// A link's attributes, general and kind-specific (see ``LinkAttributesExpectation``).
    case linkAttributes(LinkAttributesExpectation)
    /// A qdisc with its parameters (see ``QdiscExpectation``).
    case qdisc(QdiscExpectation)
    /// A change the kernel refuses, with its errno and extack, leaving the node as it was (see ``RefusedChangeExpectation``).
    case refused(RefusedChangeExpectation)
    /// A check whose traffic must cross some links and not others, by their counters (see ``TrafficPathExpectation``).
    indirect case path(TrafficPathExpectation)
    /// The number of addresses of a family and scope (see ``AddressCountExpectation``).
    case addressCount(AddressCountExpectation)
    /// An address with its flags (see ``AddressFlagsExpectation``).
    case addressFlags(AddressFlagsExpectation)
    /// A bridge FDB entry (see ``FDBExpectation``).
    case fdb(FDBExpectation)

    /// The expectation in words (`h1 reaches 10.0.2.2`).
    public var description: String {
        switch self {
        case let .reachable(f, t): return "\(f) reaches \(t)"
        case let .unreachable(f, t, r): return "\(f) cannot reach \(t)" + (r == .any ? "" : " (\(r.rawValue))")
        case let .pingSize(f, t, s, ok): return "\(f) → \(t) with \(s)-byte DF pings \(ok ? "passes" : "is dropped")"
        case let .rtt(f, t, min, max):
            return "\(f) reaches \(t) with a round trip" + (min.map { " of at least \($0.tcText)" } ?? "")
                + (min != nil && max != nil ? " and" : "") + (max.map { " of at most \($0.tcText)" } ?? "")
        case let .tcp(f, t, p, open):
            return "\(f) → \(t):\(p)/tcp \(open ? "gets through" : "is blocked") (with a listener started for the check)"
        case let .tcpConnect(f, t, p, open): return "\(f) → \(t):\(p)/tcp is \(open ? "open" : "closed")"
        case .route, .multipath, .rule, .routes: return Self.routingDescription(self) ?? ""
        case let .link(n, name, up, mtu): return "\(n):\(name) is \(up ? "up" : "down")" + (mtu.map { " with mtu \($0)" } ?? "")
        case let .sysctl(n, k, v): return "in \(n), \(k) = \(v)"
        case let .counters(n, name, rx, tx):
            return "\(n):\(name) counted" + (rx > 0 ? " ≥\(rx) rx" : "") + (tx > 0 ? " ≥\(tx) tx" : "") + " packets"
        case let .address(n, p, on): return "\(n):\(on) has \(p), not tentative"
        case let .master(n, name, m): return "\(n):\(name) " + (m.map { "is a port of \($0)" } ?? "has no master")
        case let .neighbor(n, a, states): return "in \(n), neighbour \(a) is \(states.joined(separator: " or "))"
        case let .ping(f, t, o, failure): return Self.pingText(f, t, o, failure)
        case let .throughput(f, t, port, bytes, _, min, max): return Self.throughputText(f, t, port, bytes, min, max)
        case let .transport(t): return t.description
        case let .nftCounter(c): return c.description
        case let .mibCounter(c): return c.description
        case let .linkAttributes(l): return l.description
        case let .qdisc(q): return q.description
        case let .refused(r): return r.description
        case let .path(p): return p.description
        case let .addressCount(a): return a.description
        case let .addressFlags(a): return a.description
        case let .fdb(f): return f.description
        }
    }
}

/// The outcome of checking one expectation.
public struct ExpectationResult: Sendable, CustomStringConvertible {
    /// The expectation that was checked.
    public var expectation: LabExpectation
    /// Whether the kernel did what it says.
    public var passed: Bool
    /// What the kernel actually did, in words.
    public var observed: String
    /// How long the check took, in seconds.
    public var seconds: Double
    /// True when the observation is an absence (a probe that timed out with no answer):
    /// a repeated check reports an earlier answer (an ICMP error) over it, since an
    /// ICMP rate limit makes the later attempts silent.
    var silent = false

    /// `✔` and the expectation, or `✘`, the expectation and what was observed.
    public var description: String {
        "\(passed ? "✔" : "✘") \(expectation)" + (passed ? "" : " — observed: \(observed)")
    }
}
