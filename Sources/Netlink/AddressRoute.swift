// MARK: - Addresses

/// An interface address as the kernel reports it.
public struct AddressInfo: Sendable, Hashable {
    public var index: UInt32
    public var prefix: IPPrefix
    public var flags: UInt32
    public var scope: UInt8
    public var label: String?

    public var isTentative: Bool { flags & IFA.fTentative != 0 }
    public var isNoDAD: Bool { flags & IFA.fNoDAD != 0 }

    public init(index: UInt32, prefix: IPPrefix, flags: UInt32 = 0, scope: UInt8 = 0, label: String? = nil) {
        self.index = index; self.prefix = prefix; self.flags = flags; self.scope = scope; self.label = label
    }

    /// Decodes an `RTM_NEWADDR` body.
    public init(message m: NetlinkMessage) throws {
        let h = try IfAddrMsg(m.body)
        let attrs = try Attribute.parse(m.body.dropFirst(IfAddrMsg.size))
        // IFA_LOCAL is the local address on point-to-point links; IFA_ADDRESS otherwise.
        guard let a = attrs.first(IFA.local) ?? attrs.first(IFA.address) else {
            throw NetlinkDecodingError.malformed("address message without IFA_ADDRESS")
        }
        let ip = try a.ipAddress()
        guard Int(h.prefixLength) <= ip.bitWidth else {
            throw NetlinkDecodingError.malformed("prefix length \(h.prefixLength) too long for \(ip)")
        }
        index = h.index
        prefix = IPPrefix(ip, Int(h.prefixLength))
        flags = try attrs.first(IFA.flags)?.uint32() ?? UInt32(h.flags)
        scope = h.scope
        label = attrs.first(IFA.label)?.string()
    }
}

extension NetlinkRequest {
    /// Adds an address. Equivalent to `ip addr add PREFIX dev IFINDEX [nodad]`.
    public static func newAddress(index: Int32, _ p: IPPrefix, noDAD: Bool = false, replace: Bool = false,
                                  what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(IfAddrMsg(family: p.family, prefixLength: UInt8(p.length), index: UInt32(bitPattern: index)).bytes)
        w.put(IFA.local, p.address)
        w.put(IFA.address, p.address)
        if p.address.isIPv4 && p.length < 31 {
            // The broadcast address, as `ip addr add … brd +` sets it.
            let hostBits = 32 - p.length
            if case .v4(let v) = p.address {
                let mask: UInt32 = hostBits >= 32 ? ~0 : (UInt32(1) << UInt32(hostBits)) &- 1
                w.put(IFA.broadcast, IPAddress.v4(v | mask))
            }
        }
        var flags: UInt32 = 0
        if noDAD && p.address.isIPv6 { flags |= IFA.fNoDAD }
        if flags != 0 { w.put(IFA.flags, flags) }
        return NetlinkRequest(type: RTM.newAddr, flags: replace ? [.create, .replace, .ack] : [.create, .excl, .ack],
                              body: w, what: what ?? "adding \(p) to #\(index)")
    }

    /// Deletes an address. Equivalent to `ip addr del PREFIX dev IFINDEX`.
    public static func deleteAddress(index: Int32, _ p: IPPrefix, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(IfAddrMsg(family: p.family, prefixLength: UInt8(p.length), index: UInt32(bitPattern: index)).bytes)
        w.put(IFA.local, p.address)
        return NetlinkRequest(type: RTM.delAddr, flags: [.ack], body: w, what: what ?? "deleting \(p) from #\(index)")
    }

    /// Dumps addresses of one family (or all), optionally of one interface (strict-mode filter).
    public static func dumpAddresses(family: UInt8 = AF.unspec, index: Int32 = 0) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(IfAddrMsg(family: family, index: UInt32(bitPattern: index)).bytes)
        return NetlinkRequest(type: RTM.getAddr, flags: .dump, body: w, what: "listing addresses")
    }
}

// MARK: - Routes

/// One next hop of a multipath route (`struct rtnexthop` + `RTA_GATEWAY`).
public struct RouteNexthop: Sendable, Hashable {
    public var gateway: IPAddress?
    public var index: Int32
    /// 1…256.
    public var weight: Int
    public var flags: UInt8
    public init(gateway: IPAddress?, index: Int32, weight: Int = 1, flags: UInt8 = 0) {
        self.gateway = gateway; self.index = index; self.weight = weight; self.flags = flags
    }
}

/// A route, for adding, deleting, or as reported by the kernel.
public struct RouteInfo: Sendable, Hashable {
    public var family: UInt8
    /// nil means the default route.
    public var destination: IPPrefix?
    public var source: IPPrefix?
    public var gateway: IPAddress?
    public var outputIndex: Int32?
    public var inputIndex: Int32?
    public var table: UInt32 = RouteTable.main
    public var metric: UInt32?
    public var scope: RouteScope = .universe
    public var proto: UInt8 = RouteProtocol.boot
    public var type: RouteType = .unicast
    public var preferredSource: IPAddress?
    public var onlink = false
    public var nexthops: [RouteNexthop] = []
    public var mtu: UInt32?
    public var flags: UInt32 = 0
    public var tos: UInt8 = 0
    public var mark: UInt32?

    public init(family: UInt8, destination: IPPrefix? = nil, gateway: IPAddress? = nil, outputIndex: Int32? = nil) {
        self.family = family; self.destination = destination; self.gateway = gateway; self.outputIndex = outputIndex
    }

    /// Decodes an `RTM_NEWROUTE` body.
    public init(message m: NetlinkMessage) throws {
        let h = try RtMsg(m.body)
        family = h.family
        table = UInt32(h.table)
        scope = RouteScope(rawValue: h.scope) ?? .universe
        proto = h.proto
        type = RouteType(rawValue: h.type) ?? .unspec
        flags = h.flags
        tos = h.tos
        onlink = h.flags & RouteFlags.onlink != 0
        let attrs = try Attribute.parse(m.body.dropFirst(RtMsg.size))
        for a in attrs {
            switch a.type {
            case RTA.dst.raw:
                let ip = try a.ipAddress()
                destination = IPPrefix(ip, min(Int(h.dstLength), ip.bitWidth))
            case RTA.src.raw:
                let ip = try a.ipAddress()
                source = IPPrefix(ip, min(Int(h.srcLength), ip.bitWidth))
            case RTA.gateway.raw: gateway = try a.ipAddress()
            case RTA.oif.raw: outputIndex = try a.int32()
            case RTA.iif.raw: inputIndex = try a.int32()
            case RTA.priority.raw: metric = try a.uint32()
            case RTA.prefsrc.raw: preferredSource = try a.ipAddress()
            case RTA.table.raw: table = try a.uint32()
            case RTA.mark.raw: mark = try a.uint32()
            case RTA.metrics.raw:
                if let m = try a.nested().first(RTA.metricMTU) { mtu = try m.uint32() }
            case RTA.multipath.raw:
                nexthops = try Self.decodeMultipath(a.payload)
            default: break
            }
        }
        if destination == nil && h.dstLength > 0 {
            throw NetlinkDecodingError.malformed("route with prefix length \(h.dstLength) but no RTA_DST")
        }
    }

    static func decodeMultipath(_ p: ArraySlice<UInt8>) throws -> [RouteNexthop] {
        var out: [RouteNexthop] = []
        var i = p.startIndex
        while p.endIndex - i >= 8 {
            let len = Int(p.readLE(at: i) as UInt16)
            guard len >= 8, len <= p.endIndex - i else {
                throw NetlinkDecodingError.malformed("rtnexthop length \(len) invalid")
            }
            let flags = p[i + 2], hops = p[i + 3]
            let idx: Int32 = p.readLE(at: i + 4)
            let attrs = try Attribute.parse(p[(i + 8)..<(i + len)])
            let gw = try attrs.first(RTA.gateway)?.ipAddress()
            out.append(RouteNexthop(gateway: gw, index: idx, weight: Int(hops) + 1, flags: flags))
            i += min(NLA.align(len), p.endIndex - i)
        }
        return out
    }

    /// `default`, `10.0.0.0/24`, as `ip route` prints the destination.
    public var destinationText: String { destination.map { "\($0)" } ?? "default" }
}

extension NetlinkRequest {
    static func routeBody(_ r: RouteInfo, forAdd: Bool) -> AttributeWriter {
        var w = AttributeWriter()
        var flags = r.flags
        if r.onlink { flags |= RouteFlags.onlink }
        let scope: RouteScope
        if forAdd, r.scope == .universe, r.type == .unicast, r.gateway == nil, r.nexthops.isEmpty, r.outputIndex != nil {
            scope = .link // a device route, as `ip route add PREFIX dev X` chooses
        } else {
            scope = r.scope
        }
        w.appendHeader(RtMsg(family: r.family, dstLength: UInt8(r.destination?.length ?? 0),
                             srcLength: UInt8(r.source?.length ?? 0), tos: r.tos,
                             table: r.table < 256 ? UInt8(r.table) : UInt8(RouteTable.unspec),
                             proto: forAdd ? r.proto : 0, scope: forAdd ? scope.rawValue : RouteScope.nowhere.rawValue,
                             type: r.type.rawValue, flags: flags).bytes)
        if r.table >= 256 || forAdd { w.put(RTA.table, r.table) }
        if let d = r.destination { w.put(RTA.dst, d.address) }
        if let s = r.source { w.put(RTA.src, s.address) }
        if let g = r.gateway { w.put(RTA.gateway, g) }
        if let o = r.outputIndex { w.put(RTA.oif, UInt32(bitPattern: o)) }
        if let m = r.metric { w.put(RTA.priority, m) }
        if let p = r.preferredSource { w.put(RTA.prefsrc, p) }
        if let m = r.mtu { w.nest(RTA.metrics) { $0.put(RTA.metricMTU, m) } }
        if !r.nexthops.isEmpty {
            // RTA_MULTIPATH: a run of struct rtnexthop, each followed by its RTA_GATEWAY (no NLA_F_NESTED).
            var mp: [UInt8] = []
            for nh in r.nexthops {
                var inner = AttributeWriter()
                if let g = nh.gateway { inner.put(RTA.gateway, g) }
                let len = 8 + inner.bytes.count
                mp.appendLE(UInt16(len))
                mp.append(nh.flags | (r.onlink ? UInt8(RouteFlags.onlink) : 0))
                mp.append(UInt8(max(1, min(256, nh.weight)) - 1))
                mp.appendLE(nh.index)
                mp += inner.bytes
            }
            w.put(RTA.multipath, bytes: mp)
        }
        return w
    }

    /// Adds a route. Equivalent to `ip route add DEST [via GW] [dev D] [table T] [metric M] …`.
    public static func newRoute(_ r: RouteInfo, replace: Bool = false, what: String? = nil) -> NetlinkRequest {
        NetlinkRequest(type: RTM.newRoute, flags: replace ? [.create, .replace, .ack] : [.create, .excl, .ack],
                       body: routeBody(r, forAdd: true), what: what ?? "adding route \(r.destinationText)")
    }

    /// Deletes a route. Equivalent to `ip route del DEST [table T] …`.
    public static func deleteRoute(_ r: RouteInfo, what: String? = nil) -> NetlinkRequest {
        NetlinkRequest(type: RTM.delRoute, flags: [.ack], body: routeBody(r, forAdd: false),
                       what: what ?? "deleting route \(r.destinationText)")
    }

    /// Dumps routes of one family; with a table, the kernel filters (strict mode).
    public static func dumpRoutes(family: UInt8 = AF.unspec, table: UInt32? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(RtMsg(family: family, table: table.map { $0 < 256 ? UInt8($0) : 0 } ?? 0).bytes)
        if let t = table { w.put(RTA.table, t) }
        return NetlinkRequest(type: RTM.getRoute, flags: .dump, body: w, what: "listing routes")
    }

    /// A single route lookup, what `ip route get` does.
    /// - Parameters:
    ///   - fibMatch: return the whole matching route (`ip route get fibmatch`) instead of one resolved next hop.
    public static func routeLookup(_ q: RouteQuery) -> NetlinkRequest {
        var w = AttributeWriter()
        // RTM_F_LOOKUP_TABLE: report the table the route was found in (after policy rules),
        // not RT_TABLE_MAIN, so callers can check which table a rule steered the lookup to.
        w.appendHeader(RtMsg(family: q.destination.family, dstLength: UInt8(q.destination.bitWidth),
                             srcLength: q.source.map { UInt8($0.bitWidth) } ?? 0,
                             // RTM_F_LOOKUP_TABLE makes IPv4 report the table a rule chose; strict
                             // IPv6 rejects it ("ipv6: Invalid flags for get route request").
                             flags: (q.destination.isIPv4 ? RouteFlags.lookupTable : 0)
                                 | (q.fibMatch ? RouteFlags.fibMatch : 0)).bytes)
        w.put(RTA.dst, q.destination)
        if let s = q.source { w.put(RTA.src, s) }
        if let i = q.inputIndex { w.put(RTA.iif, UInt32(bitPattern: i)) }
        if let o = q.outputIndex { w.put(RTA.oif, UInt32(bitPattern: o)) }
        if let m = q.mark { w.put(RTA.mark, m) }
        if let p = q.ipProtocol { w.put(RTA.ipProto, p) }
        if let p = q.sourcePort { w.putBE(RTA.sport, p) }
        if let p = q.destinationPort { w.putBE(RTA.dport, p) }
        return NetlinkRequest(type: RTM.getRoute, flags: [], body: w,
                              what: "looking up the route to \(q.destination)")
    }
}

/// The input of a route lookup (`ip route get TO [from F] [iif I] [oif O] [mark M] [ipproto P] [sport S] [dport D]`).
public struct RouteQuery: Sendable, Hashable {
    public var destination: IPAddress
    public var source: IPAddress?
    public var inputIndex: Int32?
    public var outputIndex: Int32?
    public var mark: UInt32?
    public var ipProtocol: UInt8?
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    public var fibMatch: Bool
    public init(destination: IPAddress, source: IPAddress? = nil, inputIndex: Int32? = nil, outputIndex: Int32? = nil,
                mark: UInt32? = nil, ipProtocol: UInt8? = nil, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, fibMatch: Bool = false) {
        self.destination = destination; self.source = source; self.inputIndex = inputIndex
        self.outputIndex = outputIndex; self.mark = mark; self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort; self.destinationPort = destinationPort; self.fibMatch = fibMatch
    }
}

// MARK: - Rules

/// A policy-routing rule (`ip rule`).
public struct RuleInfo: Sendable, Hashable {
    public var family: UInt8
    public var priority: UInt32?
    public var source: IPPrefix?
    public var destination: IPPrefix?
    public var inputInterface: String?
    public var outputInterface: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32?
    public var table: UInt32 = RouteTable.main
    public var action: UInt8 = FRA.actToTbl

    public init(family: UInt8, priority: UInt32? = nil, source: IPPrefix? = nil, destination: IPPrefix? = nil,
                table: UInt32 = RouteTable.main) {
        self.family = family; self.priority = priority; self.source = source; self.destination = destination; self.table = table
    }

    public init(message m: NetlinkMessage) throws {
        let h = try FibRuleHdr(m.body)
        family = h.family
        action = h.action
        table = UInt32(h.table)
        priority = 0 // the kernel omits FRA_PRIORITY for priority 0 (the `local` rule)
        let attrs = try Attribute.parse(m.body.dropFirst(FibRuleHdr.size))
        for a in attrs {
            switch a.type {
            case FRA.priority.raw: priority = try a.uint32()
            case FRA.src.raw: let ip = try a.ipAddress(); source = IPPrefix(ip, min(Int(h.srcLength), ip.bitWidth))
            case FRA.dst.raw: let ip = try a.ipAddress(); destination = IPPrefix(ip, min(Int(h.dstLength), ip.bitWidth))
            case FRA.iifname.raw: inputInterface = a.string()
            case FRA.oifname.raw: outputInterface = a.string()
            case FRA.fwmark.raw: fwmark = try a.uint32()
            case FRA.fwmask.raw: fwmask = try a.uint32()
            case FRA.table.raw: table = try a.uint32()
            default: break
            }
        }
    }

    /// `from 10.1.1.1 lookup 100 pref 1000`, as `ip rule` prints it.
    public var summary: String {
        var s: [String] = []
        if let p = priority { s.append("\(p):") }
        s.append("from \(source.map { "\($0)" } ?? "all")")
        if let d = destination { s.append("to \(d)") }
        if let i = inputInterface { s.append("iif \(i)") }
        if let o = outputInterface { s.append("oif \(o)") }
        if let m = fwmark { s.append("fwmark 0x\(String(m, radix: 16))" + (fwmask.map { "/0x\(String($0, radix: 16))" } ?? "")) }
        switch action {
        case FRA.actToTbl: s.append("lookup \(table)")
        case FRA.actBlackhole: s.append("blackhole")
        case FRA.actUnreachable: s.append("unreachable")
        case FRA.actProhibit: s.append("prohibit")
        default: s.append("action \(action)")
        }
        return s.joined(separator: " ")
    }
}

extension NetlinkRequest {
    static func ruleBody(_ r: RuleInfo) -> AttributeWriter {
        var w = AttributeWriter()
        w.appendHeader(FibRuleHdr(family: r.family, dstLength: UInt8(r.destination?.length ?? 0),
                                  srcLength: UInt8(r.source?.length ?? 0),
                                  table: r.table < 256 ? UInt8(r.table) : 0, action: r.action).bytes)
        if let p = r.priority { w.put(FRA.priority, p) }
        if let s = r.source { w.put(FRA.src, s.address) }
        if let d = r.destination { w.put(FRA.dst, d.address) }
        if let i = r.inputInterface { w.put(FRA.iifname, i) }
        if let o = r.outputInterface { w.put(FRA.oifname, o) }
        if let m = r.fwmark { w.put(FRA.fwmark, m) }
        if let m = r.fwmask { w.put(FRA.fwmask, m) }
        if r.action == FRA.actToTbl { w.put(FRA.table, r.table) }
        return w
    }

    /// Adds a rule. Equivalent to `ip rule add [from F] [to T] [iif I] [oif O] [fwmark M] lookup TABLE [pref P]`.
    public static func newRule(_ r: RuleInfo, what: String? = nil) -> NetlinkRequest {
        NetlinkRequest(type: RTM.newRule, flags: [.create, .excl, .ack], body: ruleBody(r),
                       what: what ?? "adding rule \(r.summary)")
    }
    /// Deletes a rule. Equivalent to `ip rule del …`.
    public static func deleteRule(_ r: RuleInfo, what: String? = nil) -> NetlinkRequest {
        NetlinkRequest(type: RTM.delRule, flags: [.ack], body: ruleBody(r), what: what ?? "deleting rule \(r.summary)")
    }
    /// Dumps rules of one family.
    public static func dumpRules(family: UInt8) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(FibRuleHdr(family: family).bytes)
        return NetlinkRequest(type: RTM.getRule, flags: .dump, body: w, what: "listing rules")
    }
}

// MARK: - Neighbours and the bridge FDB

/// A neighbour entry (`ip neigh`) or a bridge FDB entry (`bridge fdb`).
public struct NeighborInfo: Sendable, Hashable {
    public var family: UInt8
    public var index: Int32
    public var address: IPAddress?
    public var mac: MACAddress?
    public var state: UInt16
    public var flags: UInt8
    public var master: Int32?
    public var vlan: UInt16?

    public init(family: UInt8, index: Int32, address: IPAddress?, mac: MACAddress?, state: UInt16 = NDA.nudPermanent, flags: UInt8 = 0) {
        self.family = family; self.index = index; self.address = address; self.mac = mac; self.state = state; self.flags = flags
    }

    public init(message m: NetlinkMessage) throws {
        let h = try NdMsg(m.body)
        family = h.family; index = h.index; state = h.state; flags = h.flags
        let attrs = try Attribute.parse(m.body.dropFirst(NdMsg.size))
        for a in attrs {
            switch a.type {
            case NDA.dst.raw: address = try a.ipAddress()
            case NDA.lladdr.raw: if a.payload.count == 6 { mac = try a.macAddress() }
            case NDA.master.raw: master = try a.int32()
            case NDA.vlan.raw: vlan = try a.uint16()
            default: break
            }
        }
    }

    /// "PERMANENT", "REACHABLE", … as `ip neigh` prints the state.
    public var stateName: String {
        let names: [(UInt16, String)] = [(NDA.nudIncomplete, "INCOMPLETE"), (NDA.nudReachable, "REACHABLE"),
                                         (NDA.nudStale, "STALE"), (NDA.nudDelay, "DELAY"), (NDA.nudProbe, "PROBE"),
                                         (NDA.nudFailed, "FAILED"), (NDA.nudNoARP, "NOARP"), (NDA.nudPermanent, "PERMANENT")]
        let s = names.filter { state & $0.0 != 0 }.map(\.1)
        return s.isEmpty ? "NONE" : s.joined(separator: ",")
    }
}

extension NetlinkRequest {
    /// Adds a permanent neighbour. Equivalent to `ip neigh add IP lladdr MAC dev IFINDEX nud permanent`.
    public static func newNeighbor(_ n: NeighborInfo, replace: Bool = false, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(NdMsg(family: n.family, index: n.index, state: n.state, flags: n.flags).bytes)
        if let a = n.address { w.put(NDA.dst, a) }
        if let m = n.mac { w.put(NDA.lladdr, m) }
        if let v = n.vlan { w.put(NDA.vlan, v) }
        return NetlinkRequest(type: RTM.newNeigh, flags: replace ? [.create, .replace, .ack] : [.create, .excl, .ack],
                              body: w, what: what ?? "adding neighbour \(n.address.map { "\($0)" } ?? n.mac.map { "\($0)" } ?? "?")")
    }

    /// Dumps neighbours of a family (`AF.bridge` dumps the bridge FDB, as `bridge fdb show`).
    public static func dumpNeighbors(family: UInt8) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(NdMsg(family: family).bytes)
        return NetlinkRequest(type: RTM.getNeigh, flags: .dump, body: w,
                              what: family == AF.bridge ? "listing the bridge FDB" : "listing neighbours")
    }
}
