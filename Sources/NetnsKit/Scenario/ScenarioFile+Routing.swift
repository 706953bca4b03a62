import Netlink
import NetnsModel

// The file form of the routing expectations (`route`, `multipath`, `routes`, `rule`); FileFormat.md
// lists every key. Each value is parsed here, so a malformed one is a problem at its line.

private func fail(_ c: KeyedDecodingContainer<FieldKey>, _ key: String, _ message: String) -> DecodingError {
    .dataCorrupted(DecodingError.Context(codingPath: c.codingPath + [FieldKey(key)], debugDescription: message))
}

/// The table names `ip` accepts.
private let tableNames: [String: UInt32] = ["main": RouteTable.main, "local": RouteTable.local, "default": RouteTable.default]
/// IP protocol names, as `ip route get ipproto` takes them.
private let protocolNames: [String: UInt8] = ["icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132]
/// The route types a check may name.
private let checkableTypes: [RouteType] = [.unicast, .local, .broadcast, .multicast, .anycast, .blackhole, .unreachable, .prohibit, .throw]

extension KeyedDecodingContainer where K == FieldKey {
    fileprivate func ip(_ key: String) throws -> IPAddress? {
        guard let text: String = try optional(key) else { return nil }
        guard let a = IPAddress(text) else { throw fail(self, key, "not an IP address: \"\(text)\"") }
        return a
    }

    fileprivate func port16(_ key: String) throws -> UInt16? {
        guard let n: Int = try optional(key) else { return nil }
        guard (0...65535).contains(n) else { throw fail(self, key, "port \(n) is outside 0…65535") }
        return UInt16(n)
    }

    fileprivate func routeType(_ key: String) throws -> RouteType? {
        try choice(key, checkableTypes) { "\($0)" }
    }
}

extension LabExpectation {
    /// The keys each routing kind takes besides its kind key and node key.
    static let routeKeys = ["from", "iif", "oif", "vrf", "mark", "tos", "dscp", "uid", "ipproto", "sport", "dport",
                            "via", "dev", "prefsrc", "table", "type", "mtu", "error"]
    static let multipathKeys = ["devices", "mode", "from", "sources", "iif", "sports", "dport", "flows", "sender"]
    static let routesKeys = ["atLeast", "atMost", "count"]

    /// Decodes a routing kind (`route`, `multipath`, `routes`, `rule`); nil for another kind.
    static func decodeRouting(_ kind: String, _ c: KeyedDecodingContainer<FieldKey>, node: String) throws -> LabExpectation? {
        switch kind {
        case "route":
            guard let to = try c.ip("route") else { throw fail(c, "route", "give the address looked up") }
            var l = RouteLookup(to: to, from: try c.ip("from"), iif: try c.optional("iif"), oif: try c.optional("oif"),
                                vrf: try c.optional("vrf"), mark: try c.number("mark"), uid: try c.number("uid"),
                                ipproto: try c.number("ipproto", names: protocolNames), sport: try c.port16("sport"),
                                dport: try c.port16("dport"), via: try c.ip("via"), dev: try c.optional("dev"),
                                prefsrc: try c.ip("prefsrc"), table: try c.number("table", names: tableNames),
                                type: try c.routeType("type"), mtu: try c.number("mtu"))
            if l.vrf != nil && l.oif != nil { throw fail(c, "oif", "a lookup takes oif or vrf, not both") }
            let tos: UInt8? = try c.number("tos")
            if let dscp: UInt8 = try c.number("dscp") {
                guard dscp < 64 else { throw fail(c, "dscp", "dscp \(dscp) is outside 0…63") }
                if tos != nil { throw fail(c, "dscp", "give tos or dscp, not both (dscp N is tos N×4)") }
                l.tos = dscp << 2
            } else {
                l.tos = tos
            }
            if let text: String = try c.optional("error") {
                guard let e = RouteLookupError(text: text) else {
                    throw fail(c, "error", "unknown error \"\(text)\" (expected one of: "
                               + RouteLookupError.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + ", or its errno name)")
                }
                if [l.via.map { _ in "via" }, l.dev.map { _ in "dev" }, l.prefsrc.map { _ in "prefsrc" }, l.table.map { _ in "table" },
                    l.mtu.map { _ in "mtu" }].contains(where: { $0 != nil }) {
                    throw fail(c, "error", "a lookup that fails answers no via, dev, prefsrc, table or mtu")
                }
                l.error = e
            }
            return .route(in: node, l)
        case "multipath":
            guard let to = try c.ip("multipath") else { throw fail(c, "multipath", "give the destination of the flows") }
            let devices: [String] = try c.value("devices", default: [])
            let mode = try c.choice("mode", MultipathCheck.Mode.allCases, \.rawValue) ?? .spread
            if devices.isEmpty && mode != .stable { throw fail(c, "devices", "list at least one device") }
            if mode == .stable && devices.count > 1 { throw fail(c, "devices", "a stable flow takes one device (or none: any)") }
            var m = MultipathCheck(to: to, devices: devices, mode: mode, from: try c.ip("from"), iif: try c.optional("iif"))
            if let n: Int = try c.optional("sources") {
                guard (1...4096).contains(n) else { throw fail(c, "sources", "sources \(n) is outside 1…4096") }
                if m.from == nil { throw fail(c, "sources", "more than one source needs the first one: from: ADDRESS") }
                m.sources = n
            }
            if c.contains(FieldKey("sports")) {
                if let n: Int = try? c.decode(Int.self, forKey: FieldKey("sports")), (0...65535).contains(n) {
                    m.sports = UInt16(n)...UInt16(n)
                } else {
                    let text = (try? c.decode(String.self, forKey: FieldKey("sports"))) ?? ""
                    let words = text.split(separator: "-", omittingEmptySubsequences: false)
                    let parts = words.compactMap { UInt16($0) }
                    guard (1...2).contains(words.count), parts.count == words.count, parts[0] <= parts[parts.count - 1] else {
                        throw fail(c, "sports", "sports \"\(text)\" is not a port or a range START-END like 10000-10063")
                    }
                    m.sports = parts[0]...parts[parts.count - 1]
                }
            }
            if let p = try c.port16("dport") { m.dport = p }
            if let n: Int = try c.optional("flows") {
                guard (1...10_000).contains(n) else { throw fail(c, "flows", "flows \(n) is outside 1…10000") }
                m.flows = n
            }
            m.sender = try c.optional("sender")
            if m.sender != nil && mode != .split { throw fail(c, "sender", "only mode: split sends traffic") }
            if m.flowList.count > 10_000 { throw fail(c, "sports", "\(m.flowList.count) flows: at most 10000") }
            return .multipath(in: node, m)
        case "routes":
            var f = RouteFilter()
            if let p = try? c.decode(String.self, forKey: FieldKey("routes")) {
                guard let proto = Node.routeProtocol(named: p) else {
                    throw fail(c, "routes", "\"\(p)\" is not a route protocol: a name as ip route prints it (bird, ospf, bgp, "
                               + "static, kernel, zebra, …) or a number 0…255")
                }
                f.proto = proto
            } else {
                let r = try c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("routes"))
                try r.only(["family", "table", "to", "type", "protocol", "metric", "mtu", "nexthops", "dev", "via"])
                f.family = try r.choice("family", IPFamily.allCases, \.rawValue)
                f.table = try r.number("table", names: tableNames) ?? RouteTable.main
                if let to: String = try r.optional("to") {
                    if to == "default" { f.to = (f.family ?? .ipv4).defaultPrefix }
                    else if let p = IPPrefix(to) { f.to = p }
                    else { throw fail(r, "to", "not a prefix: \"\(to)\" (e.g. 10.0.0.0/24, or default)") }
                }
                f.type = try r.routeType("type")
                if let p: String = try? r.decode(String.self, forKey: FieldKey("protocol")) {
                    guard let proto = Node.routeProtocol(named: p) else {
                        throw fail(r, "protocol", "\"\(p)\" is not a route protocol (bird, ospf, bgp, static, kernel, …) or a number")
                    }
                    f.proto = proto
                } else {
                    f.proto = try r.number("protocol")
                }
                f.metric = try r.number("metric")
                f.mtu = try r.number("mtu")
                if let n: Int = try r.optional("nexthops") {
                    guard n >= 1 else { throw fail(r, "nexthops", "nexthops counts next hops: 1 or more") }
                    f.nexthops = n
                }
                f.dev = try r.optional("dev")
                f.via = try r.ip("via")
                if let fam = f.family, let to = f.to, IPFamily(of: to.address) != fam {
                    throw fail(r, "family", "family \(fam.rawValue) but to is \(to)")
                }
            }
            var lo: Int, hi: Int?
            if let n: Int = try c.optional("count") {
                if c.contains(FieldKey("atLeast")) || c.contains(FieldKey("atMost")) {
                    throw fail(c, "count", "give count (exactly) or atLeast/atMost, not both")
                }
                (lo, hi) = (n, n)
            } else {
                hi = try c.optional("atMost")
                lo = try c.optional("atLeast") ?? (hi != nil ? 0 : 1)
            }
            guard lo >= 0 else { throw fail(c, c.contains(FieldKey("count")) ? "count" : "atLeast", "a count is 0 or more") }
            if let hi, hi < lo { throw fail(c, "atMost", "atMost \(hi) is below atLeast \(lo)") }
            if lo == 0 && hi == nil {
                throw fail(c, "atLeast", "atLeast 0 without atMost checks nothing: atLeast must be 1 or more (or give count or atMost)")
            }
            return .routes(in: node, f, atLeast: lo, atMost: hi)
        case "rule":
            let rule = try c.decode(Rule.self, forKey: FieldKey("rule"))
            return .rule(in: node, rule)
        default:
            return nil
        }
    }

    /// Writes a routing kind as a file entry (the form ``decodeRouting(_:_:node:)`` reads); false for another kind.
    func encodeRouting(_ c: inout KeyedEncodingContainer<FieldKey>) throws -> Bool {
        switch self {
        case let .route(n, l):
            try c.put(n, "in"); try c.put(l.to, "route")
            try c.put(l.from, "from"); try c.put(l.iif, "iif"); try c.put(l.oif, "oif"); try c.put(l.vrf, "vrf")
            try c.put(l.mark.map { "0x" + String($0, radix: 16) }, "mark"); try c.put(l.tos, "tos"); try c.put(l.uid, "uid")
            try c.put(l.ipproto, "ipproto"); try c.put(l.sport, "sport"); try c.put(l.dport, "dport")
            try c.put(l.via, "via"); try c.put(l.dev, "dev"); try c.put(l.prefsrc, "prefsrc"); try c.put(l.table, "table")
            try c.put(l.type.map { "\($0)" }, "type"); try c.put(l.mtu, "mtu"); try c.put(l.error?.rawValue, "error")
        case let .multipath(n, m):
            try c.put(n, "in"); try c.put(m.to, "multipath"); try c.put(nonEmpty: m.devices, "devices")
            if m.mode != .spread { try c.put(m.mode.rawValue, "mode") }
            try c.put(m.from, "from")
            if m.sources != 1 { try c.put(m.sources, "sources") }
            try c.put(m.iif, "iif")
            if m.sports.count == 1 { try c.put(m.sports.lowerBound, "sports") }
            else if m.sports != 10000...10063 { try c.put(rangeText(m.sports), "sports") }
            if m.dport != 9 { try c.put(m.dport, "dport") }
            if m.flows != 0 { try c.put(m.flows, "flows") }
            try c.put(m.sender, "sender")
        case let .routes(n, f, lo, hi):
            try c.put(n, "in")
            if f.isProtocolOnly, let p = f.proto {
                try c.put(RouteFilter.protocolName(p), "routes")
            } else {
                var r = c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("routes"))
                try r.put(f.family?.rawValue, "family")
                if f.table != RouteTable.main { try r.put(f.table, "table") }
                try r.put(f.to.map { "\($0)" }, "to")
                try r.put(f.type.map { "\($0)" }, "type")
                try r.put(f.proto.map(RouteFilter.protocolName), "protocol")
                try r.put(f.metric, "metric"); try r.put(f.mtu, "mtu"); try r.put(f.nexthops, "nexthops")
                try r.put(f.dev, "dev"); try r.put(f.via, "via")
            }
            if let hi, hi == lo {
                try c.put(hi, "count")
            } else {
                if lo != (hi != nil ? 0 : 1) { try c.put(lo, "atLeast") }
                try c.put(hi, "atMost")
            }
        case let .rule(n, r):
            try c.put(n, "in"); try c.put(r, "rule")
        default:
            return false
        }
        return true
    }
}
