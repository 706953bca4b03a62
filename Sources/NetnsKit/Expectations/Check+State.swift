import SystemPackage
import Foundation
import Namespaces
import Netlink
import NetnsModel

// Evaluation of the kinds in Expectation+State.swift.
extension Lab {
    /// A TCP connection (with a request when it sends or expects a reply) or a UDP exchange;
    /// every field that differs is named with what was expected and what came.
    func evaluateTransport(_ t: TransportExpectation) async throws -> (Bool, String, silent: Bool) {
        var server: EchoServer?
        var listenerNote = ""
        if t.listener {
            if let owner = owner(of: t.to) {
                do {
                    server = try EchoServer.start(in: try owner.namespace, port: t.port, proto: t.proto, address: t.to, lifetime: 10)
                } catch {
                    listenerNote = "; no listener started (\(owner.name) already listens on \(t.port)/\(t.proto.rawValue))"
                }
            } else {
                listenerNote = "; no listener started (no node of the lab owns \(t.to))"
            }
        }
        defer { server?.stop() }
        let ns = try node(t.from).namespace
        let outcome: ExchangeOutcome
        switch t.proto {
        case .tcp where t.send == nil && t.reply == nil:
            outcome = ExchangeOutcome(result: try await tcpConnect(to: t.to, port: t.port, in: ns, timeout: 1), reply: [], complete: false)
        case .tcp:
            outcome = try await tcpExchange(to: t.to, port: t.port, payload: Array((t.send ?? "").utf8), in: ns, timeout: 2)
        case .udp:
            var o = try await udpTry(to: t.to, port: t.port, payload: Array((t.send ?? "netnskit probe\n").utf8), in: ns, timeout: 1)
            // A first datagram can be lost while a neighbour entry is resolved.
            if o.result == .timedOut {
                o = try await udpTry(to: t.to, port: t.port, payload: Array((t.send ?? "netnskit probe\n").utf8), in: ns, timeout: 1)
            }
            outcome = o
        }
        let got: TransportResult
        var gotText: String
        switch outcome.result {
        case .open: got = .ok; gotText = t.proto == .tcp ? "connected" : "answered"
        case .refused: got = .refused; gotText = t.proto == .tcp ? "refused (RST)" : "refused (ICMP port unreachable)"
        case .timedOut: got = .timeout; gotText = "no answer (timeout)"
        case .unreachable(let e): got = .unreachable; gotText = "unreachable (\(ErrnoNames.name(e)))"
        }
        let replyText = String(decoding: outcome.reply, as: UTF8.self)
        if got == .ok && (t.reply != nil || t.send != nil || t.proto == .udp) {
            gotText += outcome.reply.isEmpty ? ", no reply" : ", reply \(quoted(replyText))"
            if t.proto == .tcp && !outcome.complete && !outcome.reply.isEmpty { gotText += " (the peer did not close)" }
        }
        let peers = server?.peers ?? []
        if let server { gotText += peers.isEmpty ? "; the listener saw no peer" : "; the listener saw \(peers.map { "\($0)" }.joined(separator: ", "))" }
        _ = server
        var diffs: [String] = []
        if got != t.result { diffs.append("result: expected \(t.result.rawValue), got \(got.rawValue)") }
        if let want = t.reply, got == .ok, !replyText.contains(want) {
            diffs.append("reply: expected \(quoted(want)), got \(outcome.reply.isEmpty ? "none" : quoted(replyText))")
        }
        if let want = t.peer, !peers.contains(want) {
            diffs.append("peer: expected \(want), got " + (server == nil ? "no listener" : peers.isEmpty ? "none" : peers.map { "\($0)" }.joined(separator: ", ")))
        }
        let observed = gotText + listenerNote + (diffs.isEmpty ? "" : " (differs: " + diffs.joined(separator: "; ") + ")")
        return (diffs.isEmpty, observed, got == .timeout)
    }

    /// Reads a named counter with `nft -j list counter FAMILY TABLE NAME` in the node.
    func evaluateNftCounter(_ e: NftCounterExpectation) async throws -> (Bool, String, silent: Bool) {
        let r = try await node(e.node).run(["nft", "-j", "list", "counter", e.family, e.table, e.name], timeout: 10)
        guard r.status == 0 else {
            let err = String(decoding: r.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return (false, "nft list counter \(e.family) \(e.table) \(e.name) failed: \(err.isEmpty ? "exit \(r.status)" : err)", false)
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any],
              let items = json["nftables"] as? [[String: Any]],
              let counter = items.lazy.compactMap({ $0["counter"] as? [String: Any] }).first,
              let packets = (counter["packets"] as? NSNumber)?.uint64Value, let bytes = (counter["bytes"] as? NSNumber)?.uint64Value
        else { return (false, "nft printed no counter: \(r.output.prefix(200))", false) }
        var diffs: [String] = []
        func bound(_ v: UInt64, _ lo: UInt64?, _ hi: UInt64?, _ unit: String) {
            if let lo, v < lo { diffs.append("\(unit): expected ≥\(lo), got \(v)") }
            if let hi, v > hi { diffs.append("\(unit): expected ≤\(hi), got \(v)") }
        }
        bound(packets, e.minPackets, e.maxPackets, "packets")
        bound(bytes, e.minBytes, e.maxBytes, "bytes")
        return (diffs.isEmpty, "\(packets) packets, \(bytes) bytes" + (diffs.isEmpty ? "" : " (differs: " + diffs.joined(separator: "; ") + ")"), false)
    }

    /// Reads a MIB counter from the node's `/proc/net/snmp`, `/proc/net/netstat` or `/proc/net/snmp6`.
    func evaluateMIBCounter(_ e: MIBCounterExpectation) async throws -> (Bool, String, silent: Bool) {
        let ns = try node(e.node).namespace
        let counters = try Self.mibCounters(snmp: try ns.procNet("snmp") + (try ns.procNet("netstat")), snmp6: try ns.procNet("snmp6"))
        guard let v = counters[e.counter] else {
            let group = e.counter.split(separator: ".").first.map(String.init) ?? ""
            let known = counters.keys.filter { $0.hasPrefix(group + ".") }.sorted().prefix(12).joined(separator: ", ")
            return (false, "no counter \(e.counter) in /proc/net/snmp, netstat or snmp6" + (known.isEmpty ? "" : " (\(group) has \(known), …)"), false)
        }
        var diffs: [String] = []
        if let lo = e.min, v < lo { diffs.append("expected ≥\(lo)") }
        if let hi = e.max, v > hi { diffs.append("expected ≤\(hi)") }
        return (diffs.isEmpty, "\(e.counter) = \(v)" + (diffs.isEmpty ? "" : " (\(diffs.joined(separator: ", ")))"), false)
    }

    /// Parses `/proc/net/snmp`-style text (a header line `Ip: Forwarding …` then a value line
    /// `Ip: 1 …`) and `/proc/net/snmp6` (`Ip6InNoRoutes 0`) into `Group.Name` keys.
    package static func mibCounters(snmp: String, snmp6: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        var header: (group: Substring, names: [Substring])?
        for line in snmp.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let first = fields.first, first.hasSuffix(":") else { continue }
            let group = first.dropLast()
            if let h = header, h.group == group, let _ = fields.dropFirst().first.flatMap({ Int64($0) }) {
                for (n, v) in zip(h.names, fields.dropFirst()) { if let x = UInt64(v) { out["\(group).\(n)"] = x } }
                header = nil
            } else {
                header = (group, Array(fields.dropFirst()))
            }
        }
        for line in snmp6.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count == 2, let v = UInt64(f[1]) else { continue }
            let name = f[0]
            if let g = ["UdpLite6", "Icmp6", "Udp6", "Ip6"].first(where: { name.hasPrefix($0) }) {
                out["\(g).\(name.dropFirst(g.count))"] = v
            }
        }
        return out
    }
}

/// A JSON value as `ip -j` and `tc -j` print them, keeping booleans apart from numbers.
enum JSONValue: Decodable, CustomStringConvertible {
    case bool(Bool), int(Int64), double(Double), string(String), object([String: JSONValue]), array([JSONValue]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let o = try? c.decode([String: JSONValue].self) { self = .object(o) }
        else { self = .array(try c.decode([JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? { if case .object(let o) = self { return o[key] }; return nil }
    var int: Int64? { switch self { case .int(let i): i; case .double(let d): Int64(exactly: d.rounded()); default: nil } }
    var double: Double? { switch self { case .int(let i): Double(i); case .double(let d): d; default: nil } }

    var description: String {
        switch self {
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .string(let s): s
        case .object, .array: "…"
        case .null: "null"
        }
    }
}

extension Lab {
    /// Compares a link's attributes: up, mtu, master and kind from rtnetlink, kind-specific ones
    /// from `ip -d -j link show dev NAME` in the node.
    func evaluateLinkAttributes(_ e: LinkAttributesExpectation) async throws -> (Bool, String, silent: Bool) {
        let node = try self.node(e.node)
        let l = try node.link(e.name)
        var got: [String: String] = [:]
        got["state"] = l.isUp ? "up" : "down"
        got["mtu"] = l.mtu.map { "\($0)" } ?? "?"
        got["master"] = l.master.flatMap { node.interfaceName($0) } ?? "none"
        got["kind"] = l.kind ?? "(none)"
        let needsData = e.ageing != nil || e.ttl != nil || e.learning != nil || e.bondMode != nil || !e.data.isEmpty
        if needsData {
            let r = try await node.run(["ip", "-d", "-j", "link", "show", "dev", e.name], timeout: 10)
            guard r.status == 0, let list = try? JSONDecoder().decode([JSONValue].self, from: Data(r.stdout)), let info = list.first
            else { return (false, "ip -d -j link show dev \(e.name) failed: \(r.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines))", false) }
            let data = info["linkinfo"]?["info_data"]
            if case .object(let o)? = data { for (k, v) in o { got[k] = v.description } }
            // ageing_time is in centiseconds.
            got["ageing"] = data?["ageing_time"]?.int.map { Duration.milliseconds($0 * 10).tcText } ?? "(none)"
            got["bondMode"] = data?["mode"]?.description ?? "(none)"
            got["learning"] = data?["learning"]?.description ?? "(none)"
        }
        let fields = e.fields
        let diffs = fields.compactMap { k, want -> String? in
            let have = got[k] ?? "(none)"
            return have == want ? nil : "\(k): expected \(want), got \(have)"
        }
        let summary = fields.map { "\($0.0) \(got[$0.0] ?? "(none)")" }.joined(separator: ", ")
        return (diffs.isEmpty, summary + (diffs.isEmpty ? "" : " (differs: " + diffs.joined(separator: "; ") + ")"), false)
    }

    /// Compares a qdisc with `tc -j qdisc show dev DEV` in the node.
    func evaluateQdisc(_ e: QdiscExpectation) async throws -> (Bool, String, silent: Bool) {
        let r = try await node(e.node).run(["tc", "-j", "qdisc", "show", "dev", e.dev], timeout: 10)
        guard r.status == 0, let list = try? JSONDecoder().decode([JSONValue].self, from: Data(r.stdout)) else {
            return (false, "tc -j qdisc show dev \(e.dev) failed: \(r.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines))", false)
        }
        func text(_ q: JSONValue) -> String {
            "\(q["kind"]?.description ?? "?")" + (q["root"]?.description == "true" ? " root" : " parent \(q["parent"]?.description ?? "?")")
                + (q["options"]?["rate"]?.int.map { " rate \(Rate(bitsPerSecond: UInt64($0) * 8))" } ?? "")
                + (q["options"]?["burst"]?.int.map { " burst \($0)" } ?? "")
                + (q["options"]?["delay"]?["delay"]?.double.map { " delay \(Duration.microseconds(Int64(($0 * 1e6).rounded())).tcText)" } ?? "")
        }
        let all = list.map(text).joined(separator: "; ")
        let candidates = list.filter { $0["kind"]?.description == e.kind && (!e.root || $0["root"]?.description == "true") }
        guard let q = candidates.first else {
            let root = list.first { $0["root"]?.description == "true" }
            return (false, "kind: expected \(e.kind)\(e.root ? " at the root" : ""), got "
                    + (e.root ? (root?["kind"]?.description ?? "none") : "none") + " (qdiscs: \(all.isEmpty ? "none" : all))", false)
        }
        var diffs: [String] = []
        if let want = e.rate {
            // tc prints a tbf rate in bytes per second.
            let got = q["options"]?["rate"]?.int.map { UInt64($0) * 8 }
            if got != want.bitsPerSecond { diffs.append("rate: expected \(want), got \(got.map { "\(Rate(bitsPerSecond: $0))" } ?? "none")") }
        }
        if let want = e.burst {
            let got = q["options"]?["burst"]?.int.map(UInt64.init)
            // The kernel stores the burst as time at the rate: 32768 reads back as 32767.
            let ok = got.map { g in (g > want ? g - want : want - g) <= Swift.max(1, want / 100) } ?? false
            if !ok { diffs.append("burst: expected \(want), got \(got.map { "\($0)" } ?? "none")") }
        }
        if let want = e.delay {
            let got = q["options"]?["delay"]?["delay"]?.double.map { Duration.microseconds(Int64(($0 * 1e6).rounded())) }
            if got != want { diffs.append("delay: expected \(want.tcText), got \(got.map(\.tcText) ?? "none")") }
        }
        return (diffs.isEmpty, text(q) + (diffs.isEmpty ? "" : " (differs: " + diffs.joined(separator: "; ") + ")"), false)
    }
}

extension Lab {
    /// The node's state a refused change must leave as it was: links (state, MTU, master),
    /// addresses, routes of both families in every table, root qdiscs.
    private func stateLines(_ node: Node) throws -> [String] {
        let links = try node.links().map { "link \($0.name) \($0.isUp ? "up" : "down") mtu \($0.mtu ?? 0) master \($0.master ?? 0)" }
        let addrs = try node.addresses().map { "address \($0.prefix) on \($0.index)" }
        let routes = try (node.routes(.ipv4) + node.routes(.ipv6)).map { "route \($0)" }
        let qdiscs = try node.qdiscs().map { "qdisc \($0.kind) on \($0.index) parent \($0.parent)" }
        return (links + addrs + routes + qdiscs).sorted()
    }

    func evaluateRefused(_ e: RefusedChangeExpectation) async throws -> (Bool, String, silent: Bool) {
        let node = try self.node(e.change.node)
        let before = try stateLines(node)
        do {
            try e.change.apply(to: self)
        } catch {
            let nl = (error as? ChangeError)?.netlinkError ?? (error as? NetlinkError)
            guard let nl else { return (false, "failed without a kernel answer: \(error)", false) }
            let after = try stateLines(node)
            var diffs: [String] = []
            if nl.errno != e.errno { diffs.append("errno: expected \(ErrnoNames.name(e.errno)), got \(nl.errnoName)") }
            if let want = e.extack, !(nl.kernelMessage ?? "").contains(want) {
                diffs.append("extack: expected \(quoted(want)), got " + (nl.kernelMessage.map(quoted) ?? "none"))
            }
            if before != after {
                let gone = before.filter { !after.contains($0) }, new = after.filter { !before.contains($0) }
                diffs.append("state: changed (" + (gone.map { "- \($0)" } + new.map { "+ \($0)" }).joined(separator: ", ") + ")")
            }
            let text = "refused with \(nl.errnoName)" + (nl.kernelMessage.map { " (\(quoted($0)))" } ?? " (no extack)")
            return (diffs.isEmpty, text + (diffs.isEmpty ? ", lab unchanged" : " (differs: " + diffs.joined(separator: "; ") + ")"), false)
        }
        return (false, "the kernel accepted the change (the lab is changed now)", false)
    }
}

extension Lab {
    /// Reads the links' counters, checks the wrapped expectation, reads them again.
    func evaluateTrafficPath(_ e: TrafficPathExpectation) async throws -> (Bool, String, silent: Bool) {
        let node = try self.node(e.node)
        let names = e.through + e.notThrough
        func counts() throws -> [UInt64] {
            try names.map { n in let s = try node.link(n).stats ?? LinkStats(); return s.rxPackets + s.txPackets }
        }
        let before = try counts()
        let inner = await check(e.during)
        let after = try counts()
        let deltas = zip(after, before).map { $0 >= $1 ? $0 - $1 : 0 }
        var diffs: [String] = []
        if !inner.passed { diffs.append("the check failed: \(inner.observed)") }
        for (i, n) in names.enumerated() {
            let moving = i < e.through.count
            if moving && deltas[i] < e.minPackets { diffs.append("\(n): expected ≥\(e.minPackets) packets, got \(deltas[i])") }
            if !moving && deltas[i] >= e.minPackets { diffs.append("\(n): expected <\(e.minPackets) packets, got \(deltas[i])") }
        }
        let text = (inner.passed ? inner.observed + "; " : "")
            + zip(names, deltas).map { "\(e.node):\($0) +\($1)" }.joined(separator: ", ") + " packets"
        return (diffs.isEmpty, text + (diffs.isEmpty ? "" : " (differs: " + diffs.joined(separator: "; ") + ")"), inner.silent)
    }
}

extension Lab {
    func evaluateAddressCount(_ e: AddressCountExpectation) async throws -> (Bool, String, silent: Bool) {
        let node = try self.node(e.node)
        let index = try e.on.map { UInt32(bitPattern: try node.link($0).index) }
        let found = try node.addresses().filter { a in
            (index == nil || a.index == index) && (e.family.map { $0 == IPFamily(of: a.prefix.address) } ?? true)
                && (e.scope.map { $0.value == a.scope } ?? true)
        }
        let list = found.map { "\($0.prefix)" }.joined(separator: ", ")
        return (found.count == e.count, "\(found.count)" + (found.isEmpty ? "" : " (\(list))")
                + (found.count == e.count ? "" : " (differs: count: expected \(e.count), got \(found.count))"), false)
    }

    func evaluateAddressFlags(_ e: AddressFlagsExpectation) async throws -> (Bool, String, silent: Bool) {
        let node = try self.node(e.node)
        let index = UInt32(bitPattern: try node.link(e.on).index)
        let mine = try node.addresses().filter { $0.index == index }
        guard let a = mine.first(where: { $0.prefix == e.prefix }) else {
            return (false, "no \(e.prefix) on \(e.on) (it has " + (mine.isEmpty ? "no addresses" : mine.map { "\($0.prefix)" }.joined(separator: ", ")) + ")", false)
        }
        let names = AddressFlag.names(a.flags)
        var diffs: [String] = []
        for f in e.flags where a.flags & f.bit == 0 { diffs.append("\(f.rawValue): expected set, got unset") }
        for f in e.notFlags where a.flags & f.bit != 0 { diffs.append("\(f.rawValue): expected unset, got set") }
        return (diffs.isEmpty, "\(e.prefix) flags " + (names.isEmpty ? "(none)" : names.joined(separator: ", "))
                + (diffs.isEmpty ? "" : " (differs: " + diffs.joined(separator: "; ") + ")"), false)
    }
}

extension Lab {
    func evaluateFDB(_ e: FDBExpectation) async throws -> (Bool, String, silent: Bool) {
        let mac: MACAddress
        switch e.mac {
        case .address(let m): mac = m
        case let .of(n, i):
            guard let m = try self.node(n).link(i).mac else { return (false, "\(n):\(i) has no MAC address", false) }
            mac = m
        }
        let node = try self.node(e.node)
        let entries = try node.neighbors(family: 7).filter { $0.mac == mac }   // AF_BRIDGE
        func learned(_ n: NeighborInfo) -> Bool { n.state & (NDA.nudPermanent | 0x40) == 0 }   // not PERMANENT or NOARP
        func text(_ n: NeighborInfo) -> String {
            "\(mac) on \(node.interfaceName(n.index) ?? "\(n.index)")" + (n.address.map { " dst \($0)" } ?? "")
                + (learned(n) ? ", learned" : ", static")
        }
        let all = entries.map(text).joined(separator: "; ")
        if !e.present {
            let hits = entries.filter { n in e.port.map { node.interfaceName(n.index) == $0 } ?? true }
            return (hits.isEmpty, hits.isEmpty ? "no entry for \(mac)" + (all.isEmpty ? "" : " matching (has: \(all))") : "present: \(all)", false)
        }
        guard !entries.isEmpty else { return (false, "no entry for \(mac) (\(e.mac))", false) }
        func diffs(_ n: NeighborInfo) -> [String] {
            var d: [String] = []
            if let p = e.port, node.interfaceName(n.index) != p { d.append("port: expected \(p), got \(node.interfaceName(n.index) ?? "?")") }
            if let dst = e.dst, n.address != dst { d.append("dst: expected \(dst), got \(n.address.map { "\($0)" } ?? "none")") }
            if let l = e.learned, learned(n) != l { d.append("learned: expected \(l), got \(learned(n))") }
            return d
        }
        let best = entries.min { diffs($0).count < diffs($1).count }!
        let d = diffs(best)
        return (d.isEmpty, text(best) + (d.isEmpty ? "" : " (differs: " + d.joined(separator: "; ") + ")"), false)
    }
}
