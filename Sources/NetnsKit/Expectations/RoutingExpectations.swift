import Netlink
import NetnsModel

// The routing expectations (issue 19, items 2, 3, 4 and 11): a route lookup with every
// `ip route get` selector, route listings with a filter and a count, multipath (spread, stability,
// real traffic split) and policy rules with every selector the model has. Fields are typed; a
// Swift declaration parses its text at once and keeps what did not parse (``problems``), which
// the check reports instead of probing; a file reports it at its line.

/// The error a route lookup is expected to fail with, by its `strerror` text as `ip route get` prints it.
public enum RouteLookupError: String, Sendable, Hashable, CaseIterable {
    /// `ENETUNREACH`: no route matches (or an `unreachable` rule).
    case networkUnreachable = "Network is unreachable"
    /// `EHOSTUNREACH`: an `unreachable` route.
    case noRouteToHost = "No route to host"
    /// `EACCES`: a `prohibit` route or rule.
    case permissionDenied = "Permission denied"
    /// `EINVAL`: a `blackhole` route or rule (or a lookup the kernel refuses).
    case invalidArgument = "Invalid argument"

    /// The symbolic errno (`EHOSTUNREACH`).
    public var symbol: String {
        switch self {
        case .networkUnreachable: "ENETUNREACH"
        case .noRouteToHost: "EHOSTUNREACH"
        case .permissionDenied: "EACCES"
        case .invalidArgument: "EINVAL"
        }
    }

    /// The error a lookup answers when it meets a reject route of this type (IPv4 and IPv6 alike).
    static func of(rejectType t: RouteType) -> RouteLookupError? {
        switch t {
        case .unreachable: .noRouteToHost
        case .prohibit: .permissionDenied
        case .blackhole: .invalidArgument
        default: nil
        }
    }

    /// Parses the text (`No route to host`) or the symbol (`EHOSTUNREACH`).
    public init?(text: String) {
        guard let e = Self.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() || $0.symbol == text.uppercased() })
        else { return nil }
        self = e
    }
}

/// A route lookup (`ip route get`) and what it must answer: the selectors of the lookup, then the
/// expected fields (each compared only when given) or the expected error.
public struct RouteLookup: Sendable, Hashable {
    /// The address looked up.
    public var to: IPAddress
    /// The packet's source (`from`); one that is not the node's own needs `iif`.
    public var from: IPAddress?
    /// The interface the packet arrives on (`iif`): a forwarded packet's lookup.
    public var iif: String?
    /// The output interface the socket is bound to (`oif`).
    public var oif: String?
    /// Look up in this VRF's table (the lookup's output interface is the VRF device).
    public var vrf: String?
    /// The firewall mark (`mark`).
    public var mark: UInt32?
    /// The TOS byte (`tos`); a file's `dscp: N` is `tos: N << 2`.
    public var tos: UInt8?
    /// The UID of the sending socket (`uid`).
    public var uid: UInt32?
    /// The IP protocol (`ipproto`: 6 TCP, 17 UDP, …).
    public var ipproto: UInt8?
    /// The transport source port (`sport`).
    public var sport: UInt16?
    /// The transport destination port (`dport`).
    public var dport: UInt16?

    /// The expected gateway; its family is compared too (an IPv6 gateway of an IPv4 route).
    public var via: IPAddress?
    /// The expected output interface.
    public var dev: String?
    /// The expected preferred source (`src`).
    public var prefsrc: IPAddress?
    /// The expected table the route was found in (IPv4 reports the table a rule chose).
    public var table: UInt32?
    /// The expected route type; a reject type (`unreachable`, `prohibit`, `blackhole`) is seen
    /// as the error a lookup answers for it (`No route to host`, `Permission denied`, `Invalid argument`).
    public var type: RouteType?
    /// The expected path MTU: the route's `mtu`, or a PMTU exception learned from ICMP.
    public var mtu: UInt32?
    /// The lookup must fail with this error (instead of answering a route).
    public var error: RouteLookupError?
    /// Values of the declaration that did not parse; the check reports them.
    public var problems: [String] = []

    /// A lookup of `to` with typed values.
    public init(to: IPAddress, from: IPAddress? = nil, iif: String? = nil, oif: String? = nil, vrf: String? = nil,
                mark: UInt32? = nil, tos: UInt8? = nil, uid: UInt32? = nil, ipproto: UInt8? = nil,
                sport: UInt16? = nil, dport: UInt16? = nil, via: IPAddress? = nil, dev: String? = nil,
                prefsrc: IPAddress? = nil, table: UInt32? = nil, type: RouteType? = nil, mtu: UInt32? = nil,
                error: RouteLookupError? = nil) {
        self.to = to; self.from = from; self.iif = iif; self.oif = oif; self.vrf = vrf; self.mark = mark
        self.tos = tos; self.uid = uid; self.ipproto = ipproto; self.sport = sport; self.dport = dport
        self.via = via; self.dev = dev; self.prefsrc = prefsrc; self.table = table; self.type = type
        self.mtu = mtu; self.error = error
    }

    /// A lookup with addresses written as text, parsed here; a malformed one is kept in ``problems``.
    public init(_ to: String, from: String? = nil, iif: String? = nil, oif: String? = nil, vrf: String? = nil,
                mark: UInt32? = nil, tos: UInt8? = nil, uid: UInt32? = nil, ipproto: UInt8? = nil,
                sport: UInt16? = nil, dport: UInt16? = nil, via: String? = nil, dev: String? = nil,
                prefsrc: String? = nil, table: UInt32? = nil, type: RouteType? = nil, mtu: UInt32? = nil,
                error: RouteLookupError? = nil) {
        var problems: [String] = []
        func parse(_ text: String?, _ field: String) -> IPAddress? {
            guard let text else { return nil }
            if let a = IPAddress(text) { return a }
            problems.append("\(field): \"\(text)\" is not an IP address")
            return nil
        }
        let dst = parse(to, "to")
        self.init(to: dst ?? .v4(0), from: parse(from, "from"), iif: iif, oif: oif, vrf: vrf, mark: mark, tos: tos, uid: uid,
                  ipproto: ipproto, sport: sport, dport: dport, via: parse(via, "via"), dev: dev,
                  prefsrc: parse(prefsrc, "prefsrc"), table: table, type: type, mtu: mtu, error: error)
        self.problems = problems
    }

    /// The selectors beyond `vrf`, `from` and `iif`, each with a leading space.
    var extraSelectorText: String {
        var s = ""
        if let o = oif { s += " oif \(o)" }
        if let m = mark { s += " mark 0x\(String(m, radix: 16))" }
        if let t = tos { s += " tos 0x\(String(t, radix: 16))" }
        if let u = uid { s += " uid \(u)" }
        if let p = ipproto { s += " ipproto \(p)" }
        if let p = sport { s += " sport \(p)" }
        if let p = dport { s += " dport \(p)" }
        return s
    }
}

/// A filter over a node's routing table: every field given must match (nil: any).
public struct RouteFilter: Sendable, Hashable {
    /// The family; nil takes that of `to`/`via`, else both families.
    public var family: IPFamily?
    /// The table listed; `main` by default.
    public var table: UInt32 = RouteTable.main
    /// The destination (`0.0.0.0/0` or `::/0` for a default route).
    public var to: IPPrefix?
    /// The route type.
    public var type: RouteType?
    /// The origin (`RTPROT_*`: 4 static, 12 bird, …).
    public var proto: UInt8?
    /// The metric (`RTA_PRIORITY`).
    public var metric: UInt32?
    /// The route's MTU metric (`RTAX_MTU`).
    public var mtu: UInt32?
    /// The number of next hops (1 for a single-path route).
    public var nexthops: Int?
    /// An output interface (of the route or of one of its next hops).
    public var dev: String?
    /// A gateway (of the route or of one of its next hops).
    public var via: IPAddress?
    /// Values of the declaration that did not parse; the check reports them.
    public var problems: [String] = []

    /// A filter with typed values.
    public init(family: IPFamily? = nil, table: UInt32 = RouteTable.main, to: IPPrefix? = nil, type: RouteType? = nil,
                proto: UInt8? = nil, metric: UInt32? = nil, mtu: UInt32? = nil, nexthops: Int? = nil,
                dev: String? = nil, via: IPAddress? = nil) {
        self.family = family; self.table = table; self.to = to; self.type = type; self.proto = proto
        self.metric = metric; self.mtu = mtu; self.nexthops = nexthops; self.dev = dev; self.via = via
    }

    /// A filter with the destination and gateway written as text (`"10.0.0.0/24"`, `"default"`)
    /// and the protocol by name (`static`, `bird`, or a number); what does not parse is kept in ``problems``.
    public init(to: String?, family: IPFamily? = nil, table: UInt32 = RouteTable.main, type: RouteType? = nil,
                protocol name: String? = nil, metric: UInt32? = nil, mtu: UInt32? = nil, nexthops: Int? = nil,
                dev: String? = nil, via: String? = nil) {
        self.init(family: family, table: table, type: type, metric: metric, mtu: mtu, nexthops: nexthops, dev: dev)
        if let to {
            if to == "default" { self.to = (family ?? .ipv4).defaultPrefix }
            else if let p = IPPrefix(to) { self.to = p } else { problems.append("to: \"\(to)\" is not a prefix") }
        }
        if let name {
            if let p = Node.routeProtocol(named: name) { proto = p } else { problems.append("protocol: \"\(name)\" is not a route protocol") }
        }
        if let via {
            if let a = IPAddress(via) { self.via = a } else { problems.append("via: \"\(via)\" is not an IP address") }
        }
    }

    /// The families listed.
    var families: [IPFamily] {
        if let family { return [family] }
        if let f = to.map({ IPFamily(of: $0.address) }) ?? via.map({ IPFamily(of: $0) }) { return [f] }
        return [.ipv4, .ipv6]
    }

    /// True when only a protocol is given (the short file form `routes: bird`).
    var isProtocolOnly: Bool { self == RouteFilter(proto: proto) && proto != nil }

    /// The filter in words (`static routes to 10.0.0.0/24 in table 100`).
    func text(plural: Bool) -> String {
        var s: [String] = []
        if let t = type { s.append("\(t)") }
        if let p = proto { s.append(RouteFilter.protocolName(p)) }
        var out = (s.isEmpty ? "" : s.joined(separator: " ") + " ") + (plural ? "routes" : "route")
        if let to { out += " to \(to.length == 0 ? "default" : "\(to)")" }
        if let v = via { out += " via \(v)" }
        if let d = dev { out += " dev \(d)" }
        if let m = metric { out += " metric \(m)" }
        if let m = mtu { out += " mtu \(m)" }
        if let n = nexthops { out += " with \(n) next hop\(n == 1 ? "" : "s")" }
        if let f = family { out += " (\(f.rawValue))" }
        return out + " in table \(RouteFilter.tableName(table))"
    }

    static func protocolName(_ p: UInt8) -> String {
        let names: [UInt8: String] = [2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp", 11: "zebra", 12: "bird",
                                      42: "babel", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"]
        return names[p] ?? "\(p)"
    }

    static func tableName(_ t: UInt32) -> String {
        [RouteTable.main: "main", RouteTable.local: "local", RouteTable.default: "default"][t] ?? "\(t)"
    }
}

/// A multipath check: how flows to `to` spread over `devices`.
public struct MultipathCheck: Sendable, Hashable {
    /// What is checked.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Route lookups of many flows use every device.
        case spread
        /// One flow's lookup answers the same device every time (`flows` lookups).
        case stable
        /// Real UDP datagrams of `flows` flows are sent from `sender`; each device's tx counter
        /// counts at least a share of them.
        case split
    }
    /// The destination of the flows.
    public var to: IPAddress
    /// The devices of the node the flows must use (for `stable`: one device, or empty for any).
    public var devices: [String]
    /// What is checked; `spread` by default.
    public var mode: Mode = .spread
    /// The first source address of the flows (lookups only; nil: the node's own choice).
    public var from: IPAddress?
    /// How many source addresses, counting up from `from` (L3 hashing spreads by addresses).
    public var sources: Int = 1
    /// The interface the flows arrive on, for forwarded flows whose source is not the node's.
    public var iif: String?
    /// The flows' source ports (L4 hashing spreads by ports).
    public var sports: ClosedRange<UInt16> = 10000...10063
    /// The flows' destination port.
    public var dport: UInt16 = 9
    /// For `stable`: how many lookups; for `split`: how many flows (datagrams) to send; 0: one per
    /// source port and address.
    public var flows: Int = 0
    /// For `split`: the node that sends the datagrams (nil: the checked node itself).
    public var sender: String?
    /// Values of the declaration that did not parse; the check reports them.
    public var problems: [String] = []

    /// A check with these values.
    public init(to: IPAddress, devices: [String], mode: Mode = .spread, from: IPAddress? = nil, sources: Int = 1,
                iif: String? = nil, sports: ClosedRange<UInt16> = 10000...10063, dport: UInt16 = 9, flows: Int = 0,
                sender: String? = nil) {
        self.to = to; self.devices = devices; self.mode = mode; self.from = from; self.sources = sources; self.iif = iif
        self.sports = sports; self.dport = dport; self.flows = flows; self.sender = sender
    }

    /// The flows: (source address, source port), ports varying fastest.
    var flowList: [(IPAddress?, UInt16)] {
        var out: [(IPAddress?, UInt16)] = []
        for i in 0..<max(1, sources) {
            let src = from.map { $0.adding(UInt64(i)) }
            for p in sports { out.append((src, p)) }
        }
        return out
    }

    var text: String {
        let flowsText = "\(sources > 1 ? "\(sources) sources × " : "")source ports \(rangeText(sports))"
        switch mode {
        case .spread: return "flows to \(to) (\(flowsText)) spread over \(devices.joined(separator: ", "))"
        case .stable:
            return "a flow to \(to) takes " + (devices.first.map { "dev \($0)" } ?? "one path") + " in each of \(max(flows, 1)) lookups"
        case .split:
            return "\(flows > 0 ? flows : flowList.count) UDP flows to \(to)" + (sender.map { " sent from \($0)" } ?? "")
                + " split over \(devices.joined(separator: ", ")) (each counts at least a share)"
        }
    }
}

func rangeText<T: FixedWidthInteger>(_ r: ClosedRange<T>) -> String {
    r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)"
}

// MARK: - Swift forms that keep the old signatures

extension LabExpectation {
    /// `ip route get ADDRESS [from F] [iif I] [vrf V]` in `node` resolves through `via` and/or `dev`
    /// (the original form; ``route(in:_:)`` takes every selector and expected field).
    public static func route(in node: String, to: String, from: String? = nil, iif: String? = nil, via: String? = nil,
                             dev: String? = nil, vrf: String? = nil) -> LabExpectation {
        .route(in: node, RouteLookup(to, from: from, iif: iif, vrf: vrf, via: via, dev: dev))
    }

    /// Over many flows (source ports 10000-10063), the multipath route in `node` to `address` uses every
    /// one of `devices` (the original form of ``multipath(in:_:)``).
    public static func multipathSpread(in node: String, to: String, devices: [String]) -> LabExpectation {
        var m = MultipathCheck(to: IPAddress(to) ?? .v4(0), devices: devices)
        if IPAddress(to) == nil { m.problems = ["to: \"\(to)\" is not an IP address"] }
        return .multipath(in: node, m)
    }

    /// The main table has at least `atLeast` routes (IPv4 and IPv6) of a protocol named as `ip route`
    /// names it (the original form of ``routes(in:_:atLeast:atMost:)``).
    public static func routes(in node: String, protocol name: String, atLeast: Int) -> LabExpectation {
        .routes(in: node, RouteFilter(to: nil, protocol: name), atLeast: atLeast)
    }

    /// A policy rule from `from` (nil: from all) looks up `table`, at `priority` if given (the
    /// original form of ``rule(in:_:)``).
    public static func rule(in node: String, from: String?, table: UInt32, priority: UInt32? = nil) -> LabExpectation {
        .rule(in: node, Rule(priority: priority, from: from, table: table))
    }
}

// MARK: - Descriptions

extension LabExpectation {
    static func routingDescription(_ e: LabExpectation) -> String? {
        switch e {
        case let .route(n, l):
            // The original form's words first (`in r1, route to A from F iif I via G dev D`), then the rest.
            var s = "in \(n)" + (l.vrf.map { " vrf \($0)" } ?? "") + ", route to \(l.to)" + (l.from.map { " from \($0)" } ?? "")
                + (l.iif.map { " iif \($0)" } ?? "")
            s += l.extraSelectorText
            if let e = l.error { return s + " fails with \"\(e.rawValue)\"" + (l.type.map { " (\($0) route)" } ?? "") }
            s += l.via.map { " via " + ($0.family == l.to.family ? "" : ($0.isIPv4 ? "inet " : "inet6 ")) + "\($0)" } ?? ""
            s += l.dev.map { " dev \($0)" } ?? ""
            s += l.prefsrc.map { " src \($0)" } ?? ""
            s += l.table.map { " table \($0)" } ?? ""
            s += l.type.map { " type \($0)" } ?? ""
            s += l.mtu.map { " mtu \($0)" } ?? ""
            return s
        case let .multipath(n, m): return "in \(n), \(m.text)"
        case let .routes(n, f, lo, hi):
            if f.isProtocolOnly, let p = f.proto, hi == nil {
                return "in \(n), at least \(lo) \(RouteFilter.protocolName(p)) route\(lo == 1 ? "" : "s")"
            }
            let count: String
            if let hi, hi == lo { count = hi == 0 ? "no" : "exactly \(hi)" }
            else if let hi { count = lo > 0 ? "\(lo) to \(hi)" : "at most \(hi)" }
            else { count = lo == 1 && f.to != nil ? "a" : "at least \(lo)" }
            return "in \(n), \(count) \(f.text(plural: !(count == "a" || count == "exactly 1")))"
        case let .rule(n, r): return "in \(n), a rule \(ruleText(r))"
        default: return nil
        }
    }

    /// A model rule as `ip rule` prints it (`100: from 10.0.0.0/24 fwmark 0x1/0xff lookup 100`).
    static func ruleText(_ r: Rule) -> String {
        var s: [String] = []
        if let p = r.priority { s.append("\(p):") }
        s.append("from \(r.from.map { "\($0)" } ?? "all")")
        for (name, value) in ruleSelectors(r) where name != "from" { s.append("\(name) \(value)") }
        s.append(r.l3mdev ? "lookup [l3mdev-table]" : "\(r.action)")
        return s.joined(separator: " ")
    }

    /// The selectors a model rule sets, in `ip rule` order, as text.
    static func ruleSelectors(_ r: Rule) -> [(String, String)] {
        var s: [(String, String)] = []
        if let f = r.from { s.append(("from", "\(f)")) }
        if let t = r.to { s.append(("to", "\(t)")) }
        if let t = r.tos { s.append(("tos", "0x\(String(t, radix: 16))")) }
        if let m = r.fwmark {
            s.append(("fwmark", "0x\(String(m, radix: 16))" + (r.fwmask.map { "/0x\(String($0, radix: 16))" } ?? "")))
        } else if let m = r.fwmask { s.append(("fwmask", "0x\(String(m, radix: 16))")) }
        if let i = r.iif { s.append(("iif", i)) }
        if let o = r.oif { s.append(("oif", o)) }
        if let u = r.uidrange { s.append(("uidrange", "\(u.lowerBound)-\(u.upperBound)")) }
        if let p = r.ipproto { s.append(("ipproto", "\(p)")) }
        if let p = r.sport { s.append(("sport", "\(p)")) }
        if let p = r.dport { s.append(("dport", "\(p)")) }
        if let n = r.suppressPrefixlength { s.append(("suppress_prefixlength", "\(n)")) }
        return s
    }
}

// MARK: - Checks

/// One compared field: its name, what was expected, what the kernel has.
struct FieldDifference: CustomStringConvertible {
    var field: String, expected: String, got: String
    var description: String { "\(field): expected \(expected), got \(got)" }

    /// `dev: expected eth1, got eth0; table: expected 100, got 254`.
    static func text(_ d: [FieldDifference]) -> String { d.map(\.description).joined(separator: "; ") }
}

extension Lab {
    /// Evaluates the routing kinds; nil for the others.
    func evaluateRouting(_ e: LabExpectation) async throws -> (Bool, String, silent: Bool)? {
        switch e {
        case let .route(n, l): return try checkLookup(node: self.node(n), l)
        case let .multipath(n, m):
            if !m.problems.isEmpty { throw ExpectationError("malformed expectation: " + m.problems.joined(separator: "; ")) }
            return try await checkMultipath(node: self.node(n), m)
        case let .routes(n, f, lo, hi): return try checkRoutes(node: self.node(n), f, atLeast: lo, atMost: hi)
        case let .rule(n, r): return try checkRule(node: self.node(n), r)
        default: return nil
        }
    }

    private func checkLookup(node: Node, _ l: RouteLookup) throws -> (Bool, String, silent: Bool) {
        if !l.problems.isEmpty { throw ExpectationError("malformed expectation: " + l.problems.joined(separator: "; ")) }
        if l.vrf != nil && l.oif != nil { throw ExpectationError("a lookup takes oif or vrf, not both") }
        let r: RouteInfo
        do {
            r = try node.route(to: l.to, from: l.from, inputInterface: l.iif, outputInterface: l.vrf ?? l.oif, mark: l.mark,
                               ipProtocol: l.ipproto, sourcePort: l.sport, destinationPort: l.dport, tos: l.tos, uid: l.uid)
        } catch let e as NetlinkError where e.request == "RTM_GETROUTE" || e.what.hasPrefix("looking up") {
            let got = RouteLookupError.allCases.first { $0.symbol == e.errnoName }
            let text = "lookup failed: " + (got?.rawValue ?? "\(e.errno)") + " (\(e.errnoName))"
                + (e.kernelMessage.map { ": \"\($0)\"" } ?? "")
            var ok = l.error != nil && got == l.error
            if let t = l.type {
                ok = (l.error == nil || ok) && RouteLookupError.of(rejectType: t) == got && got != nil
            }
            return (ok, text, false)
        }
        let dev = node.interfaceName(r.outputIndex)
        var diffs: [FieldDifference] = []
        func viaText(_ a: IPAddress?) -> String {
            guard let a else { return "(direct)" }
            return (a.family == l.to.family ? "" : (a.isIPv4 ? "inet " : "inet6 ")) + "\(a)"
        }
        if let e = l.error { diffs.append(FieldDifference(field: "error", expected: "\"\(e.rawValue)\"", got: "a route")) }
        if let t = l.type, t != r.type { diffs.append(FieldDifference(field: "type", expected: "\(t)", got: "\(r.type)")) }
        if let v = l.via, v != r.gateway { diffs.append(FieldDifference(field: "via", expected: viaText(v), got: viaText(r.gateway))) }
        if let d = l.dev, d != dev { diffs.append(FieldDifference(field: "dev", expected: d, got: dev ?? "none")) }
        if let p = l.prefsrc, p != r.preferredSource {
            diffs.append(FieldDifference(field: "prefsrc", expected: "\(p)", got: r.preferredSource.map { "\($0)" } ?? "none"))
        }
        if let t = l.table, t != r.table { diffs.append(FieldDifference(field: "table", expected: "\(t)", got: "\(r.table)")) }
        if let m = l.mtu, m != r.mtu { diffs.append(FieldDifference(field: "mtu", expected: "\(m)", got: r.mtu.map { "\($0)" } ?? "none")) }
        var text = (r.type == .unicast ? "" : "\(r.type) ") + "via \(viaText(r.gateway)) dev \(dev ?? "?")"
            + (r.preferredSource.map { " src \($0)" } ?? "") + " table \(r.table)" + (r.mtu.map { " mtu \($0)" } ?? "")
        if !diffs.isEmpty { text += " (" + FieldDifference.text(diffs) + ")" }
        return (diffs.isEmpty, text, false)
    }

    private func checkRoutes(node: Node, _ f: RouteFilter, atLeast lo: Int, atMost hi: Int?) throws -> (Bool, String, silent: Bool) {
        if !f.problems.isEmpty { throw ExpectationError("malformed expectation: " + f.problems.joined(separator: "; ")) }
        if lo == 0 && hi == nil { throw ExpectationError("atLeast 0 without atMost checks nothing") }
        if let hi, hi < lo { throw ExpectationError("atMost \(hi) is below atLeast \(lo)") }
        var all: [RouteInfo] = []
        for fam in f.families { all += try node.routes(fam, table: f.table) }
        func devs(_ r: RouteInfo) -> [String] {
            (r.nexthops.isEmpty ? [r.outputIndex] : r.nexthops.map(\.index)).compactMap { node.interfaceName($0) }
        }
        func gateways(_ r: RouteInfo) -> [IPAddress] { r.nexthops.isEmpty ? (r.gateway.map { [$0] } ?? []) : r.nexthops.compactMap(\.gateway) }
        func differences(_ r: RouteInfo) -> [FieldDifference] {
            var d: [FieldDifference] = []
            let dst = r.destination ?? IPPrefix(r.family == AF.inet ? .v4(0) : .v6(0, 0), 0)
            if let to = f.to, to != dst { d.append(FieldDifference(field: "to", expected: "\(to)", got: "\(dst)")) }
            if let t = f.type, t != r.type { d.append(FieldDifference(field: "type", expected: "\(t)", got: "\(r.type)")) }
            if let p = f.proto, p != r.proto {
                d.append(FieldDifference(field: "protocol", expected: RouteFilter.protocolName(p), got: RouteFilter.protocolName(r.proto)))
            }
            if let m = f.metric, m != (r.metric ?? 0) { d.append(FieldDifference(field: "metric", expected: "\(m)", got: "\(r.metric ?? 0)")) }
            if let m = f.mtu, m != r.mtu { d.append(FieldDifference(field: "mtu", expected: "\(m)", got: r.mtu.map { "\($0)" } ?? "none")) }
            let hops = max(1, r.nexthops.count)
            if let n = f.nexthops, n != hops { d.append(FieldDifference(field: "nexthops", expected: "\(n)", got: "\(hops)")) }
            if let dev = f.dev, !devs(r).contains(dev) {
                d.append(FieldDifference(field: "dev", expected: dev, got: devs(r).joined(separator: ",").nonEmptyOr("none")))
            }
            if let v = f.via, !gateways(r).contains(v) {
                d.append(FieldDifference(field: "via", expected: "\(v)", got: gateways(r).map { "\($0)" }.joined(separator: ",").nonEmptyOr("none")))
            }
            return d
        }
        let matching = all.filter { differences($0).isEmpty }
        let ok = matching.count >= lo && (hi.map { matching.count <= $0 } ?? true)
        var text = "\(matching.count) matching route\(matching.count == 1 ? "" : "s") in table \(RouteFilter.tableName(f.table))"
        if !ok {
            if matching.count < lo, let to = f.to {
                // A missing route: the routes to the same destination, field by field.
                let same = all.filter { ($0.destination ?? IPPrefix(IPFamily(of: to.address).defaultPrefix.address, 0)) == to }
                if let closest = same.min(by: { differences($0).count < differences($1).count }) {
                    text += "; the route to \(to) there differs: " + FieldDifference.text(differences(closest))
                } else {
                    text += "; no route to \(to) there"
                }
            } else if !matching.isEmpty {
                text += ": " + matching.prefix(6).map { routeLine($0, node: node) }.joined(separator: "; ")
            }
        }
        return (ok, text, false)
    }

    private func routeLine(_ r: RouteInfo, node: Node) -> String {
        var s = (r.type == .unicast ? "" : "\(r.type) ") + r.destinationText
        if r.nexthops.isEmpty {
            if let g = r.gateway { s += " via \(g)" }
            if let d = node.interfaceName(r.outputIndex) { s += " dev \(d)" }
        } else {
            s += " nexthops " + r.nexthops.map { h in (h.gateway.map { "via \($0) " } ?? "") + "dev \(node.interfaceName(h.index) ?? "?")" }
                .joined(separator: ", ")
        }
        s += " proto \(RouteFilter.protocolName(r.proto))" + (r.metric.map { " metric \($0)" } ?? "") + (r.mtu.map { " mtu \($0)" } ?? "")
        return s
    }

    private func checkRule(node: Node, _ want: Rule) throws -> (Bool, String, silent: Bool) {
        if !want.provenance.malformed.isEmpty {
            throw ExpectationError("malformed expectation: " + want.provenance.malformed.map { "\($0.field): \"\($0.text)\" is not \($0.expected)" }
                .joined(separator: "; "))
        }
        let rules = try node.rules(want.resolvedFamily)
        func differences(_ r: RuleInfo) -> [FieldDifference] {
            var d: [FieldDifference] = []
            func cmp<T: Equatable>(_ name: String, _ a: T?, _ b: T?, _ show: (T) -> String) {
                if a != b { d.append(FieldDifference(field: name, expected: a.map(show) ?? "none", got: b.map(show) ?? "none")) }
            }
            func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
            if let p = want.priority, p != r.priority {
                d.append(FieldDifference(field: "priority", expected: "\(p)", got: r.priority.map { "\($0)" } ?? "none"))
            }
            cmp("from", want.from.flatMap { $0.length == 0 ? nil : $0 }, r.source.flatMap { $0.length == 0 ? nil : $0 }) { "\($0)" }
            cmp("to", want.to.flatMap { $0.length == 0 ? nil : $0 }, r.destination.flatMap { $0.length == 0 ? nil : $0 }) { "\($0)" }
            cmp("iif", want.iif, r.inputInterface) { $0 }
            cmp("oif", want.oif, r.outputInterface) { $0 }
            // A mark without a mask has the full mask; no mark and no mask is no match on marks.
            let wantMask = want.fwmask ?? (want.fwmark != nil ? UInt32.max : nil)
            let gotMark = r.fwmark == 0 && (r.fwmask ?? 0) == 0 ? nil : r.fwmark
            let gotMask = (r.fwmark ?? 0) == 0 && (r.fwmask ?? 0) == 0 ? nil : r.fwmask
            cmp("fwmark", want.fwmark, gotMark, hex)
            cmp("fwmask", wantMask, gotMask, hex)
            cmp("tos", want.tos.flatMap { $0 == 0 ? nil : $0 }, r.tos == 0 ? nil : r.tos) { "0x" + String($0, radix: 16) }
            // The kernel reports the whole UID range (0-4294967295) when none was set.
            let gotUIDs = r.uids.flatMap { $0 == 0...UInt32.max ? nil : $0 }
            cmp("uidrange", want.uidrange, gotUIDs) { "\($0.lowerBound)-\($0.upperBound)" }
            cmp("ipproto", want.ipproto.flatMap { $0 == 0 ? nil : $0 }, r.ipProtocol.flatMap { $0 == 0 ? nil : $0 }) { "\($0)" }
            cmp("sport", want.sport?.range, r.sourcePorts) { rangeText($0) }
            cmp("dport", want.dport?.range, r.destinationPorts) { rangeText($0) }
            cmp("l3mdev", want.l3mdev, r.l3mdev) { "\($0)" }
            let gotSuppress = r.suppressPrefixLength.flatMap { $0 == UInt32.max ? nil : $0 }
            cmp("suppress_prefixlength", want.suppressPrefixlength, gotSuppress) { "\($0)" }
            if !want.l3mdev {
                let got: String
                switch r.action {
                case FRA.actToTbl: got = r.l3mdev ? "lookup [l3mdev-table]" : "lookup \(r.table)"
                case FRA.actGoto: got = "goto \(r.gotoTarget ?? 0)"
                case FRA.actBlackhole: got = "blackhole"
                case FRA.actUnreachable: got = "unreachable"
                case FRA.actProhibit: got = "prohibit"
                default: got = "action \(r.action)"
                }
                if got != want.action.description { d.append(FieldDifference(field: "action", expected: want.action.description, got: got)) }
            }
            return d
        }
        if rules.contains(where: { differences($0).isEmpty }) {
            return (true, "rule present", false)
        }
        // The closest rule (fewest differences; the same priority first), field by field.
        let closest = rules.min { a, b in
            let da = differences(a).count, db = differences(b).count
            return da != db ? da < db : (a.priority == want.priority && b.priority != want.priority)
        }
        let list = rules.map(\.summary).joined(separator: "; ")
        guard let closest else { return (false, "no rules", false) }
        return (false, "closest rule \(closest.summary): " + FieldDifference.text(differences(closest)) + "; rules: \(list)", false)
    }

    private func checkMultipath(node: Node, _ m: MultipathCheck) async throws -> (Bool, String, silent: Bool) {
        let key = m.to.isIPv4 ? "net.ipv4.fib_multipath_hash_policy" : "net.ipv6.fib_multipath_hash_policy"
        let policy = (try? node.sysctl(key)) ?? "?"
        let varyPorts = m.sports.count > 1, varySources = m.sources > 1
        var note = "; \(key) is \(policy)"
        if policy == "0" && varyPorts && !varySources {
            note += " (L3: ports are ignored, one source and destination take one next hop; set it to 1 to spread by ports,"
                + " or vary the source addresses)"
        } else if policy == "0" {
            note += " (L3: addresses only)"
        }
        let udp: UInt8 = 17
        switch m.mode {
        case .spread:
            var seen = Set<String>()
            let flows = m.flowList
            for (src, sport) in flows {
                let r = try node.route(to: m.to, from: src, inputInterface: m.iif, ipProtocol: udp, sourcePort: sport,
                                       destinationPort: m.dport)
                if let d = node.interfaceName(r.outputIndex) { seen.insert(d) }
            }
            let which = "\(flows.count) flows (" + (varySources ? "\(m.sources) sources from \(m.from.map { "\($0)" } ?? "?"), " : "")
                + "source ports \(rangeText(m.sports)))"
            return (Set(m.devices).isSubset(of: seen), "\(which) used \(seen.sorted().joined(separator: ", "))" + note, false)
        case .stable:
            let n = max(1, m.flows)
            var counts: [String: Int] = [:]
            for _ in 0..<n {
                let r = try node.route(to: m.to, from: m.from, inputInterface: m.iif, ipProtocol: udp, sourcePort: m.sports.lowerBound,
                                       destinationPort: m.dport)
                counts[node.interfaceName(r.outputIndex) ?? "?", default: 0] += 1
            }
            let ok = counts.count == 1 && (m.devices.isEmpty || m.devices.contains(counts.keys.first!))
            return (ok, "\(n) lookups of one flow (source port \(m.sports.lowerBound)) took "
                    + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "), false)
        case .split:
            let senderName = m.sender ?? node.name
            let sender = try self.node(senderName)
            let ns = try sender.namespace
            let flows = Array(m.flowList.prefix(m.flows > 0 ? m.flows : Int.max))
            func tx() throws -> [String: UInt64] {
                var out: [String: UInt64] = [:]
                for d in m.devices { out[d] = try node.link(d).stats?.txPackets ?? 0 }
                return out
            }
            let before = try tx()
            var sent = 0, skipped = 0
            for (_, sport) in flows {
                // One datagram per flow, each from its own source port (the sender's own source address).
                guard let s = try? UDPSocket.bind(port: sport, in: ns) else { skipped += 1; continue }
                if (try? s.send(Array("netnskit multipath flow \(sport)".utf8), to: m.to, port: m.dport)) != nil { sent += 1 } else { skipped += 1 }
            }
            // Let forwarding finish: wait (at most 2 s) until the devices counted every datagram.
            var after = try tx()
            let deadline = monotonicNow() + 2
            while m.devices.reduce(0, { $0 + (after[$1]! - before[$1]!) }) < UInt64(sent) && monotonicNow() < deadline {
                try await Task.sleep(nanoseconds: 20_000_000)
                after = try tx()
            }
            let share = max(1, sent / (2 * max(1, m.devices.count)))
            let deltas = m.devices.map { ($0, after[$0]! - before[$0]!) }
            let ok = sent > 0 && deltas.allSatisfy { $0.1 >= UInt64(share) }
            return (ok, "\(sent) datagrams sent from \(senderName)" + (skipped > 0 ? " (\(skipped) flows could not be sent)" : "")
                    + "; tx " + deltas.map { "\($0.0) +\($0.1)" }.joined(separator: ", ") + " (each needs ≥\(share))" + note, false)
        }
    }
}

extension String {
    fileprivate func nonEmptyOr(_ fallback: String) -> String { isEmpty ? fallback : self }
}
