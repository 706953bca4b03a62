import Foundation
import Namespaces
import Netlink
import Testing

/// A namespace with a veth pair r0/r1 (both up), 10.0.1.1/24 on r0 and 10.0.2.1/24 on r1.
private func routedNamespace(_ label: String) throws -> (NetworkNamespace, r0: Int32, r1: Int32) {
    let n = try NetworkNamespace.create(label: label)
    let s = try n.socket
    try s.execute(.newLink(LinkSpec(name: "r0", kind: .veth(peer: VethPeer(name: "r1")), up: true)))
    try s.execute(.setLink(name: "r1", LinkChange(up: true), what: "r1 up"))
    let r0 = try s.link(named: "r0").index, r1 = try s.link(named: "r1").index
    try s.execute([.newAddress(index: r0, IPPrefix("10.0.1.1/24")!), .newAddress(index: r1, IPPrefix("10.0.2.1/24")!)])
    return (n, r0, r1)
}

private func route(_ dst: String, via: String? = nil, dev: Int32? = nil, _ tweak: (inout RouteInfo) -> Void = { _ in }) -> RouteInfo {
    var r = RouteInfo(family: AF.inet, destination: IPPrefix(dst)!, gateway: via.map { IPAddress($0)! }, outputIndex: dev)
    tweak(&r)
    return r
}

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct AddressTests {
    @Test func addDumpDeleteV4AndV6() throws {
        let (n, r0, _) = try routedNamespace("addr")
        defer { n.close() }
        let s = try n.socket
        try s.execute([
            .newAddress(index: r0, IPPrefix("10.0.1.7/24")!),                // secondary in the same subnet
            .newAddress(index: r0, IPPrefix("192.168.50.1/32")!),
            .newAddress(index: r0, IPPrefix("fd00:1::1/64")!, noDAD: true),
            .newAddress(index: r0, IPPrefix("fd00:2::1/64")!),                // with DAD
        ])
        let ip = (try ipJSON(n, ["addr", "show", "dev", "r0"]).first?["addr_info"] as? [[String: Any]]) ?? []
        func ipHas(_ a: String, _ len: Int) -> [String: Any]? { ip.first { $0["local"] as? String == a && $0["prefixlen"] as? Int == len } }
        #expect(ipHas("10.0.1.1", 24) != nil)
        #expect(ipHas("10.0.1.7", 24)?["secondary"] as? Bool == true)
        #expect(ipHas("10.0.1.1", 24)?["broadcast"] as? String == "10.0.1.255")
        #expect(ipHas("192.168.50.1", 32) != nil)
        let nodad = try #require(ipHas("fd00:1::1", 64))
        #expect(nodad["tentative"] == nil)
        #expect(nodad["nodad"] as? Bool == true)
        #expect(ipHas("fd00:2::1", 64)?["tentative"] as? Bool == true)

        let mine = try s.addresses().filter { $0.index == UInt32(r0) }
        let byText = Dictionary(mine.map { ("\($0.prefix)", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(Set(byText.keys).isSuperset(of: ["10.0.1.1/24", "10.0.1.7/24", "192.168.50.1/32", "fd00:1::1/64", "fd00:2::1/64"]))
        #expect(byText["fd00:1::1/64"]?.isNoDAD == true)
        #expect(byText["fd00:1::1/64"]?.isTentative == false)
        #expect(byText["fd00:2::1/64"]?.isTentative == true)
        #expect(byText["10.0.1.7/24"].map { $0.flags & IFA.fSecondary != 0 } == true)
        // Family filter.
        #expect(try s.addresses(family: AF.inet6).allSatisfy { $0.prefix.address.isIPv6 })
        #expect(try s.addresses(family: AF.inet).allSatisfy { $0.prefix.address.isIPv4 })

        try s.execute([.deleteAddress(index: r0, IPPrefix("192.168.50.1/32")!),
                       .deleteAddress(index: r0, IPPrefix("fd00:1::1/64")!)])
        let after = Set(try s.addresses().map { "\($0.prefix)" })
        #expect(!after.contains("192.168.50.1/32") && !after.contains("fd00:1::1/64"))
        #expect(after.contains("10.0.1.1/24"))
        let ipAfter = try ipJSON(n, ["addr", "show", "dev", "r0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(!ipAfter.contains { $0["local"] as? String == "192.168.50.1" })

        // Duplicate: EEXIST with the kernel's explanation.
        let dup = #expect(throws: NetlinkError.self) { try s.execute(.newAddress(index: r0, IPPrefix("10.0.1.7/24")!)) }
        #expect(dup?.errno == .fileExists)
        // Kernels before 6.3 give no text for this one.
        #expect(dup?.kernelMessage == "ipv4: Address already assigned" || (!kernelAtLeast(6, 3) && dup?.kernelMessage == nil))
    }
}

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct RouteTests {
    @Test func attributesAgreeWithIproute2() throws {
        let (n, r0, r1) = try routedNamespace("rt")
        defer { n.close() }
        let s = try n.socket
        try s.execute([
            .newRoute(route("10.50.0.0/16", via: "10.0.1.2") { $0.table = 100; $0.metric = 7; $0.proto = RouteProtocol.static }),
            .newRoute(route("10.51.0.0/16", dev: r0)),
            .newRoute(route("10.52.0.0/16", via: "10.0.1.2") { $0.preferredSource = IPAddress("10.0.1.1") }),
            .newRoute(route("10.53.0.0/16", via: "192.0.2.1", dev: r0) { $0.onlink = true }),
            .newRoute(route("10.60.0.0/16") { $0.type = .blackhole }),
            .newRoute(route("10.61.0.0/16") { $0.type = .unreachable }),
            .newRoute(route("10.62.0.0/16") { $0.type = .prohibit }),
            .newRoute(route("10.9.0.0/16") {
                $0.nexthops = [RouteNexthop(gateway: IPAddress("10.0.1.2")!, index: r0, weight: 1),
                               RouteNexthop(gateway: IPAddress("10.0.2.2")!, index: r1, weight: 3)]
            }),
            .newRoute(route("10.70.0.0/16", via: "10.0.1.2") { $0.table = 5000 }),
        ])
        let main = try ipJSON(n, ["route", "show"])
        func ipRoute(_ list: [[String: Any]], _ dst: String) -> [String: Any]? { list.first { $0["dst"] as? String == dst } }
        let t100 = try ipJSON(n, ["route", "show", "table", "100"])
        let r50 = try #require(ipRoute(t100, "10.50.0.0/16"))
        #expect(r50["gateway"] as? String == "10.0.1.2")
        #expect(r50["metric"] as? Int == 7)
        #expect(r50["protocol"] as? String == "static")
        #expect(ipRoute(main, "10.50.0.0/16") == nil)
        #expect(ipRoute(main, "10.51.0.0/16")?["scope"] as? String == "link")
        #expect(ipRoute(main, "10.51.0.0/16")?["dev"] as? String == "r0")
        #expect(ipRoute(main, "10.52.0.0/16")?["prefsrc"] as? String == "10.0.1.1")
        #expect((ipRoute(main, "10.53.0.0/16")?["flags"] as? [String])?.contains("onlink") == true)
        #expect(ipRoute(main, "10.60.0.0/16")?["type"] as? String == "blackhole")
        #expect(ipRoute(main, "10.61.0.0/16")?["type"] as? String == "unreachable")
        #expect(ipRoute(main, "10.62.0.0/16")?["type"] as? String == "prohibit")
        let hops = (ipRoute(main, "10.9.0.0/16")?["nexthops"] as? [[String: Any]]) ?? []
        #expect(hops.map { $0["gateway"] as? String } == ["10.0.1.2", "10.0.2.2"])
        #expect(hops.map { $0["weight"] as? Int } == [1, 3])
        #expect(hops.map { $0["dev"] as? String } == ["r0", "r1"])
        #expect(ipRoute(try ipJSON(n, ["route", "show", "table", "5000"]), "10.70.0.0/16") != nil)

        // Our dump decodes the same, and the kernel filters by table (strict mode).
        let ours = try s.routes(family: AF.inet, table: RouteTable.main)
        #expect(ours.allSatisfy { $0.table == RouteTable.main })
        func mine(_ dst: String) -> RouteInfo? { ours.first { $0.destination == IPPrefix(dst) } }
        #expect(mine("10.50.0.0/16") == nil)
        #expect(mine("10.51.0.0/16")?.scope == .link)
        #expect(mine("10.52.0.0/16")?.preferredSource == IPAddress("10.0.1.1"))
        #expect(mine("10.53.0.0/16")?.onlink == true)
        #expect(mine("10.60.0.0/16")?.type == .blackhole)
        #expect(mine("10.61.0.0/16")?.type == .unreachable)
        #expect(mine("10.62.0.0/16")?.type == .prohibit)
        #expect(mine("10.9.0.0/16")?.nexthops.map(\.weight) == [1, 3])
        #expect(mine("10.9.0.0/16")?.nexthops.map(\.index) == [r0, r1])
        let in100 = try s.routes(family: AF.inet, table: 100)
        #expect(in100.map { "\($0.destinationText)" } == ["10.50.0.0/16"])
        #expect(in100.first?.metric == 7 && in100.first?.proto == RouteProtocol.static)
        #expect(try s.routes(family: AF.inet, table: 5000).map(\.destinationText) == ["10.70.0.0/16"])
        // A table that never existed: no routes (iproute2 says "FIB table does not exist").
        #expect(try s.routes(family: AF.inet, table: 4242).isEmpty)
        #expect(try s.routes(family: AF.inet6, table: 4242).isEmpty)
        // An unfiltered dump has every table.
        let all = try s.routes(family: AF.inet)
        #expect(Set(all.map(\.table)).isSuperset(of: [100, 5000, RouteTable.main, RouteTable.local]))

        // Delete.
        try s.execute([.deleteRoute(route("10.51.0.0/16", dev: r0)), .deleteRoute(route("10.50.0.0/16") { $0.table = 100 })])
        #expect(ipRoute(try ipJSON(n, ["route", "show"]), "10.51.0.0/16") == nil)
        #expect(try s.routes(family: AF.inet, table: RouteTable.main).contains { $0.destination == IPPrefix("10.51.0.0/16") } == false)
        // Table 100 is now empty: the kernel says so with an error inside NLMSG_DONE, which we surface.
        let empty = Result { try s.routes(family: AF.inet, table: 100) }
        switch empty {
        case .success(let list): #expect(list.isEmpty)
        case .failure(let e): Issue.record("dump of an emptied table failed: \(e)")
        }
    }

    @Test func ipv6RoutesAndMultipath() throws {
        let (n, r0, r1) = try routedNamespace("rt6")
        defer { n.close() }
        let s = try n.socket
        try s.execute([.newAddress(index: r0, IPPrefix("fd00:1::1/64")!, noDAD: true),
                       .newAddress(index: r1, IPPrefix("fd00:2::1/64")!, noDAD: true)])
        var single = RouteInfo(family: AF.inet6, destination: IPPrefix("fd10::/64")!, gateway: IPAddress("fd00:1::2")!)
        single.table = 200; single.metric = 100
        var multi = RouteInfo(family: AF.inet6, destination: IPPrefix("fd20::/64")!)
        multi.table = 200
        multi.nexthops = [RouteNexthop(gateway: IPAddress("fd00:1::2")!, index: r0, weight: 1),
                          RouteNexthop(gateway: IPAddress("fd00:2::2")!, index: r1, weight: 2)]
        try s.execute([.newRoute(single), .newRoute(multi)])

        let ip = try ipJSON(n, ["-6", "route", "show", "table", "200"])
        let one = try #require(ip.first { $0["dst"] as? String == "fd10::/64" })
        #expect(one["gateway"] as? String == "fd00:1::2" && one["metric"] as? Int == 100 && one["dev"] as? String == "r0")
        let hops = (ip.first { $0["dst"] as? String == "fd20::/64" }?["nexthops"] as? [[String: Any]]) ?? []
        #expect(hops.map { $0["gateway"] as? String } == ["fd00:1::2", "fd00:2::2"])
        #expect(hops.map { $0["weight"] as? Int } == [1, 2])

        let ours = try s.routes(family: AF.inet6, table: 200)
        #expect(Set(ours.map(\.destinationText)) == ["fd10::/64", "fd20::/64"])
        #expect(ours.first { $0.destinationText == "fd10::/64" }?.gateway == IPAddress("fd00:1::2"))
        let m = try #require(ours.first { $0.destinationText == "fd20::/64" })
        #expect(m.nexthops.map(\.gateway) == [IPAddress("fd00:1::2"), IPAddress("fd00:2::2")])
        #expect(m.nexthops.map(\.weight) == [1, 2])

        try s.execute(.deleteRoute(single))
        #expect(try s.routes(family: AF.inet6, table: 200).map(\.destinationText) == ["fd20::/64"])
    }

    @Test func lookups() throws {
        let (n, r0, r1) = try routedNamespace("look")
        defer { n.close() }
        let s = try n.socket
        try s.execute([
            .newRoute(route("10.52.0.0/16", via: "10.0.1.2") { $0.preferredSource = IPAddress("10.0.1.1") }),
            .newRoute(route("10.9.0.0/16") {
                $0.nexthops = [RouteNexthop(gateway: IPAddress("10.0.1.2")!, index: r0, weight: 1),
                               RouteNexthop(gateway: IPAddress("10.0.2.2")!, index: r1, weight: 3)]
            }),
            .newRoute(route("10.61.0.0/16") { $0.type = .unreachable }),
        ])
        let r = try s.lookupRoute(RouteQuery(destination: IPAddress("10.52.3.4")!))
        #expect(r.gateway == IPAddress("10.0.1.2"))
        #expect(r.outputIndex == r0)
        #expect(r.preferredSource == IPAddress("10.0.1.1"))
        #expect(r.destination == IPPrefix("10.52.3.4/32"))
        let ipr = try #require(try ipJSON(n, ["route", "get", "10.52.3.4"]).first)
        #expect(ipr["gateway"] as? String == "10.0.1.2" && ipr["dev"] as? String == "r0")

        // Resolved multipath: one hash-chosen hop. fibmatch: the whole route, weights included.
        let one = try s.lookupRoute(RouteQuery(destination: IPAddress("10.9.1.1")!))
        #expect([IPAddress("10.0.1.2"), IPAddress("10.0.2.2")].contains(one.gateway))
        #expect(one.nexthops.isEmpty)
        let whole = try s.lookupRoute(RouteQuery(destination: IPAddress("10.9.1.1")!, fibMatch: true))
        #expect(whole.destination == IPPrefix("10.9.0.0/16"))
        #expect(whole.nexthops.map(\.gateway) == [IPAddress("10.0.1.2"), IPAddress("10.0.2.2")])
        #expect(whole.nexthops.map(\.weight) == [1, 3])

        // Unreachable: EHOSTUNREACH, naming the lookup.
        let e = #expect(throws: NetlinkError.self) { try s.lookupRoute(RouteQuery(destination: IPAddress("10.61.0.1")!)) }
        #expect(e?.errno == .noRouteToHost)
        #expect(e?.description.contains("looking up the route to 10.61.0.1") == true)
    }

    @Test func errorsInsideDoneAreThrown() throws {
        try withNamespaces("done") { ns in
            // A strict FIB dump with rtm_dst_len set: the kernel rejects it in NLMSG_DONE.
            var w = AttributeWriter()
            w.appendHeader(RtMsg(family: AF.inet, dstLength: 8).bytes)
            let bad = NetlinkRequest(type: RTM.getRoute, flags: .dump, body: w, what: "listing routes with a bad header")
            let e = #expect(throws: NetlinkError.self) { try ns[0].socket.dump(bad) }
            #expect(e?.errno == .invalidArgument)
            #expect(e?.kernelMessage == "Invalid values in header for FIB dump request")
            #expect(e?.request == "RTM_GETROUTE")
            // A gateway the kernel cannot reach: extack text, and the pipeline still reports it in order.
            let results = try ns[0].socket.executeCollecting([
                .newRoute(route("10.1.0.0/16") { $0.type = .blackhole }),
                .newRoute(route("10.2.0.0/16", via: "10.99.0.1")),
                .newRoute(route("10.3.0.0/16") { $0.type = .blackhole }),
            ])
            #expect(results[0] == nil && results[2] == nil)
            #expect(results[1]?.errno == .networkUnreachable)
            #expect(results[1]?.kernelMessage == "Nexthop has invalid gateway")
        }
    }
}

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct RuleAndNeighborTests {
    @Test func rules() throws {
        let (n, _, _) = try routedNamespace("rules")
        defer { n.close() }
        let s = try n.socket
        var r1 = RuleInfo(family: AF.inet, priority: 1000, source: IPPrefix("10.1.0.0/16")!, table: 100)
        r1.fwmark = 0x10; r1.fwmask = 0xff; r1.inputInterface = "r0"
        let r2 = RuleInfo(family: AF.inet, priority: 1001, destination: IPPrefix("10.50.0.0/16")!, table: 101)
        try s.execute([.newRule(r1), .newRule(r2), .newRoute(route("10.50.0.0/16", via: "10.0.2.2") { $0.table = 101 })])

        let ip = try ipJSON(n, ["rule", "show"])
        let i1 = try #require(ip.first { $0["priority"] as? Int == 1000 })
        #expect(i1["src"] as? String == "10.1.0.0" && i1["srclen"] as? Int == 16)
        #expect(i1["fwmark"] as? String == "0x10" && i1["fwmask"] as? String == "0xff")
        #expect(i1["iif"] as? String == "r0")
        #expect(i1["table"] as? String == "100")
        let i2 = try #require(ip.first { $0["priority"] as? Int == 1001 })
        #expect(i2["dst"] as? String == "10.50.0.0" && i2["dstlen"] as? Int == 16 && i2["table"] as? String == "101")

        let ours = try s.rules()
        #expect(ours.map(\.priority) == [0, 1000, 1001, 32766, 32767])
        let o1 = try #require(ours.first { $0.priority == 1000 })
        #expect(o1.source == IPPrefix("10.1.0.0/16") && o1.fwmark == 0x10 && o1.fwmask == 0xff)
        #expect(o1.inputInterface == "r0" && o1.table == 100)
        #expect(ours.first { $0.priority == 1001 }?.summary == "1001: from all to 10.50.0.0/16 lookup 101")

        // The rule steers the lookup into table 101.
        let looked = try s.lookupRoute(RouteQuery(destination: IPAddress("10.50.1.1")!))
        #expect(looked.gateway == IPAddress("10.0.2.2"))
        #expect(looked.table == 101)

        try s.execute(.deleteRule(r1))
        #expect(try s.rules().map(\.priority) == [0, 1001, 32766, 32767])
        #expect(!(try ipJSON(n, ["rule", "show"])).contains { $0["priority"] as? Int == 1000 })
        let again = #expect(throws: NetlinkError.self) { try s.execute(.deleteRule(r1)) }
        #expect(again?.errno == .noSuchFileOrDirectory)
    }

    @Test func neighboursAndFDB() throws {
        let (n, r0, _) = try routedNamespace("neigh")
        defer { n.close() }
        let s = try n.socket
        try s.execute(.newNeighbor(NeighborInfo(family: AF.inet, index: r0, address: IPAddress("10.0.1.9")!,
                                                mac: MACAddress("02:00:00:00:00:09")!)))
        let ip = try ipJSON(n, ["neigh", "show", "dev", "r0"])
        let e = try #require(ip.first { $0["dst"] as? String == "10.0.1.9" })
        #expect(e["lladdr"] as? String == "02:00:00:00:00:09")
        #expect((e["state"] as? [String]) == ["PERMANENT"])
        let ours = try #require(try s.neighbors(family: AF.inet).first { $0.address == IPAddress("10.0.1.9") })
        #expect(ours.mac == MACAddress("02:00:00:00:00:09") && ours.index == r0 && ours.stateName == "PERMANENT")

        // Bridge FDB: our dump and `bridge -j fdb show` list the same (mac, device) pairs.
        try s.execute(.newLink(LinkSpec(name: "brf", kind: .bridge(), up: true)))
        let br = try s.link(named: "brf").index
        try s.execute([.newLink(LinkSpec(name: "f0", kind: .veth(peer: VethPeer(name: "f1")), up: true, master: br))])
        let f0 = try s.link(named: "f0")
        let fdb = try s.forwardingDatabase()
        #expect(fdb.contains { $0.mac == f0.mac && $0.index == f0.index && $0.master == br })
        let names = Dictionary(uniqueKeysWithValues: try s.links().map { ($0.index, $0.name) })
        func ourFDB() throws -> Set<String> {
            Set(try s.forwardingDatabase().compactMap { e in e.mac.map { "\($0)@\(names[e.index] ?? "?")" } })
        }
        func bridgeFDB() throws -> Set<String> {
            let r = try Spawner.runBlocking(["bridge", "-j", "fdb", "show"], in: n, timeout: 10)
            guard r.status == 0 else { throw TestFailure("bridge fdb show: \(r)") }
            let json = (try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [[String: Any]]) ?? []
            return Set(json.compactMap { e -> String? in
                guard let m = e["mac"] as? String, let d = e["ifname"] as? String else { return nil }
                return "\(m)@\(d)"
            })
        }
        // Interfaces coming up add multicast entries asynchronously: compare once both views agree
        // on a quiet moment (ours, theirs, ours again identical).
        var last: (Set<String>, Set<String>) = ([], [])
        let agreed = try eventually(timeout: 5) {
            let a = try ourFDB(), b = try bridgeFDB(), c = try ourFDB()
            last = (a, b)
            return a == b && b == c
        }
        #expect(agreed, "ours \(last.0.sorted()) vs bridge \(last.1.sorted())")
        #expect(!last.1.isEmpty)
    }
}
