import Namespaces
import Netlink
import NetnsModel

extension Lab {
    /// Checks expectations against the running lab, one after the other.
    /// - Returns: one result per expectation, in order; never throws (a failure to probe is a failed result).
    public func check(_ expectations: [LabExpectation]) async -> [ExpectationResult] {
        var out: [ExpectationResult] = []
        for e in expectations { out.append(await check(e)) }
        return out
    }

    /// Checks one expectation.
    public func check(_ e: LabExpectation) async -> ExpectationResult {
        let start = monotonicNow()
        let (ok, observed, silent): (Bool, String, Bool)
        do {
            (ok, observed, silent) = try await evaluate(e)
        } catch {
            (ok, observed, silent) = (false, "error: \(error)", false)
        }
        var r = ExpectationResult(expectation: e, passed: ok, observed: observed, seconds: monotonicNow() - start)
        r.silent = silent
        return r
    }

    /// The node that owns an address (for starting listeners).
    public func owner(of address: IPAddress) -> Node? {
        nodes.first { n in ((try? n.addresses()) ?? []).contains { $0.prefix.address == address } }
    }

    private func address(_ text: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw ExpectationError("\"\(text)\" is not an IP address") }
        return a
    }

    private func evaluate(_ e: LabExpectation) async throws -> (Bool, String, silent: Bool) {
        switch e {
        case let .reachable(from, to):
            let r = try await probePing(from: from, to: try address(to), size: nil)
            return (r.ok, r.text, r.silent)
        case let .unreachable(from, to, reason):
            let r = try await probePing(from: from, to: try address(to), size: nil)
            if r.ok { return (false, "reachable: \(r.text)", false) }
            return (reason == .any || r.reason == reason, r.text, r.silent)
        case let .rtt(from, to, min, max):
            let r = try await probePing(from: from, to: try address(to), size: nil)
            guard r.ok, let rtt = r.rtt else { return (false, r.text, r.silent) }
            let seconds = Double(rtt.components.seconds) + Double(rtt.components.attoseconds) / 1e18
            return ((min.map { rtt >= $0 } ?? true) && (max.map { rtt <= $0 } ?? true),
                    "echo reply in \(Double(Int(seconds * 1e6)) / 1000) ms", false)
        case let .pingSize(from, to, size, succeeds):
            let r = try await probePing(from: from, to: try address(to), size: size)
            return (r.ok == succeeds, r.text, r.silent)
        case let .tcp(from, to, port, open):
            let r = try await probeTCP(from: from, to: try address(to), port: port, startListener: true)
            return (r.open == open, r.text, false)
        case let .tcpConnect(from, to, port, open):
            let r = try await probeTCP(from: from, to: try address(to), port: port, startListener: false)
            return (r.open == open, r.text, false)
        case .route, .multipath, .rule, .routes:
            return try await evaluateRouting(e)!
        case let .link(n, name, up, mtu):
            let l = try self.node(n).link(name)
            let ok = l.isUp == up && (mtu == nil || l.mtu == mtu.map { UInt32($0) })
            return (ok, "\(l.isUp ? "up" : "down") mtu \(l.mtu ?? 0)", false)
        case let .sysctl(n, key, value):
            let v = try self.node(n).sysctl(key)
            return (v == value, v, false)
        case let .counters(n, name, rx, tx):
            let s = try self.node(n).link(name).stats ?? LinkStats()
            return (s.rxPackets >= rx && s.txPackets >= tx, "rx \(s.rxPackets) tx \(s.txPackets) packets", false)
        case let .address(n, p, on):
            guard let want = IPPrefix(p) else { throw ExpectationError("\"\(p)\" is not an address/prefix") }
            let node = try self.node(n)
            let link = try node.link(on)
            let mine = try node.addresses().filter { $0.index == UInt32(bitPattern: link.index) }
            guard let a = mine.first(where: { $0.prefix == want }) else {
                return (false, "on \(on): " + (mine.map { "\($0.prefix)" }.joined(separator: ", ").nonEmpty ?? "no addresses"), false)
            }
            return (!a.isTentative, a.isTentative ? "\(want) is tentative (DAD running)" : "\(want) present", false)
        case let .master(n, name, m):
            let node = try self.node(n)
            let got = node.interfaceName(try node.link(name).master)
            return (got == m, got.map { "port of \($0)" } ?? "no master", false)
        case let .neighbor(n, a, states):
            let ip = try address(a)
            // One family's table: less to read than every family's.
            let entry = try self.node(n).neighbors(family: ip.family).first { $0.address == ip }
            guard let entry else { return (false, "no neighbour entry for \(a)", false) }
            let names = Set(entry.stateName.split(separator: ",").map(String.init))
            return (!names.isDisjoint(with: states.map { $0.uppercased() }), entry.stateName, false)
        case let .ping(from, to, options, failure):
            return try await evaluatePing(from: from, to: to, options: options, failure: failure)
        case let .throughput(from, to, port, bytes, limit, min, max):
            return try await evaluateThroughput(from: from, to: to, port: port, bytes: bytes, timeLimit: limit, min: min, max: max)
        case let .transport(t): return try await evaluateTransport(t)
        case let .nftCounter(c): return try await evaluateNftCounter(c)
        case let .mibCounter(c): return try await evaluateMIBCounter(c)
        case let .linkAttributes(l): return try await evaluateLinkAttributes(l)
        case let .qdisc(q): return try await evaluateQdisc(q)
        case let .refused(r): return try await evaluateRefused(r)
        case let .path(p): return try await evaluateTrafficPath(p)
        case let .addressCount(a): return try await evaluateAddressCount(a)
        case let .addressFlags(a): return try await evaluateAddressFlags(a)
        case let .fdb(f): return try await evaluateFDB(f)
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}

/// A malformed expectation (not a failed one).
public struct ExpectationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the expectation.
    public var description: String
    /// An error saying `d`.
    public init(_ d: String) { description = d }
}
