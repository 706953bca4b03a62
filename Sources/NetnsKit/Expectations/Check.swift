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
        let (ok, observed): (Bool, String)
        do {
            (ok, observed) = try await evaluate(e)
        } catch {
            (ok, observed) = (false, "error: \(error)")
        }
        return ExpectationResult(expectation: e, passed: ok, observed: observed, seconds: monotonicNow() - start)
    }

    /// The node that owns an address (for starting listeners).
    public func owner(of address: IPAddress) -> Node? {
        nodes.first { n in ((try? n.addresses()) ?? []).contains { $0.prefix.address == address } }
    }

    private func address(_ text: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw ExpectationError("\"\(text)\" is not an IP address") }
        return a
    }

    private func evaluate(_ e: LabExpectation) async throws -> (Bool, String) {
        switch e {
        case let .reachable(from, to):
            let r = try await probePing(from: from, to: try address(to), size: nil)
            return (r.ok, r.text)
        case let .unreachable(from, to, reason):
            let r = try await probePing(from: from, to: try address(to), size: nil)
            if r.ok { return (false, "reachable: \(r.text)") }
            return (reason == .any || r.reason == reason, r.text)
        case let .pingSize(from, to, size, succeeds):
            let r = try await probePing(from: from, to: try address(to), size: size)
            return (r.ok == succeeds, r.text)
        case let .tcp(from, to, port, open):
            let r = try await probeTCP(from: from, to: try address(to), port: port)
            return (r.open == open, r.text)
        case let .route(n, to, from, iif, via, dev):
            let node = try self.node(n)
            let r = try node.route(to: try address(to), from: try from.map { try address($0) }, inputInterface: iif)
            let gotDev = node.interfaceName(r.outputIndex)
            var ok = true
            if let via { let v = try address(via); ok = ok && r.gateway == v }
            if let dev { ok = ok && gotDev == dev }
            return (ok, "via \(r.gateway.map { "\($0)" } ?? "(direct)") dev \(gotDev ?? "?") table \(r.table)")
        case let .multipathSpread(n, to, devices):
            let node = try self.node(n)
            let dst = try address(to)
            var seen = Set<String>()
            for sport in UInt16(10000)..<UInt16(10064) {
                let r = try node.route(to: dst, ipProtocol: 17, sourcePort: sport, destinationPort: 9)
                if let d = node.interfaceName(r.outputIndex) { seen.insert(d) }
            }
            return (Set(devices).isSubset(of: seen), "64 flows used \(seen.sorted().joined(separator: ", "))")
        case let .link(n, name, up, mtu):
            let l = try self.node(n).link(name)
            let ok = l.isUp == up && (mtu == nil || l.mtu == mtu.map { UInt32($0) })
            return (ok, "\(l.isUp ? "up" : "down") mtu \(l.mtu ?? 0)")
        case let .sysctl(n, key, value):
            let v = try self.node(n).sysctl(key)
            return (v == value, v)
        case let .counters(n, name, rx, tx):
            let s = try self.node(n).link(name).stats ?? LinkStats()
            return (s.rxPackets >= rx && s.txPackets >= tx, "rx \(s.rxPackets) tx \(s.txPackets) packets")
        case let .address(n, p, on):
            guard let want = IPPrefix(p) else { throw ExpectationError("\"\(p)\" is not an address/prefix") }
            let node = try self.node(n)
            let link = try node.link(on)
            let mine = try node.addresses().filter { $0.index == UInt32(bitPattern: link.index) }
            guard let a = mine.first(where: { $0.prefix == want }) else {
                return (false, "on \(on): " + (mine.map { "\($0.prefix)" }.joined(separator: ", ").nonEmpty ?? "no addresses"))
            }
            return (!a.isTentative, a.isTentative ? "\(want) is tentative (DAD running)" : "\(want) present")
        case let .master(n, name, m):
            let node = try self.node(n)
            let got = node.interfaceName(try node.link(name).master)
            return (got == m, got.map { "port of \($0)" } ?? "no master")
        case let .rule(n, from, table, prio):
            let wantFrom = try from.map { f -> IPPrefix in
                guard let p = IPPrefix(f) else { throw ExpectationError("\"\(f)\" is not a prefix") }
                return p
            }
            let family: IPFamily = wantFrom?.address.isIPv6 == true ? .ipv6 : .ipv4
            let rules = try self.node(n).rules(family)
            let ok = rules.contains { r in
                r.action == FRA.actToTbl && r.table == table && r.source == wantFrom && (prio == nil || r.priority == prio)
            }
            return (ok, rules.map(\.summary).joined(separator: "; "))
        case let .neighbor(n, a, states):
            let ip = try address(a)
            // One family's table: less to read than every family's.
            let entry = try self.node(n).neighbors(family: ip.family).first { $0.address == ip }
            guard let entry else { return (false, "no neighbour entry for \(a)") }
            let names = Set(entry.stateName.split(separator: ",").map(String.init))
            return (!names.isDisjoint(with: states.map { $0.uppercased() }), entry.stateName)
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}

/// A malformed expectation (not a failed one).
public struct ExpectationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
