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
    /// No answer before the timeout (dropped somewhere).
    case timeout
    /// Any reason.
    case any
}

/// A statement about what the kernel does in a built lab, checked by ``Lab/check(_:)``.
///
/// Scenarios declare these; `nslab test` checks them; tests can check them too.
public enum LabExpectation: Sendable, Hashable, CustomStringConvertible {
    /// ICMP echo from `node` to `address` gets an answer.
    case reachable(from: String, to: String)
    /// ICMP echo from `node` to `address` fails, for `reason`.
    case unreachable(from: String, to: String, reason: UnreachableReason)
    /// A ping of `size` payload bytes with the DF bit set succeeds (or not).
    case pingSize(from: String, to: String, size: Int, succeeds: Bool)
    /// A TCP connection from `node` to `address:port` is accepted (a listener is started
    /// on the node owning `address` for the check) or not (refused or dropped).
    case tcp(from: String, to: String, port: UInt16, open: Bool)
    /// `ip route get ADDRESS [from F] [iif I]` in `node` resolves through `via` and/or `dev`.
    /// A `from` that is not the node's own address needs `iif` (a forwarded packet's lookup).
    case route(in: String, to: String, from: String? = nil, iif: String? = nil, via: String? = nil, dev: String? = nil)
    /// Over many flows (source ports), the multipath route in `node` to `address` uses every one of `devices`.
    case multipathSpread(in: String, to: String, devices: [String])
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
    /// A policy rule sends traffic `from` (or all) to `table`, optionally at `priority`.
    case rule(in: String, from: String?, table: UInt32, priority: UInt32? = nil)
    /// The neighbour entry for `address` is in one of `states` (`REACHABLE`, `PERMANENT`, …).
    case neighbor(in: String, address: String, states: [String])

    public var description: String {
        switch self {
        case let .reachable(f, t): return "\(f) reaches \(t)"
        case let .unreachable(f, t, r): return "\(f) cannot reach \(t)" + (r == .any ? "" : " (\(r.rawValue))")
        case let .pingSize(f, t, s, ok): return "\(f) → \(t) with \(s)-byte DF pings \(ok ? "passes" : "is dropped")"
        case let .tcp(f, t, p, open): return "\(f) → \(t):\(p)/tcp is \(open ? "open" : "closed")"
        case let .route(n, t, from, iif, via, dev):
            return "in \(n), route to \(t)" + (from.map { " from \($0)" } ?? "") + (iif.map { " iif \($0)" } ?? "")
                + (via.map { " via \($0)" } ?? "")
                + (dev.map { " dev \($0)" } ?? "")
        case let .multipathSpread(n, t, devs): return "in \(n), flows to \(t) spread over \(devs.joined(separator: ", "))"
        case let .link(n, name, up, mtu): return "\(n):\(name) is \(up ? "up" : "down")" + (mtu.map { " with mtu \($0)" } ?? "")
        case let .sysctl(n, k, v): return "in \(n), \(k) = \(v)"
        case let .counters(n, name, rx, tx):
            return "\(n):\(name) counted" + (rx > 0 ? " ≥\(rx) rx" : "") + (tx > 0 ? " ≥\(tx) tx" : "") + " packets"
        case let .address(n, p, on): return "\(n):\(on) has \(p), not tentative"
        case let .master(n, name, m): return "\(n):\(name) " + (m.map { "is a port of \($0)" } ?? "has no master")
        case let .rule(n, from, table, prio):
            return "in \(n), a rule" + (prio.map { " at \($0)" } ?? "") + " from \(from ?? "all") looks up table \(table)"
        case let .neighbor(n, a, states): return "in \(n), neighbour \(a) is \(states.joined(separator: " or "))"
        }
    }
}

/// The outcome of checking one expectation.
public struct ExpectationResult: Sendable, CustomStringConvertible {
    public var expectation: LabExpectation
    public var passed: Bool
    /// What the kernel actually did, in words.
    public var observed: String
    public var seconds: Double

    public var description: String {
        "\(passed ? "✔" : "✘") \(expectation)" + (passed ? "" : " — observed: \(observed)")
    }
}
