import Foundation
import Namespaces
import Netlink
import NetnsModel
import Synchronization

/// One change made to a running lab, as the lab's change log records it.
public struct LabChange: Sendable, Hashable, CustomStringConvertible {
    /// The node the change was made in.
    public var node: String
    /// The change as the `ip`, `tc` or `nft` command that does the same.
    public var command: String
    /// Seconds since the lab was up when the change was sent.
    public var at: Double
    /// Seconds until the kernel (or nft) answered.
    public var seconds: Double
    /// What went wrong; nil when the change was made.
    public var error: String?

    /// The change as one log line: when (seconds since the lab was built), how long it took, the
    /// node and command, and the error if it failed.
    public var description: String {
        let when = "+\(format3(at)) s"
        let took = "\(format3(seconds * 1000)) ms"
        if let error { return "\(when) \(node): \(command) FAILED after \(took): \(error)" }
        return "\(when) \(node): \(command) (\(took))"
    }
}

/// The changes made to a running lab, oldest first, with times relative to the lab's start.
final class ChangeLog: Sendable {
    let start = monotonicNow()
    private let entries = Mutex<[LabChange]>([])

    var all: [LabChange] { entries.withLock { $0 } }

    func record(_ change: LabChange) { entries.withLock { $0.append(change) } }

    /// The log as text for a failure dump; empty when nothing was changed.
    var dump: String {
        let all = self.all
        guard !all.isEmpty else { return "" }
        return "── changes\n" + all.map { "  \($0)\n" }.joined()
    }
}

/// A change to a running lab that failed. It names the node and the change (as the command
/// that does the same) and carries the kernel's answer, extack text included.
public struct ChangeError: Error, Sendable, CustomStringConvertible {
    /// The node the change was made in.
    public var node: String
    /// The change as an `ip`, `tc` or `nft` command.
    public var command: String
    /// The underlying error (a `NetlinkError`, a ``LabError``, a ``FirewallError``, …).
    public var underlying: any Error
    /// Set when the kernel lacks what the change needs (e.g. `netem qdisc`): tests skip on this.
    public var unsupportedFeature: String?

    /// The node, the command and the kernel's answer.
    public var description: String {
        var s = "changing \(node) failed: \(command): "
        if let f = unsupportedFeature { s += "this kernel has no \(f) support: " }
        return s + "\(underlying)"
    }

    /// The netlink error, if the kernel refused the request.
    public var netlinkError: NetlinkError? { underlying as? NetlinkError }
}

/// A change whose own arguments are wrong (nothing was sent to the kernel).
public struct InvalidChangeError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with the arguments.
    public var reason: String
    /// The reason.
    public var description: String { reason }
}

extension Lab {
    /// Every change made to the running lab through its nodes (``Node/setLink(_:up:)`` and the
    /// other change methods), oldest first, failed ones included. ``stateDump()`` lists them.
    public var changes: [LabChange] { changeLog.all }
}

// MARK: Changes on a node

extension Node {
    /// Runs one change, records it in the lab's change log and wraps its error.
    private func change<T>(_ command: String, feature: ((NetlinkError) -> String?)? = nil,
                           _ body: () throws -> T) throws -> T {
        let log = lab?.changeLog
        let start = monotonicNow()
        func record(_ error: String?) {
            guard let log else { return }
            log.record(LabChange(node: name, command: command, at: start - log.start,
                                 seconds: monotonicNow() - start, error: error))
        }
        do {
            let result = try body()
            record(nil)
            return result
        } catch {
            var unsupported: String? = nil
            if let ne = error as? NetlinkError { unsupported = feature?(ne) }
            if let u = error as? UnsupportedError { unsupported = u.feature }
            let e = ChangeError(node: name, command: command, underlying: error, unsupportedFeature: unsupported)
            record("\(error)")
            throw e
        }
    }

    /// The async form of ``change(_:feature:_:)`` for changes that wait or spawn.
    private func change(_ command: String, _ body: () async throws -> Void) async throws {
        let log = lab?.changeLog
        let start = monotonicNow()
        func record(_ error: String?) {
            guard let log else { return }
            log.record(LabChange(node: name, command: command, at: start - log.start,
                                 seconds: monotonicNow() - start, error: error))
        }
        do {
            try await body()
            record(nil)
        } catch {
            var unsupported: String? = nil
            if let u = error as? UnsupportedError { unsupported = u.feature }
            record("\(error)")
            throw ChangeError(node: name, command: command, underlying: error, unsupportedFeature: unsupported)
        }
    }

    // MARK: Links

    /// Sets a link administratively up or down and returns once the kernel acked it.
    ///
    /// Equivalent to `ip -n NODE link set dev IFNAME up|down` (`RTM_NEWLINK` with `IFF_UP` in the change mask).
    /// - Throws: ``ChangeError`` naming the change, with the kernel's answer.
    public func setLink(_ interface: String, up: Bool) throws {
        try change("ip link set \(interface) \(up ? "up" : "down")") {
            let idx = try link(interface).index
            try socket.execute(.setLink(index: idx, LinkChange(up: up), what: "setting \(interface) \(up ? "up" : "down") in \(name)"))
        }
    }

    /// Takes a link down. Equivalent to `ip -n NODE link set dev IFNAME down`.
    public func linkDown(_ interface: String) throws { try setLink(interface, up: false) }

    /// Brings a link up. Equivalent to `ip -n NODE link set dev IFNAME up`.
    public func linkUp(_ interface: String) throws { try setLink(interface, up: true) }

    /// Takes a link down, waits `duration`, then brings it up again; both changes are logged.
    ///
    /// Equivalent to `ip link set IFNAME down; sleep D; ip link set IFNAME up`.
    public func flap(_ interface: String, downFor duration: Duration) async throws {
        try setLink(interface, up: false)
        try await Task.sleep(for: duration)
        try setLink(interface, up: true)
    }

    /// Sets a link's MTU. Equivalent to `ip -n NODE link set dev IFNAME mtu MTU`.
    /// - Throws: ``ChangeError``; the kernel explains an MTU out of the device's range.
    public func setMTU(_ interface: String, _ mtu: Int) throws {
        try change("ip link set \(interface) mtu \(mtu)") {
            guard let m = UInt32(exactly: mtu), m > 0 else {
                throw InvalidChangeError(reason: "an MTU is a positive number of bytes, not \(mtu)")
            }
            let idx = try link(interface).index
            try socket.execute(.setLink(index: idx, LinkChange(mtu: m), what: "setting the MTU of \(interface) in \(name) to \(mtu)"))
        }
    }

    /// Moves a link into another node of the lab, keeping its name.
    ///
    /// As with `ip link set … netns`, the kernel takes the link down and drops its addresses
    /// and routes on the way; bring it up (and address it) in its new node.
    /// Equivalent to `ip -n NODE link set dev IFNAME netns OTHER`.
    public func moveLink(_ interface: String, to other: Node) throws {
        try change("ip link set \(interface) netns \(other.name)") {
            let idx = try link(interface).index
            let target = try other.namespace
            try socket.execute(.setLink(index: idx, LinkChange(namespaceFD: target.fd),
                                        what: "moving \(interface) from \(name) to \(other.name)"))
        }
    }

    // MARK: Addresses

    /// Adds an address to an interface (IPv6 without duplicate address detection, as the builder does).
    /// Equivalent to `ip -n NODE addr add PREFIX dev IFNAME [nodad]`.
    public func addAddress(_ prefix: String, on interface: String) throws {
        try change("ip addr add \(prefix) dev \(interface)") {
            let p = try parsePrefix(prefix)
            let idx = try link(interface).index
            try socket.execute(.newAddress(index: idx, p, noDAD: p.address.isIPv6, what: "adding \(p) to \(interface) in \(name)"))
        }
    }

    /// Removes an address from an interface. Equivalent to `ip -n NODE addr del PREFIX dev IFNAME`.
    public func removeAddress(_ prefix: String, on interface: String) throws {
        try change("ip addr del \(prefix) dev \(interface)") {
            let p = try parsePrefix(prefix)
            let idx = try link(interface).index
            try socket.execute(.deleteAddress(index: idx, p, what: "deleting \(p) from \(interface) in \(name)"))
        }
    }

    private func parsePrefix(_ text: String) throws -> IPPrefix {
        guard let p = IPPrefix(text) else {
            throw InvalidChangeError(reason: "\"\(text)\" is not an address with a prefix length like 10.0.1.2/24")
        }
        return p
    }

    // MARK: Routes, rules, neighbours

    /// Adds (or with `replace`, replaces) a route, declared as in a topology.
    ///
    /// Equivalent to `ip -n NODE route add|replace DEST [via GW] [dev D] [table T] [metric M] …`.
    /// ```swift
    /// try lab["r1"].addRoute(Route("10.0.2.0/24", via: "10.0.3.2"))
    /// ```
    public func addRoute(_ route: Route, replace: Bool = false) throws {
        try change("ip route \(replace ? "replace" : "add") \(Self.routeText(route))") {
            try socket.execute(.newRoute(try routeInfo(route), replace: replace,
                                         what: "adding route \(route.destination) in \(name)"))
        }
    }

    /// Removes a route: the kernel deletes the first route that matches what `route` says
    /// (destination, table, and gateway, device, metric when given; any protocol unless given).
    /// Equivalent to `ip -n NODE route del DEST [via GW] [dev D] [table T] [metric M]`.
    public func removeRoute(_ route: Route) throws {
        try change("ip route del \(Self.routeText(route))") {
            var info = try routeInfo(route)
            info.proto = route.proto ?? RouteProtocol.unspec
            try socket.execute(.deleteRoute(info, what: "deleting route \(route.destination) in \(name)"))
        }
    }

    static func routeText(_ r: Route) -> String {
        var s = ["\(r.destination)"]
        if let v = r.via { s.append("via \(v)") }
        if let d = r.dev { s.append("dev \(d)") }
        for h in r.nexthops {
            s.append("nexthop" + (h.via.map { " via \($0)" } ?? "") + (h.dev.map { " dev \($0)" } ?? "") + " weight \(h.weight)")
        }
        if r.table != RouteTable.main { s.append("table \(r.table)") }
        if let m = r.metric { s.append("metric \(m)") }
        return s.joined(separator: " ")
    }

    private func checkWellFormed(_ p: Provenance, _ what: String) throws {
        guard let m = p.malformed.first else { return }
        throw InvalidChangeError(reason: "\(what): \(m.field) \"\(m.text)\" is not \(m.expected)")
    }

    private func routeInfo(_ r: Route) throws -> RouteInfo {
        try checkWellFormed(r.provenance, "route \(r.destination)")
        return try RequestMapper.routeInfo(RouteSpec(declared: r)) { try link($0).index }
    }

    /// Adds a policy rule, declared as in a topology.
    /// Equivalent to `ip -n NODE rule add [pref P] [from F] [to T] [iif I] [oif O] [fwmark M] lookup T|ACTION`.
    public func addRule(_ rule: Rule) throws {
        try change("ip rule add \(Self.ruleText(rule))") {
            try socket.execute(.newRule(try ruleInfo(rule), what: "adding rule \(Self.ruleText(rule)) in \(name)"))
        }
    }

    /// Removes the first policy rule that matches `rule`. Equivalent to `ip -n NODE rule del …`.
    public func removeRule(_ rule: Rule) throws {
        try change("ip rule del \(Self.ruleText(rule))") {
            try socket.execute(.deleteRule(try ruleInfo(rule), what: "deleting rule \(Self.ruleText(rule)) in \(name)"))
        }
    }

    static func ruleText(_ r: Rule) -> String {
        var s: [String] = []
        if let p = r.priority { s.append("pref \(p)") }
        if let f = r.from { s.append("from \(f)") }
        if let t = r.to { s.append("to \(t)") }
        if let i = r.iif { s.append("iif \(i)") }
        if let o = r.oif { s.append("oif \(o)") }
        if let m = r.fwmark { s.append("fwmark \(m)" + (r.fwmask.map { "/\($0)" } ?? "")) }
        s.append("\(r.action)")
        return s.joined(separator: " ")
    }

    private func ruleInfo(_ r: Rule) throws -> RuleInfo {
        try checkWellFormed(r.provenance, "rule \(Self.ruleText(r))")
        return RequestMapper.ruleInfo(RuleSpec(r))
    }

    /// Adds or replaces a permanent neighbour entry; without `on:` in the declaration it goes on
    /// the node's first interface other than `lo`.
    /// Equivalent to `ip -n NODE neigh replace IP lladdr MAC dev IFNAME nud permanent`.
    public func addNeighbor(_ neighbor: Neighbor) throws {
        try change("ip neigh replace \(neighbor.address) lladdr \(neighbor.mac) dev \(neighbor.interface ?? "(first link)")") {
            try checkWellFormed(neighbor.provenance, "neighbour \(neighbor.address)")
            let idx = try neighborInterface(neighbor.interface)
            try socket.execute(.newNeighbor(NeighborInfo(family: neighbor.address.family, index: idx, address: neighbor.address,
                                                         mac: neighbor.mac),
                                            replace: true, what: "adding neighbour \(neighbor.address) in \(name)"))
        }
    }

    /// Removes a neighbour entry. Equivalent to `ip -n NODE neigh del IP dev IFNAME`.
    public func removeNeighbor(_ address: String, on interface: String) throws {
        try change("ip neigh del \(address) dev \(interface)") {
            guard let ip = IPAddress(address) else {
                throw InvalidChangeError(reason: "\"\(address)\" is not an IPv4 or IPv6 address")
            }
            let idx = try link(interface).index
            try socket.execute(.deleteNeighbor(family: ip.family, index: idx, address: ip,
                                               what: "deleting neighbour \(ip) from \(interface) in \(name)"))
        }
    }

    private func neighborInterface(_ interface: String?) throws -> Int32 {
        if let interface { return try link(interface).index }
        guard let first = try links().filter({ $0.name != "lo" }).min(by: { $0.index < $1.index }) else {
            throw InvalidChangeError(reason: "node \(name) has no interface for the neighbour entry")
        }
        return first.index
    }

    // MARK: Queueing disciplines

    /// Installs or replaces the root qdisc of an interface: change a shaper's rate, add or
    /// change netem delay and loss (where the kernel has netem).
    ///
    /// Equivalent to `tc -n NODE qdisc replace dev IFNAME root handle 1: KIND …`.
    /// - Throws: ``ChangeError`` with ``ChangeError/unsupportedFeature`` set when the kernel has no such qdisc.
    public func replaceQdisc(_ kind: Qdisc.Kind, on interface: String) throws {
        try change("tc qdisc replace dev \(interface) root handle 1: \(kind.name)",
                   feature: { $0.isUnknownQdiscKind ? "\(kind.name) qdisc" : nil }) {
            let idx = try link(interface).index
            let what = "replacing the root qdisc of \(interface) in \(name) with \(kind.name)"
            var requests = [NetlinkRequest.replaceQdisc(index: idx, RequestMapper.qdiscSpec(kind), what: what)]
            if case let .htb(_, classes) = kind {
                requests += classes.map { c in
                    var r = NetlinkRequest.newHTBClass(index: idx, HTBClass(id: c.id, rateBitsPerSecond: c.rate.bitsPerSecond,
                                                                            ceilBitsPerSecond: c.ceil?.bitsPerSecond), what: what)
                    r.flags = [.create, .replace, .ack]
                    return r
                }
            }
            try socket.execute(requests)
        }
    }

    /// Removes the root qdisc of an interface; the kernel puts its default back.
    /// Equivalent to `tc -n NODE qdisc del dev IFNAME root`.
    public func removeQdisc(on interface: String) throws {
        try change("tc qdisc del dev \(interface) root") {
            let idx = try link(interface).index
            try socket.execute(.deleteRootQdisc(index: idx, what: "deleting the root qdisc of \(interface) in \(name)"))
        }
    }

    /// The wire form of a declared qdisc (the builder does the same for a topology's qdiscs).
    // MARK: Firewall

    /// Loads an nftables ruleset into the node (added to what is there, as `nft -f` does).
    /// Equivalent to `ip netns exec NODE nft -f - <<< RULESET`.
    /// - Throws: ``ChangeError`` with nft's own message, or with `nftables` unsupported when nft is missing.
    public func loadFirewall(_ ruleset: String) async throws {
        let first = ruleset.split(separator: "\n").first.map(String.init) ?? ""
        try await change("nft -f - (\(first)…)") { try await nft(["-f", "-"], stdin: Array(ruleset.utf8)) }
    }

    /// Deletes one nftables table (and its chains and rules) from the node.
    /// Equivalent to `ip netns exec NODE nft delete table FAMILY NAME`.
    public func removeFirewallTable(_ family: String, _ table: String) async throws {
        try await change("nft delete table \(family) \(table)") { try await nft(["delete", "table", family, table], stdin: nil) }
    }

    private func nft(_ args: [String], stdin: [UInt8]?) async throws {
        let r: ProcessResult
        do {
            r = try await run(["nft"] + args, stdin: stdin, timeout: 30)
        } catch let e as SystemCallError where e.errno == .noSuchFileOrDirectory {
            throw UnsupportedError(feature: "nftables", detail: "the nft command is not installed (apt-get install nftables)")
        }
        if !r.succeeded {
            throw FirewallError(output: (r.errorOutput + r.output).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
