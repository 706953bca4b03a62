// MARK: - Addresses

/// An interface address as the kernel reports it.
public struct AddressInfo: Sendable, Hashable {
    /// The interface index (`ifa_index`).
    public var index: UInt32
    /// The address and its prefix length.
    public var prefix: IPPrefix
    /// The `IFA_F_*` flags (from `IFA_FLAGS` when present, which holds all 32 bits).
    public var flags: UInt32
    /// The scope (`ifa_scope`, an `RT_SCOPE_*` value).
    public var scope: UInt8
    /// The label (`IFA_LABEL`), IPv4 only.
    public var label: String?

    /// True while duplicate address detection runs on the address (`IFA_F_TENTATIVE`).
    public var isTentative: Bool { flags & IFA.fTentative != 0 }
    /// True when the address skips duplicate address detection (`IFA_F_NODAD`).
    public var isNoDAD: Bool { flags & IFA.fNoDAD != 0 }

    /// An address with these values.
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
    /// Adds an address. Equivalent to `ip addr add PREFIX dev IFINDEX [nodad] [noprefixroute] [metric M]`.
    ///
    /// - Parameters:
    ///   - noPrefixRoute: add no route to the prefix (`IFA_F_NOPREFIXROUTE`).
    ///   - metric: the metric of the prefix route (`IFA_RT_PRIORITY`).
    public static func newAddress(index: Int32, _ p: IPPrefix, noDAD: Bool = false, noPrefixRoute: Bool = false,
                                  metric: UInt32? = nil, replace: Bool = false, what: String? = nil) -> NetlinkRequest {
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
        if noPrefixRoute { flags |= IFA.fNoPrefixRoute }
        if flags != 0 { w.put(IFA.flags, flags) }
        if let metric { w.put(IFA.rtPriority, metric) }
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
    /// The next hop's gateway, if any.
    public var gateway: IPAddress?
    /// The next hop's output interface index (`rtnh_ifindex`).
    public var index: Int32
    /// 1…256.
    public var weight: Int
    /// The `RTNH_F_*` flags (`rtnh_flags`).
    public var flags: UInt8
    /// A next hop with these values.
    public init(gateway: IPAddress?, index: Int32, weight: Int = 1, flags: UInt8 = 0) {
        self.gateway = gateway; self.index = index; self.weight = weight; self.flags = flags
    }
}

/// A route, for adding, deleting, or as reported by the kernel.
public struct RouteInfo: Sendable, Hashable {
    /// `AF_INET` or `AF_INET6`.
    public var family: UInt8
    /// nil means the default route.
    public var destination: IPPrefix?
    /// The source prefix (`RTA_SRC`), for source-specific routes.
    public var source: IPPrefix?
    /// The gateway (`RTA_GATEWAY`, or `RTA_VIA` for an IPv6 gateway of an IPv4 route).
    public var gateway: IPAddress?
    /// The output interface index (`RTA_OIF`).
    public var outputIndex: Int32?
    /// The input interface index (`RTA_IIF`).
    public var inputIndex: Int32?
    /// The routing table (`RTA_TABLE`); `main` by default.
    public var table: UInt32 = RouteTable.main
    /// The metric (`RTA_PRIORITY`).
    public var metric: UInt32?
    /// The scope (`rtm_scope`).
    public var scope: RouteScope = .universe
    /// The origin (`rtm_protocol`, an `RTPROT_*` value); `boot` by default.
    public var proto: UInt8 = RouteProtocol.boot
    /// The route type (`rtm_type`).
    public var type: RouteType = .unicast
    /// The preferred source address (`RTA_PREFSRC`).
    public var preferredSource: IPAddress?
    /// Use the gateway even if no connected subnet contains it (`RTNH_F_ONLINK`).
    public var onlink = false
    /// The next hops of a multipath route (`RTA_MULTIPATH`); empty otherwise.
    public var nexthops: [RouteNexthop] = []
    /// The path MTU (`RTAX_MTU`).
    public var mtu: UInt32?
    /// The advertised MSS (`RTAX_ADVMSS`).
    public var advmss: UInt32?
    /// The `RTM_F_*` flags (`rtm_flags`).
    public var flags: UInt32 = 0
    /// The TOS byte (`rtm_tos`).
    public var tos: UInt8 = 0
    /// The firewall mark (`RTA_MARK`).
    public var mark: UInt32?

    /// A route with these values and the defaults of the others.
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
            case RTA.via.raw: gateway = try Self.decodeVia(a.payload)
            case RTA.oif.raw: outputIndex = try a.int32()
            case RTA.iif.raw: inputIndex = try a.int32()
            case RTA.priority.raw: metric = try a.uint32()
            case RTA.prefsrc.raw: preferredSource = try a.ipAddress()
            case RTA.table.raw: table = try a.uint32()
            case RTA.mark.raw: mark = try a.uint32()
            case RTA.metrics.raw:
                let metrics = try a.nested()
                if let m = metrics.first(RTA.metricMTU) { mtu = try m.uint32() }
                if let m = metrics.first(RTA.metricAdvMSS) { advmss = try m.uint32() }
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
            let gw = try attrs.first(RTA.gateway)?.ipAddress() ?? attrs.first(RTA.via).map { try decodeVia($0.payload) }
            out.append(RouteNexthop(gateway: gw, index: idx, weight: Int(hops) + 1, flags: flags))
            i += min(NLA.align(len), p.endIndex - i)
        }
        return out
    }

    /// `struct rtvia`: the gateway's family (host order) and its address.
    static func decodeVia(_ p: ArraySlice<UInt8>) throws -> IPAddress {
        guard p.count >= 2 else { throw NetlinkDecodingError.malformed("RTA_VIA of \(p.count) bytes") }
        let family: UInt16 = p.readLE(at: p.startIndex)
        let address = Array(p.dropFirst(2))
        guard let a = IPAddress(bytes: address), UInt16(a.family) == family else {
            throw NetlinkDecodingError.malformed("RTA_VIA of family \(family) with \(address.count) address bytes")
        }
        return a
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
        if let g = r.gateway { putGateway(&w, g, family: r.family) }
        if let o = r.outputIndex { w.put(RTA.oif, UInt32(bitPattern: o)) }
        if let m = r.metric { w.put(RTA.priority, m) }
        if let p = r.preferredSource { w.put(RTA.prefsrc, p) }
        if r.mtu != nil || r.advmss != nil {
            w.nest(RTA.metrics) {
                if let m = r.mtu { $0.put(RTA.metricMTU, m) }
                if let m = r.advmss { $0.put(RTA.metricAdvMSS, m) }
            }
        }
        if !r.nexthops.isEmpty {
            // RTA_MULTIPATH: a run of struct rtnexthop, each followed by its RTA_GATEWAY (no NLA_F_NESTED).
            var mp: [UInt8] = []
            for nh in r.nexthops {
                var inner = AttributeWriter()
                if let g = nh.gateway { putGateway(&inner, g, family: r.family) }
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

    /// A gateway of the route's family as `RTA_GATEWAY`; one of the other family (an IPv4 route
    /// via an IPv6 gateway, RFC 5549) as `RTA_VIA`, which carries its family.
    static func putGateway(_ w: inout AttributeWriter, _ g: IPAddress, family: UInt8) {
        if g.family == family { w.put(RTA.gateway, g); return }
        var via: [UInt8] = []
        via.appendLE(UInt16(g.family))
        w.put(RTA.via, bytes: via + g.bytes)
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
                             srcLength: q.source.map { UInt8($0.bitWidth) } ?? 0, tos: q.tos ?? 0,
                             // RTM_F_LOOKUP_TABLE makes IPv4 report the table a rule chose; strict
                             // IPv6 rejects it ("ipv6: Invalid flags for get route request").
                             flags: (q.destination.isIPv4 ? RouteFlags.lookupTable : 0)
                                 | (q.fibMatch ? RouteFlags.fibMatch : 0)).bytes)
        w.put(RTA.dst, q.destination)
        if let s = q.source { w.put(RTA.src, s) }
        if let i = q.inputIndex { w.put(RTA.iif, UInt32(bitPattern: i)) }
        if let o = q.outputIndex { w.put(RTA.oif, UInt32(bitPattern: o)) }
        if let m = q.mark { w.put(RTA.mark, m) }
        if let u = q.uid { w.put(RTA.uid, u) }
        if let p = q.ipProtocol { w.put(RTA.ipProto, p) }
        if let p = q.sourcePort { w.putBE(RTA.sport, p) }
        if let p = q.destinationPort { w.putBE(RTA.dport, p) }
        return NetlinkRequest(type: RTM.getRoute, flags: [], body: w,
                              what: "looking up the route to \(q.destination)")
    }
}

/// The input of a route lookup (`ip route get TO [from F] [iif I] [oif O] [mark M] [tos T] [uid U] [ipproto P] [sport S] [dport D]`).
public struct RouteQuery: Sendable, Hashable {
    /// The address looked up.
    public var destination: IPAddress
    /// The packet's source address (`from`).
    public var source: IPAddress?
    /// The index of the interface the packet arrives on (`iif`).
    public var inputIndex: Int32?
    /// The index of the output interface (`oif`).
    public var outputIndex: Int32?
    /// The firewall mark (`mark`).
    public var mark: UInt32?
    /// The IP protocol number (`ipproto`).
    public var ipProtocol: UInt8?
    /// The TOS byte (`tos`, `rtm_tos`; DSCP is its upper six bits).
    public var tos: UInt8?
    /// The UID of the socket the packet would come from (`uid`, `RTA_UID`), for `uidrange` rules.
    public var uid: UInt32?
    /// The transport source port (`sport`).
    public var sourcePort: UInt16?
    /// The transport destination port (`dport`).
    public var destinationPort: UInt16?
    /// Return the whole matching route (`fibmatch`) instead of one resolved next hop.
    public var fibMatch: Bool
    /// A lookup with these inputs.
    public init(destination: IPAddress, source: IPAddress? = nil, inputIndex: Int32? = nil, outputIndex: Int32? = nil,
                mark: UInt32? = nil, ipProtocol: UInt8? = nil, sourcePort: UInt16? = nil,
                destinationPort: UInt16? = nil, fibMatch: Bool = false, tos: UInt8? = nil, uid: UInt32? = nil) {
        self.tos = tos; self.uid = uid
        self.destination = destination; self.source = source; self.inputIndex = inputIndex
        self.outputIndex = outputIndex; self.mark = mark; self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort; self.destinationPort = destinationPort; self.fibMatch = fibMatch
    }
}

// MARK: - Rules

/// A policy-routing rule (`ip rule`).
public struct RuleInfo: Sendable, Hashable {
    /// `AF_INET` or `AF_INET6`.
    public var family: UInt8
    /// The priority (`FRA_PRIORITY`); the kernel picks one when nil.
    public var priority: UInt32?
    /// The source prefix to match (`FRA_SRC`).
    public var source: IPPrefix?
    /// The destination prefix to match (`FRA_DST`).
    public var destination: IPPrefix?
    /// The input interface name to match (`FRA_IIFNAME`).
    public var inputInterface: String?
    /// The output interface name to match (`FRA_OIFNAME`).
    public var outputInterface: String?
    /// The firewall mark to match (`FRA_FWMARK`).
    public var fwmark: UInt32?
    /// The mask of the mark (`FRA_FWMASK`).
    public var fwmask: UInt32?
    /// The table a `lookup` rule uses (`FRA_TABLE`); `main` by default.
    public var table: UInt32 = RouteTable.main
    /// The action (`FR_ACT_*`); `lookup` by default.
    public var action: UInt8 = FRA.actToTbl
    /// The TOS byte to match (in `fib_rule_hdr`).
    public var tos: UInt8 = 0
    /// The priority of the rule a `goto` rule jumps to (`FRA_GOTO`).
    public var gotoTarget: UInt32?
    /// Ignore lookup results with a prefix length of this or less (`FRA_SUPPRESS_PREFIXLEN`).
    public var suppressPrefixLength: UInt32?
    /// The IP protocol number to match (`FRA_IP_PROTO`).
    public var ipProtocol: UInt8?
    /// Inclusive ranges, `FRA_SPORT_RANGE`/`FRA_DPORT_RANGE`/`FRA_UID_RANGE`.
    public var sourcePorts: ClosedRange<UInt16>?
    /// See ``sourcePorts``.
    public var destinationPorts: ClosedRange<UInt16>?
    /// See ``sourcePorts``.
    public var uids: ClosedRange<UInt32>?
    /// Look up the table of the VRF the packet belongs to (`FRA_L3MDEV`).
    public var l3mdev = false

    /// A rule with these values and the defaults of the others.
    public init(family: UInt8, priority: UInt32? = nil, source: IPPrefix? = nil, destination: IPPrefix? = nil,
                table: UInt32 = RouteTable.main) {
        self.family = family; self.priority = priority; self.source = source; self.destination = destination; self.table = table
    }

    /// Decodes an `RTM_NEWRULE` message.
    public init(message m: NetlinkMessage) throws {
        let h = try FibRuleHdr(m.body)
        family = h.family
        action = h.action
        table = UInt32(h.table)
        tos = h.tos
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
            case FRA.goto.raw: gotoTarget = try a.uint32()
            case FRA.suppressPrefixlen.raw: suppressPrefixLength = try a.uint32()
            case FRA.ipProto.raw: ipProtocol = try a.uint8()
            case FRA.l3mdev.raw: l3mdev = try a.uint8() != 0
            case FRA.sportRange.raw: sourcePorts = try Self.range16(a.payload)
            case FRA.dportRange.raw: destinationPorts = try Self.range16(a.payload)
            case FRA.uidRange.raw:
                guard a.payload.count >= 8 else { throw NetlinkDecodingError.malformed("FRA_UID_RANGE of \(a.payload.count) bytes") }
                let lo: UInt32 = a.payload.readLE(at: a.payload.startIndex), hi: UInt32 = a.payload.readLE(at: a.payload.startIndex + 4)
                guard lo <= hi else { throw NetlinkDecodingError.malformed("FRA_UID_RANGE \(lo)-\(hi)") }
                uids = lo...hi
            default: break
            }
        }
    }

    /// `struct fib_rule_port_range`: start and end, host order.
    static func range16(_ p: ArraySlice<UInt8>) throws -> ClosedRange<UInt16> {
        guard p.count >= 4 else { throw NetlinkDecodingError.malformed("port range of \(p.count) bytes") }
        let lo: UInt16 = p.readLE(at: p.startIndex), hi: UInt16 = p.readLE(at: p.startIndex + 2)
        guard lo <= hi else { throw NetlinkDecodingError.malformed("port range \(lo)-\(hi)") }
        return lo...hi
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
        if tos != 0 { s.append("tos 0x\(String(tos, radix: 16))") }
        if let u = uids, u != 0...UInt32.max { s.append("uidrange \(u.lowerBound)-\(u.upperBound)") }
        if let p = ipProtocol, p != 0 { s.append("ipproto \(p)") }
        func ports(_ r: ClosedRange<UInt16>) -> String { r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)" }
        if let p = sourcePorts { s.append("sport \(ports(p))") }
        if let p = destinationPorts { s.append("dport \(ports(p))") }
        switch action {
        case FRA.actToTbl: s.append(l3mdev ? "lookup [l3mdev-table]" : "lookup \(table)")
        case FRA.actGoto: s.append("goto \(gotoTarget ?? 0)")
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
                                  srcLength: UInt8(r.source?.length ?? 0), tos: r.tos,
                                  table: r.action == FRA.actToTbl && r.table < 256 && !r.l3mdev ? UInt8(r.table) : 0, action: r.action).bytes)
        if let p = r.priority { w.put(FRA.priority, p) }
        if let s = r.source { w.put(FRA.src, s.address) }
        if let d = r.destination { w.put(FRA.dst, d.address) }
        if let i = r.inputInterface { w.put(FRA.iifname, i) }
        if let o = r.outputInterface { w.put(FRA.oifname, o) }
        if let m = r.fwmark { w.put(FRA.fwmark, m) }
        if let m = r.fwmask { w.put(FRA.fwmask, m) }
        if r.action == FRA.actToTbl && !r.l3mdev { w.put(FRA.table, r.table) }
        if r.l3mdev { w.put(FRA.l3mdev, UInt8(1)) }
        if let g = r.gotoTarget { w.put(FRA.goto, g) }
        if let n = r.suppressPrefixLength { w.put(FRA.suppressPrefixlen, n) }
        if let p = r.ipProtocol { w.put(FRA.ipProto, p) }
        func range(_ t: AttrType, _ r: ClosedRange<UInt16>?) {
            guard let r else { return }
            var b: [UInt8] = []
            b.appendLE(r.lowerBound)
            b.appendLE(r.upperBound)
            w.put(t, bytes: b)
        }
        range(FRA.sportRange, r.sourcePorts)
        range(FRA.dportRange, r.destinationPorts)
        if let u = r.uids {
            var b: [UInt8] = []
            b.appendLE(u.lowerBound)
            b.appendLE(u.upperBound)
            w.put(FRA.uidRange, bytes: b)
        }
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
    /// `AF_INET`, `AF_INET6`, or `AF_BRIDGE` for an FDB entry.
    public var family: UInt8
    /// The interface index (`ndm_ifindex`).
    public var index: Int32
    /// The neighbour's IP address (`NDA_DST`); nil for an FDB entry without one.
    public var address: IPAddress?
    /// The link-layer address (`NDA_LLADDR`).
    public var mac: MACAddress?
    /// The `NUD_*` state bits (`ndm_state`).
    public var state: UInt16
    /// The `NTF_*` flags (`ndm_flags`).
    public var flags: UInt8
    /// The bridge's interface index (`NDA_MASTER`), for FDB entries.
    public var master: Int32?
    /// The VLAN (`NDA_VLAN`), for FDB entries.
    public var vlan: UInt16?

    /// An entry with these values; permanent by default.
    public init(family: UInt8, index: Int32, address: IPAddress?, mac: MACAddress?, state: UInt16 = NDA.nudPermanent, flags: UInt8 = 0) {
        self.family = family; self.index = index; self.address = address; self.mac = mac; self.state = state; self.flags = flags
    }

    /// Decodes an `RTM_NEWNEIGH` message.
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
