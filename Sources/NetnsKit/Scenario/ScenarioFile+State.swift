import Foundation
import Netlink
import NetnsModel

// File forms of the kinds in Expectation+State.swift (see FileFormat.md):
//   {from: h1, tcp: 10.0.2.2, port: 8080, send: "hi", reply: "hi", peer: 10.0.2.1}   built-in TCP listener
//   {from: h1, udp: 10.0.2.2, port: 5353, send: "q", reply: "q"}                      built-in UDP listener
//   {from: h1, connect: 10.0.2.2, port: 22, result: timeout}                          the test's own server
//   {from: h1, connect: 10.0.2.2, port: 53, proto: udp, result: refused}
//   {in: r1, nftCounter: ssh_drops, table: nslab_fw, family: inet, minPackets: 1}
//   {in: r1, mibCounter: Ip.InNoRoutes, min: 1}

private func problem(_ c: KeyedDecodingContainer<FieldKey>, _ key: String, _ message: String) -> DecodingError {
    .dataCorrupted(DecodingError.Context(codingPath: c.codingPath + [FieldKey(key)], debugDescription: message))
}

extension TransportExpectation {
    /// The keys a `tcp`/`connect` entry takes besides `port` and `open` that make it a transport check.
    static let fileKeys = ["result", "send", "reply", "peer"]

    /// Reads `{from: N, KIND: ADDRESS, port: P, …}` where KIND is `tcp`, `udp` (built-in listener) or `connect`.
    init(file c: KeyedDecodingContainer<FieldKey>, from node: String, kind: String) throws {
        let text: String = try c.required(kind)
        guard let to = IPAddress(text) else { throw problem(c, kind, "not an IP address: \"\(text)\"") }
        let port: Int = try c.required("port")
        guard (1...65535).contains(port) else { throw problem(c, "port", "port \(port) is outside 1…65535") }
        var proto: TransportProtocol = kind == "udp" ? .udp : .tcp
        if kind == "connect", let p: String = try c.optional("proto") {
            guard let v = TransportProtocol(rawValue: p) else { throw problem(c, "proto", "unknown protocol \"\(p)\" (expected tcp or udp)") }
            proto = v
        }
        if c.contains(FieldKey("open")) {
            throw problem(c, "open", "give the outcome as result: ok, refused, timeout or unreachable (open: is the older form, "
                          + "without send, reply, peer)")
        }
        let r: String = try c.value("result", default: "ok")
        guard let result = TransportResult(rawValue: r) else {
            throw problem(c, "result", "unknown result \"\(r)\" (expected one of: "
                          + TransportResult.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        let reply: String? = try c.optional("reply")
        if reply != nil && result != .ok { throw problem(c, "reply", "a reply comes only with result: ok") }
        var peer: IPAddress?
        if let p: String = try c.optional("peer") {
            guard let a = IPAddress(p) else { throw problem(c, "peer", "not an IP address: \"\(p)\"") }
            guard kind != "connect" else {
                throw problem(c, "peer", "only the built-in listener (tcp: or udp:) reports the peer it saw; the test's own server's is unknown")
            }
            peer = a
        }
        self.init(from: node, to: to, port: UInt16(port), proto: proto, listener: kind != "connect", result: result,
                  send: try c.optional("send"), reply: reply, peer: peer)
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        let kind = listener ? proto.rawValue : "connect"
        try c.put(from, "from"); try c.put("\(to)", kind); try c.put(port, "port")
        if !listener && proto == .udp { try c.put(proto.rawValue, "proto") }
        try c.put(result.rawValue, "result")
        try c.put(send, "send"); try c.put(reply, "reply"); try c.put(peer.map { "\($0)" }, "peer")
    }
}

extension NftCounterExpectation {
    static let fileKeys = ["family", "table", "minPackets", "maxPackets", "minBytes", "maxBytes"]

    /// Reads `{in: N, nftCounter: NAME, table: T, family: inet, minPackets: …}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let name: String = try c.required("nftCounter"), table: String = try c.required("table")
        for (k, v) in [("nftCounter", name), ("table", table)] where v.isEmpty || v.contains(where: { $0 == " " || $0 == "\"" }) {
            throw problem(c, k, "not an nft name: \"\(v)\"")
        }
        let family: String = try c.value("family", default: "inet")
        guard Self.families.contains(family) else {
            throw problem(c, "family", "unknown table family \"\(family)\" (expected one of: \(Self.families.joined(separator: ", ")))")
        }
        self.init(in: node, family: family, table: table, name: name, minPackets: try c.optional("minPackets"),
                  maxPackets: try c.optional("maxPackets"), minBytes: try c.optional("minBytes"), maxBytes: try c.optional("maxBytes"))
        if minPackets == nil && maxPackets == nil && minBytes == nil && maxBytes == nil {
            throw problem(c, "nftCounter", "give at least one bound: minPackets, maxPackets, minBytes or maxBytes")
        }
        if let a = minPackets, let b = maxPackets, a > b { throw problem(c, "maxPackets", "maxPackets \(b) is below minPackets \(a)") }
        if let a = minBytes, let b = maxBytes, a > b { throw problem(c, "maxBytes", "maxBytes \(b) is below minBytes \(a)") }
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(name, "nftCounter"); try c.put(table, "table")
        if family != "inet" { try c.put(family, "family") }
        try c.put(minPackets, "minPackets"); try c.put(maxPackets, "maxPackets")
        try c.put(minBytes, "minBytes"); try c.put(maxBytes, "maxBytes")
    }
}

extension MIBCounterExpectation {
    static let fileKeys = ["min", "max"]

    /// Reads `{in: N, mibCounter: Group.Name, min: …, max: …}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let name: String = try c.required("mibCounter")
        guard Self.isWellFormed(name) else {
            throw problem(c, "mibCounter", "not a MIB counter: \"\(name)\" (Group.Name, e.g. Ip.InNoRoutes or TcpExt.IPReversePathFilter; "
                          + "groups: \(Self.groups.joined(separator: ", ")))")
        }
        self.init(in: node, counter: name, min: try c.optional("min"), max: try c.optional("max"))
        if min == nil && max == nil { throw problem(c, "mibCounter", "give at least one bound: min or max") }
        if let a = min, let b = max, a > b { throw problem(c, "max", "max \(b) is below min \(a)") }
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(counter, "mibCounter"); try c.put(min, "min"); try c.put(max, "max")
    }
}

private func interfaceName(_ c: KeyedDecodingContainer<FieldKey>, _ key: String) throws -> String {
    let name: String = try c.required(key)
    guard !name.isEmpty, name.utf8.count <= 15, !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) else {
        throw problem(c, key, "not an interface name: \"\(name)\" (1 to 15 bytes, no /, : or spaces)")
    }
    return name
}

private func time(_ c: KeyedDecodingContainer<FieldKey>, _ key: String) throws -> Duration? {
    guard let text: String = try c.optional(key) else { return nil }
    guard let d = Duration(tcText: text), d >= .zero else { throw problem(c, key, "not a time: \"\(text)\" (expected e.g. 300s or 20ms)") }
    return d
}

extension LinkAttributesExpectation {
    static let fileKeys = ["up", "mtu", "master", "kind", "ageing", "ttl", "learning", "bondMode", "data"]
    static let bondModes = ["balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"]

    /// Reads `{in: N, linkAttributes: IFNAME, kind?, up?, mtu?, master?, ageing?, ttl?, learning?, bondMode?, data?}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let name = try interfaceName(c, "linkAttributes")
        let mtu: Int? = try c.optional("mtu")
        if let mtu, !(68...65535).contains(mtu) { throw problem(c, "mtu", "mtu \(mtu) is outside 68…65535") }
        let master: String? = c.contains(FieldKey("master")) ? try interfaceName(c, "master") : nil
        let ttl: Int? = try c.optional("ttl")
        if let ttl, !(0...255).contains(ttl) { throw problem(c, "ttl", "ttl \(ttl) is outside 0…255") }
        let mode: String? = try c.optional("bondMode")
        if let mode, !Self.bondModes.contains(mode) {
            throw problem(c, "bondMode", "unknown bond mode \"\(mode)\" (expected one of: \(Self.bondModes.joined(separator: ", ")))")
        }
        self.init(in: node, name: name, up: try c.optional("up"), mtu: mtu, master: master, kind: try c.optional("kind"),
                  ageing: try time(c, "ageing"), ttl: ttl, learning: try c.optional("learning"), bondMode: mode,
                  data: try c.value("data", default: [:]))
        if fields.isEmpty { throw problem(c, "linkAttributes", "give at least one attribute: " + Self.fileKeys.joined(separator: ", ")) }
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(name, "linkAttributes"); try c.put(kind, "kind"); try c.put(up, "up"); try c.put(mtu, "mtu")
        try c.put(master, "master"); try c.put(ageing?.tcText, "ageing"); try c.put(ttl, "ttl"); try c.put(learning, "learning")
        try c.put(bondMode, "bondMode"); try c.put(nonEmpty: data, "data")
    }
}

extension QdiscExpectation {
    static let fileKeys = ["kind", "root", "rate", "burst", "delay"]

    /// Reads `{in: N, qdisc: IFNAME, kind: tbf, root?: true, rate?: 10mbit, burst?: 32768, delay?: 20ms}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let dev = try interfaceName(c, "qdisc")
        let kind: String = try c.required("kind")
        guard !kind.isEmpty, kind.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw problem(c, "kind", "not a qdisc kind: \"\(kind)\" (tbf, htb, netem, ingress, …)")
        }
        var rate: Rate?
        if let text: String = try c.optional("rate") {
            guard let r = Rate(text), r.bitsPerSecond > 0 else { throw problem(c, "rate", "not a rate: \"\(text)\" (e.g. 10mbit)") }
            rate = r
        }
        let burst: Int? = try c.optional("burst")
        if let burst, burst <= 0 { throw problem(c, "burst", "burst \(burst) must be above 0 bytes") }
        self.init(in: node, dev: dev, kind: kind, root: try c.value("root", default: true), rate: rate,
                  burst: burst.map(UInt64.init), delay: try time(c, "delay"))
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(dev, "qdisc"); try c.put(kind, "kind")
        if !root { try c.put(false, "root") }
        try c.put(rate.map { "\($0)" }, "rate"); try c.put(burst, "burst"); try c.put(delay?.tcText, "delay")
    }
}

extension RefusedChangeExpectation {
    static let fileKeys = ["errno", "extack"]
    /// The changes a `refuses:` mapping names, as in `steps:`.
    static let changeKeys = ["addRoute", "removeRoute", "setMTU", "linkDown", "linkUp", "removeQdisc", "replaceQdisc"]

    /// Reads `{in: N, refuses: {addRoute: {to: …, via: …}}, errno: EINVAL, extack?: "text"}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let r = try c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("refuses"))
        let kinds = r.allKeys.map(\.stringValue).filter { Self.changeKeys.contains($0) }
        guard kinds.count == 1, let kind = kinds.first else {
            throw problem(c, "refuses", "name one change: " + Self.changeKeys.joined(separator: ", ")
                          + " (e.g. refuses: {addRoute: {to: 10.9.0.0/24, via: \"fe80::1\"}})")
        }
        try r.only([kind] + (kind == "setMTU" ? ["mtu"] : []))
        let change: TimelineChange
        switch kind {
        case "addRoute": change = .addRoute(node: node, try r.required("addRoute"))
        case "removeRoute": change = .removeRoute(node: node, try r.required("removeRoute"))
        // No range check on the MTU: a refused out-of-range MTU is the point.
        case "setMTU": change = .setMTU(node: node, link: try interfaceName(r, "setMTU"), mtu: try r.required("mtu"))
        case "linkDown": change = .linkDown(node: node, link: try interfaceName(r, "linkDown"))
        case "linkUp": change = .linkUp(node: node, link: try interfaceName(r, "linkUp"))
        case "removeQdisc": change = .removeQdisc(node: node, link: try interfaceName(r, "removeQdisc"))
        default:
            let q: Qdisc = try r.required("replaceQdisc")
            guard let link = q.interface else { throw problem(r, "replaceQdisc", "say which interface: replaceQdisc: {on: eth1, tbf: {…}}") }
            change = .replaceQdisc(node: node, link: link, q.kind)
        }
        let name: String = try c.required("errno")
        guard let errno = Self.errno(named: name) else {
            throw problem(c, "errno", "not an errno name: \"\(name)\" (e.g. EINVAL, ENETUNREACH, EEXIST, ENODEV, EOPNOTSUPP)")
        }
        self.init(change, errno: errno, extack: try c.optional("extack"))
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(change.node, "in")
        var r = c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("refuses"))
        switch change {
        case let .linkDown(_, l): try r.put(l, "linkDown")
        case let .linkUp(_, l): try r.put(l, "linkUp")
        case let .setMTU(_, l, m): try r.put(l, "setMTU"); try r.put(m, "mtu")
        case let .replaceQdisc(_, l, k): try r.put(Qdisc(k, on: l), "replaceQdisc")
        case let .removeQdisc(_, l): try r.put(l, "removeQdisc")
        case let .addRoute(_, route): try r.put(route, "addRoute")
        case let .removeRoute(_, route): try r.put(route, "removeRoute")
        case .send:
            throw EncodingError.invalidValue(change, .init(codingPath: [], debugDescription: "sending traffic is not a change the kernel can refuse"))
        }
        try c.put(ErrnoNames.name(errno), "errno"); try c.put(extack, "extack")
    }
}

extension TrafficPathExpectation {
    static let fileKeys = ["notThrough", "minPackets", "during"]

    /// Reads `{in: r1, through: [eth1], notThrough?: [eth2], minPackets?: 1, during: {from: h1, reaches: 10.0.2.2}}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let through: [String] = try c.required("through")
        let not: [String] = try c.value("notThrough", default: [])
        if through.isEmpty { throw problem(c, "through", "list at least one interface the traffic crosses") }
        for (k, list) in [("through", through), ("notThrough", not)] {
            for n in list where n.isEmpty || n.utf8.count > 15 || n.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
                throw problem(c, k, "not an interface name of node \(node): \"\(n)\" (1 to 15 bytes, no /, : or spaces)")
            }
        }
        let min: UInt64 = try c.value("minPackets", default: 1)
        if min == 0 { throw problem(c, "minPackets", "minPackets must be 1 or more") }
        let during: LabExpectation = try c.required("during")
        switch during {
        case .reachable, .unreachable, .pingSize, .rtt, .tcp, .tcpConnect, .transport, .ping, .throughput: break
        default: throw problem(c, "during", "during takes a check that sends traffic (reaches, cannotReach, tcp, connect, udp, throughput)")
        }
        self.init(in: node, through: through, notThrough: not, minPackets: min, during: during)
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(through, "through"); try c.put(nonEmpty: notThrough, "notThrough")
        if minPackets != 1 { try c.put(minPackets, "minPackets") }
        try c.put(during, "during")
    }
}

extension AddressCountExpectation {
    static let fileKeys = ["family", "scope", "count"]

    /// Reads `{in: N, addressCount: eth0 | all, family?: ipv6, scope?: link, count: 1}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let on: String? = (try c.required("addressCount") as String) == "all" ? nil : try interfaceName(c, "addressCount")
        var family: IPFamily?
        if let f: String = try c.optional("family") {
            guard let v = IPFamily(rawValue: f) else { throw problem(c, "family", "unknown family \"\(f)\" (expected ipv4 or ipv6)") }
            family = v
        }
        var scope: AddressScope?
        if let s: String = try c.optional("scope") {
            guard let v = AddressScope(rawValue: s) else {
                throw problem(c, "scope", "unknown scope \"\(s)\" (expected one of: \(AddressScope.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            scope = v
        }
        let count: Int = try c.required("count")
        if count < 0 { throw problem(c, "count", "count must be 0 or more") }
        self.init(in: node, on: on, family: family, scope: scope, count: count)
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(on ?? "all", "addressCount"); try c.put(family?.rawValue, "family")
        try c.put(scope?.rawValue, "scope"); try c.put(count, "count")
    }
}

extension AddressFlagsExpectation {
    static let fileKeys = ["on", "flags", "notFlags"]

    /// Reads `{in: N, addressFlags: "fd00::2/64", on: eth0, flags: [nodad, permanent], notFlags?: [tentative]}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let text: String = try c.required("addressFlags")
        guard let prefix = IPPrefix(text) else { throw problem(c, "addressFlags", "not an address/prefix: \"\(text)\" (e.g. 10.0.0.1/24)") }
        func flags(_ key: String) throws -> [AddressFlag] {
            let names: [String] = try c.value(key, default: [])
            return try names.map { n in
                guard let f = AddressFlag(rawValue: n) else {
                    throw problem(c, key, "unknown address flag \"\(n)\" (expected one of: \(AddressFlag.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return f
            }
        }
        let set = try flags("flags"), unset = try flags("notFlags")
        if set.isEmpty && unset.isEmpty { throw problem(c, "flags", "list the flags to check (flags: and/or notFlags:)") }
        self.init(in: node, prefix: prefix, on: try interfaceName(c, "on"), flags: set, notFlags: unset)
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put("\(prefix)", "addressFlags"); try c.put(on, "on")
        try c.put(nonEmpty: flags.map(\.rawValue), "flags"); try c.put(nonEmpty: notFlags.map(\.rawValue), "notFlags")
    }
}

extension FDBExpectation {
    static let fileKeys = ["present", "port", "dst", "learned"]

    /// Reads `{in: sw, fdb: "02:00:00:00:00:01" | h1:eth0, present?: true, port?: p1, dst?: 10.0.0.2, learned?: true}`.
    init(file c: KeyedDecodingContainer<FieldKey>, in node: String) throws {
        let text: String = try c.required("fdb")
        let mac: MACReference
        if let m = MACAddress(text) { mac = .address(m) } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[1].utf8.count <= 15 else {
                throw problem(c, "fdb", "not a MAC address or node:interface: \"\(text)\" (e.g. 02:00:00:00:00:01 or h1:eth0)")
            }
            mac = .of(node: String(parts[0]), interface: String(parts[1]))
        }
        var dst: IPAddress?
        if let d: String = try c.optional("dst") {
            guard let a = IPAddress(d) else { throw problem(c, "dst", "not an IP address: \"\(d)\"") }
            dst = a
        }
        let present: Bool = try c.value("present", default: true)
        if !present && (dst != nil || c.contains(FieldKey("learned"))) {
            throw problem(c, "present", "an absent entry has no dst or learned to check")
        }
        self.init(in: node, mac: mac, present: present, port: c.contains(FieldKey("port")) ? try interfaceName(c, "port") : nil,
                  dst: dst, learned: try c.optional("learned"))
    }

    func encode(file c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(node, "in"); try c.put(mac.description, "fdb")
        if !present { try c.put(false, "present") }
        try c.put(port, "port"); try c.put(dst.map { "\($0)" }, "dst"); try c.put(learned, "learned")
    }
}
