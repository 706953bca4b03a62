import Netlink
import Testing

/// encode → NetlinkMessage.parse → typed decoder gives back what was encoded.
@Suite struct RoundTripTests {
    @Test func link() throws {
        let spec = LinkSpec(name: "br-x", kind: .bridge(stp: false), mtu: 9000, mac: MACAddress("02:00:00:00:00:01")!,
                            up: true, master: 4, alias: "lab bridge")
        let m = try single(NetlinkRequest.newLink(spec).encoded(sequence: 77))
        #expect(m.type == RTM.newLink)
        #expect(m.sequence == 77)
        #expect(m.flags.contains([.request, .ack, .create, .excl]))
        let info = try LinkInfo(message: m)
        #expect(info.name == "br-x")
        #expect(info.mtu == 9000)
        #expect(info.mac == MACAddress("02:00:00:00:00:01"))
        #expect(info.master == 4)
        #expect(info.alias == "lab bridge")
        #expect(info.kind == "bridge")
        #expect(info.isUp)
        #expect(info.stats == nil)
    }

    @Test func linkStats64() throws {
        // A kernel-style RTM_NEWLINK with IFLA_STATS64: ten u64 counters in order.
        let counters: [UInt64] = [11, 12, 1300, 1400, 1, 2, 3, 4, 5, 6]
        var body = IfInfoMsg(family: AF.unspec, index: 5, flags: [.up, .running, .lowerUp]).bytes
        body += rawAttr(IFLA.ifname.raw, Array("v0".utf8) + [0])
        body += rawAttr(IFLA.stats64.raw, counters.flatMap(le64) + [UInt8](repeating: 0, count: 8 * 14))
        body += rawAttr(IFLA.operstate.raw, [6])
        body += rawAttr(IFLA.linkinfo.raw, rawAttr(IFLA.infoKind.raw, Array("veth".utf8) + [0]))
        body += rawAttr(IFLA.propList.raw | NLA.nested, rawAttr(IFLA.altIfname.raw, Array("long-name".utf8) + [0]))
        let info = try LinkInfo(message: single(rawMessage(type: RTM.newLink, body: body)))
        let s = try #require(info.stats)
        #expect([s.rxPackets, s.txPackets, s.rxBytes, s.txBytes, s.rxErrors, s.txErrors,
                 s.rxDropped, s.txDropped, s.multicast, s.collisions] == counters)
        #expect(info.index == 5)
        #expect(info.operStateName == "UP")
        #expect(info.kind == "veth")
        #expect(info.altNames == ["long-name"])
    }

    @Test func addresses() throws {
        for (text, nodad) in [("10.0.1.2/24", false), ("192.168.7.1/32", false), ("fd00::1/64", true), ("2001:db8::5/128", false)] {
            let p = try #require(IPPrefix(text))
            let m = try single(NetlinkRequest.newAddress(index: 9, p, noDAD: nodad).encoded(sequence: 1))
            let a = try AddressInfo(message: m)
            #expect(a.prefix == p, "\(text)")
            #expect(a.index == 9)
            #expect(a.isNoDAD == nodad)
        }
        let del = try single(NetlinkRequest.deleteAddress(index: 9, IPPrefix("10.0.1.2/24")!).encoded(sequence: 1))
        #expect(del.type == RTM.delAddr)
        #expect(try AddressInfo(message: del).prefix == IPPrefix("10.0.1.2/24"))
    }

    @Test func routes() throws {
        var r = RouteInfo(family: AF.inet6, destination: IPPrefix("fd10::/64")!)
        r.nexthops = [RouteNexthop(gateway: IPAddress("fe80::1")!, index: 3, weight: 1),
                      RouteNexthop(gateway: IPAddress("fe80::2")!, index: 4, weight: 256)]
        r.table = 100
        r.metric = 42
        r.preferredSource = IPAddress("fd00::9")
        r.mtu = 1280
        let d = try RouteInfo(message: single(NetlinkRequest.newRoute(r).encoded(sequence: 1)))
        #expect(d.destination == r.destination)
        #expect(d.nexthops == r.nexthops)
        #expect(d.table == 100)
        #expect(d.metric == 42)
        #expect(d.preferredSource == IPAddress("fd00::9"))
        #expect(d.mtu == 1280)
        #expect(d.type == .unicast)

        var bh = RouteInfo(family: AF.inet, destination: IPPrefix("10.66.0.0/16")!)
        bh.type = .blackhole
        let b = try RouteInfo(message: single(NetlinkRequest.newRoute(bh).encoded(sequence: 1)))
        #expect(b.type == .blackhole)
        #expect(b.destinationText == "10.66.0.0/16")

        var onlink = RouteInfo(family: AF.inet, destination: nil, gateway: IPAddress("192.0.2.1")!, outputIndex: 2)
        onlink.onlink = true
        let o = try RouteInfo(message: single(NetlinkRequest.newRoute(onlink).encoded(sequence: 1)))
        #expect(o.onlink)
        #expect(o.destinationText == "default")
        #expect(o.gateway == IPAddress("192.0.2.1"))
        #expect(o.outputIndex == 2)
    }

    @Test func weightsAreClampedToTheWireRange() throws {
        var r = RouteInfo(family: AF.inet, destination: IPPrefix("10.9.0.0/16")!)
        r.nexthops = [RouteNexthop(gateway: IPAddress("10.0.1.2")!, index: 3, weight: 0),
                      RouteNexthop(gateway: IPAddress("10.0.2.2")!, index: 4, weight: 1000)]
        let d = try RouteInfo(message: single(NetlinkRequest.newRoute(r).encoded(sequence: 1)))
        #expect(d.nexthops.map(\.weight) == [1, 256])
    }

    @Test func rules() throws {
        var rule = RuleInfo(family: AF.inet, priority: 1000, source: IPPrefix("10.1.0.0/16")!,
                            destination: IPPrefix("10.2.3.0/24")!, table: 100)
        rule.inputInterface = "veth0"
        rule.outputInterface = "veth1"
        rule.fwmark = 0x10
        rule.fwmask = 0xff
        let d = try RuleInfo(message: single(NetlinkRequest.newRule(rule).encoded(sequence: 1)))
        #expect(d == rule)
        #expect(d.summary == "1000: from 10.1.0.0/16 to 10.2.3.0/24 iif veth0 oif veth1 fwmark 0x10/0xff lookup 100")
    }

    @Test func rulesWithTheFullSelector() throws {
        var rule = RuleInfo(family: AF.inet, priority: 120, table: 100)
        rule.tos = 0x10
        rule.ipProtocol = 6
        rule.sourcePorts = 1000...2000
        rule.destinationPorts = 80...80
        rule.uids = 100...200
        rule.suppressPrefixLength = 0
        let d = try RuleInfo(message: single(NetlinkRequest.newRule(rule).encoded(sequence: 1)))
        #expect(d == rule)
        var jump = RuleInfo(family: AF.inet, priority: 130)
        jump.action = FRA.actGoto
        jump.gotoTarget = 200
        let j = try RuleInfo(message: single(NetlinkRequest.newRule(jump).encoded(sequence: 1)))
        #expect(j.gotoTarget == 200 && j.summary == "130: from all goto 200")
        var vrf = RuleInfo(family: AF.inet, priority: 1000)
        vrf.l3mdev = true
        let v = try RuleInfo(message: single(NetlinkRequest.newRule(vrf).encoded(sequence: 1)))
        #expect(v.l3mdev && v.summary == "1000: from all lookup [l3mdev-table]")
    }

    /// An IPv4 route via an IPv6 gateway goes out as RTA_VIA (family, then address), with its metrics.
    @Test func ipv4RouteViaAnIPv6Gateway() throws {
        var r = RouteInfo(family: AF.inet, destination: IPPrefix("10.30.0.0/24")!, gateway: IPAddress("fe80::1")!, outputIndex: 2)
        r.mtu = 1400
        r.advmss = 1360
        r.nexthops = []
        let bytes = NetlinkRequest.newRoute(r).encoded(sequence: 1)
        let m = try single(bytes)
        let attrs = try Attribute.parse(m.body.dropFirst(RtMsg.size))
        #expect(attrs.first(RTA.gateway) == nil)
        let via = try #require(attrs.first(RTA.via))
        #expect(Array(via.payload) == [UInt8(AF.inet6), 0] + IPAddress("fe80::1")!.bytes)
        let d = try RouteInfo(message: m)
        #expect(d.gateway == IPAddress("fe80::1") && d.mtu == 1400 && d.advmss == 1360)
    }

    @Test func neighbours() throws {
        var n = NeighborInfo(family: AF.inet, index: 4, address: IPAddress("10.0.0.9")!, mac: MACAddress("02:aa:bb:cc:dd:ee")!)
        n.vlan = 10
        let d = try NeighborInfo(message: single(NetlinkRequest.newNeighbor(n).encoded(sequence: 1)))
        #expect(d == n)
        #expect(d.stateName == "PERMANENT")
        let fdb = NeighborInfo(family: AF.bridge, index: 4, address: nil, mac: MACAddress("02:aa:bb:cc:dd:ee")!,
                               state: NDA.nudReachable | NDA.nudStale)
        let f = try NeighborInfo(message: single(NetlinkRequest.newNeighbor(fdb).encoded(sequence: 1)))
        #expect(f.address == nil)
        #expect(f.stateName == "REACHABLE,STALE")
    }

    @Test func routeLookupRequest() throws {
        let q = RouteQuery(destination: IPAddress("10.9.1.1")!, source: IPAddress("10.0.1.1")!, mark: 7,
                           ipProtocol: 17, sourcePort: 1000, destinationPort: 53, fibMatch: true)
        let m = try single(NetlinkRequest.routeLookup(q).encoded(sequence: 1))
        let h = try RtMsg(m.body)
        #expect(h.dstLength == 32 && h.srcLength == 32)
        #expect(h.flags == RouteFlags.fibMatch | RouteFlags.lookupTable)
        let attrs = try Attribute.parse(m.body.dropFirst(RtMsg.size))
        #expect(try attrs.first(RTA.dport)?.uint16BE() == 53)
        #expect(try attrs.first(RTA.sport)?.uint16BE() == 1000)
        #expect(try attrs.first(RTA.ipProto)?.uint8() == 17)
        #expect(try attrs.first(RTA.mark)?.uint32() == 7)
        #expect(m.flags == .request) // a get: no ACK, no DUMP
    }

    @Test func dumpRequestsCarryStrictFilters() throws {
        let m = try single(NetlinkRequest.dumpRoutes(family: AF.inet, table: 1000).encoded(sequence: 1))
        #expect(m.flags == [.request, .root, .match])
        #expect(try Attribute.parse(m.body.dropFirst(RtMsg.size)).first(RTA.table)?.uint32() == 1000)
        let l = try single(NetlinkRequest.dumpLinks(master: 3, kind: "veth").encoded(sequence: 1))
        let la = try Attribute.parse(l.body.dropFirst(IfInfoMsg.size))
        #expect(try la.first(IFLA.master)?.uint32() == 3)
        #expect(try la.first(IFLA.linkinfo)?.nested().first(IFLA.infoKind)?.string() == "veth")
    }

    @Test func severalMessagesInOneDatagram() throws {
        var dgram: [UInt8] = []
        NetlinkRequest.newAddress(index: 1, IPPrefix("10.0.0.1/8")!).encode(into: &dgram, sequence: 5)
        NetlinkRequest.deleteLink(name: "x").encode(into: &dgram, sequence: 6)
        NetlinkRequest.getLink(index: 2).encode(into: &dgram, sequence: 7)
        let ms = try NetlinkMessage.parse(dgram)
        #expect(ms.map(\.sequence) == [5, 6, 7])
        #expect(ms.map(\.type) == [RTM.newAddr, RTM.delLink, RTM.getLink])
    }
}
