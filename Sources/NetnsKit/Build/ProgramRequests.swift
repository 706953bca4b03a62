import Namespaces
import Netlink
import NetnsModel

/// Binds a program's interface names to ifindexes and turns each program step into the
/// kernel calls that do it: the one place where a step becomes a `NetlinkRequest`.
///
/// Pure: it allocates indexes and encodes requests, and touches no kernel, so it is tested
/// without privileges (golden requests). Interface indexes are handed out as links are
/// created, unique across the whole lab, above `lo` (1) and the devices the kernel put into
/// every new namespace by itself (``reserve(below:)``).
struct RequestMapper {
    /// A kernel call of one step.
    enum Call {
        /// An rtnetlink request, sent in the step's batch.
        case request(NetlinkRequest)
        /// A tun or tap device, created through `/dev/net/tun` inside the namespace with this index.
        case tunTap(name: String, mode: NetworkNamespace.TunTapMode, index: Int32)
        /// Per-interface sysctl, written in one trip into the namespace with the others of its phase.
        case sysctl(key: String, value: String)
    }

    /// Each node's interfaces bound so far, by name.
    private(set) var indexes: [String: [String: Int32]] = [:]
    /// The file descriptor of each node's namespace (a veth's peer is created in it).
    private var namespaceFDs: [String: Int32] = [:]
    /// The next ifindex to hand out. Indexes are unique across the whole lab, not just per
    /// namespace: when both ends of a veth have the same index, the kernel's linkwatch treats
    /// their carrier change as non-urgent and attaches the real qdisc up to a second later,
    /// dropping the first packets (`ifindex == iflink`).
    private(set) var nextIndex: Int32 = 2

    /// Adds a namespace: its `lo` is index 1.
    mutating func addNamespace(_ node: String, fd: Int32) {
        namespaceFDs[node] = fd
        indexes[node] = ["lo": 1]
    }

    /// Hands out indexes only above `index` (the kernel's own devices in every new namespace).
    mutating func reserve(below index: Int32) { nextIndex = max(nextIndex, index) }

    /// The index bound to `ifname` in `node`.
    /// - Throws: ``LabError/unknownInterface(_:node:known:)`` when the node has no such interface yet.
    func index(_ node: String, _ ifname: String) throws -> Int32 {
        if let i = indexes[node]?[ifname] { return i }
        throw LabError.unknownInterface(ifname, node: node, known: Array(indexes[node]?.keys ?? [:].keys).sorted())
    }

    private mutating func allocate(_ node: String, _ ifname: String) -> Int32 {
        let i = nextIndex
        nextIndex = i + 1
        indexes[node]![ifname] = i
        return i
    }

    /// The kernel calls of `step` in `node`, binding the interfaces it creates.
    /// - Parameter what: The step's command, for error messages.
    /// - Throws: ``LabError`` for an interface or node the program has not created.
    mutating func calls(for step: ProgramStep, in node: String, what: String) throws -> [Call] {
        func mtu(_ m: Int?) -> UInt32? { m.map { UInt32(clamping: $0) } }
        func index(_ ifname: String) throws -> Int32 { try self.index(node, ifname) }
        let op: PlanOperation, up: Bool
        switch step.action {
        case .setLink(let ifname, let setUp, let master, let alias):
            return [.request(.setLink(index: try index(ifname),
                                      LinkChange(up: setUp ? true : nil, master: try master.map(index), alias: alias), what: what))]
        case .operation(let o, let u):
            (op, up) = (o, u)
        }
        switch op {
        case .createNamespace, .setSysctl, .loadFirewall, .linkUp:
            // Not netlink requests of a batch (a `link up` is always a `setLink` in a program).
            return []
        case .setInterfaceSysctl(_, let key, let value):
            return [.sysctl(key: key, value: value)]
        case .addBridge(let b):
            let idx = allocate(node, b.name)
            return [.request(.newLink(LinkSpec(name: b.name, index: idx,
                                               kind: .bridge(stp: b.stp, vlanFiltering: b.vlanFiltering, options: b.options),
                                               mtu: mtu(b.mtu), mac: b.mac, up: up), what: what))]
        case .addDummy(let name, let m):
            let idx = allocate(node, name)
            return [.request(.newLink(LinkSpec(name: name, index: idx, kind: .dummy, mtu: mtu(m), up: up), what: what))]
        case .addVeth(let v):
            guard let peerFD = namespaceFDs[v.peerNode] else {
                throw LabError.unknownNode(v.peerNode, known: indexes.keys.sorted())
            }
            let master = try v.master.map(index)
            let idx = allocate(node, v.name)
            let peerIdx = allocate(v.peerNode, v.peerName)
            // One queue per end: see LinkSpec.queues. The program gives both ends their MTU.
            let peer = VethPeer(name: v.peerName, index: peerIdx, namespaceFD: peerFD, mtu: mtu(v.peerMTU), mac: v.peerMAC,
                                queues: 1)
            return [.request(.newLink(LinkSpec(name: v.name, index: idx, kind: .veth(peer: peer), mtu: mtu(v.mtu), mac: v.mac,
                                               up: up, master: master, queues: 1), what: what))]
        case .addVLAN(let name, let parent, let id):
            let p = try index(parent)
            let idx = allocate(node, name)
            return [.request(.newLink(LinkSpec(name: name, index: idx, kind: .vlan(id: UInt16(clamping: id)), up: up, parent: p),
                                      what: what))]
        case .addMacvlan(let name, let parent, let mode, let mac):
            let p = try index(parent)
            let idx = allocate(node, name)
            let m: MacvlanMode = MacvlanMode.allCases.first { $0.name == mode.rawValue } ?? .bridge
            return [.request(.newLink(LinkSpec(name: name, index: idx, kind: .macvlan(mode: m), mac: mac, up: up, parent: p),
                                      what: what))]
        case .addVXLAN(let x):
            let under = try x.underlayDevice.map(index)
            let master = try x.master.map(index)
            let idx = allocate(node, x.name)
            let options = VXLANOptions(vni: x.vni, remote: x.remote, local: x.local, port: x.port, underlayIndex: under, ttl: x.ttl,
                                       learning: x.settings.learning ?? true, tos: x.settings.tos,
                                       udpChecksum: x.settings.udpChecksum, df: x.settings.df?.code)
            return [.request(.newLink(LinkSpec(name: x.name, index: idx, kind: .vxlan(options), mtu: mtu(x.mtu), up: up,
                                               master: master), what: what))]
        case .addTunnel(let t):
            let master = try t.master.map(index)
            let idx = allocate(node, t.name)
            let o = TunnelOptions(local: t.local, remote: t.remote, ttl: t.ttl)
            let kind: LinkKind
            switch t.kind {
            case .gre, .ip6gre: kind = .gre(o)
            case .gretap, .ip6gretap: kind = .gretap(o)
            case .ipip: kind = .ipip(o)
            case .sit: kind = .sit(o)
            case .ip6tnl: kind = .ip6tnl(o)
            }
            return [.request(.newLink(LinkSpec(name: t.name, index: idx, kind: kind, mtu: mtu(t.mtu), up: up, master: master),
                                      what: what))]
        case .addDevice(let name, let kind, let m):
            let linkKind: LinkKind
            var parent: Int32?
            switch kind {
            case .vrf(let table, _):
                linkKind = .vrf(table: table)
            case .bond(let b):
                linkKind = .bond(mode: b.mode.number, miimon: b.miimon.map { UInt32($0) }, primary: try b.primary.map(index))
            case .ipvlan(let p, let mode):
                parent = try index(p)
                linkKind = .ipvlan(mode: mode.number)
            case .geneve(let g):
                linkKind = .geneve(vni: g.vni, remote: g.remote, port: g.port, ttl: g.ttl)
            case .ifb:
                linkKind = .ifb
            case .tun, .tap:
                // Not an rtnetlink kind: created through /dev/net/tun inside the namespace, with
                // the index handed out here; the MTU goes with the other requests.
                let idx = allocate(node, name)
                let create = Call.tunTap(name: name, mode: kind == .tun ? .tun : .tap, index: idx)
                guard let m else { return [create] }
                return [create, .request(.setLink(index: idx, LinkChange(mtu: mtu(m)), what: what))]
            }
            let idx = allocate(node, name)
            return [.request(.newLink(LinkSpec(name: name, index: idx, kind: linkKind, mtu: mtu(m), up: up, parent: parent),
                                      what: what))]
        case .setMaster(let ifname, let master):
            return [.request(.setLink(index: try index(ifname), LinkChange(master: try index(master)), what: what))]
        case .setBridgeVLAN(let port, let pvid, let vlans):
            let idx = try index(port)
            return (pvid.map { [$0] } ?? []).map { Call.request(.bridgeVLAN(portIndex: idx, vid: $0, pvid: true, what: what)) }
                + vlans.map { .request(.bridgeVLAN(portIndex: idx, vid: $0, pvid: false, what: what)) }
        case .setBridgePort(let port, let options):
            return [.request(.setBridgePort(index: try index(port), options, what: what))]
        case .addFDB(let f):
            return [.request(.newFDB(index: try index(f.device), mac: f.mac, dst: f.dst, vlan: f.vlan, master: f.master,
                                     what: what))]
        case .addAddress(let ifname, let prefix, let nodad, let metric, let noprefixroute):
            return [.request(.newAddress(index: try index(ifname), prefix, noDAD: nodad, noPrefixRoute: noprefixroute,
                                         metric: metric, what: what))]
        case .addNeighbor(let ifname, let ip, let mac):
            return [.request(.newNeighbor(NeighborInfo(family: ip.family, index: try index(ifname), address: ip, mac: mac),
                                          what: what))]
        case .addRoute(let r), .removeRoute(let r):
            var info = try Self.routeInfo(r, index: index)
            if case .removeRoute = op {
                // Matched by what was declared: the kernel ignores scope NOWHERE and protocol 0.
                if r.proto == RouteProtocol.static { info.proto = 0 }
                return [.request(.deleteRoute(info, what: what))]
            }
            return [.request(.newRoute(info, what: what))]
        case .addRule(let r):
            let info = Self.ruleInfo(r)
            return [.request(.newRule(info, what: what))]
        case .addQdisc(let ifname, let kind, let major, let parent):
            let idx = try index(ifname)
            let handle = UInt32(major) << 16
            let parentRaw = parent?.raw ?? TcMsg.rootParent
            let spec = Self.qdiscSpec(kind)
            let qdisc = NetlinkRequest.newQdisc(index: idx, spec, handle: handle, parent: parentRaw, what: what)
            guard case let .htb(_, classes) = kind else { return [.request(qdisc)] }
            return [.request(qdisc)]
                + classes.map { c in
                    .request(.newHTBClass(index: idx, HTBClass(id: c.id, rateBitsPerSecond: c.rate.bitsPerSecond,
                                                               ceilBitsPerSecond: c.ceil?.bitsPerSecond, parent: c.parent),
                                          major: handle, what: what))
                }
        }
    }
}


extension RequestMapper {
    /// The rule request of a planned rule (the build's and a live change's).
    static func ruleInfo(_ r: RuleSpec) -> RuleInfo {
        var info = RuleInfo(family: r.family == .ipv4 ? AF.inet : AF.inet6, priority: r.priority, source: r.from, destination: r.to)
        info.inputInterface = r.iif
        info.outputInterface = r.oif
        info.fwmark = r.fwmark
        info.fwmask = r.fwmask
        info.tos = r.tos ?? 0
        info.uids = r.uidrange
        info.ipProtocol = r.ipproto
        info.sourcePorts = r.sport?.range
        info.destinationPorts = r.dport?.range
        info.l3mdev = r.l3mdev
        info.suppressPrefixLength = r.suppressPrefixlength
        switch r.action {
        case .lookup(let t): info.table = t; info.action = FRA.actToTbl
        case .goto(let target): info.gotoTarget = target; info.action = FRA.actGoto
        case .blackhole: info.action = FRA.actBlackhole
        case .unreachable: info.action = FRA.actUnreachable
        case .prohibit: info.action = FRA.actProhibit
        }
        return info
    }

    /// The route request of a planned route (the build's and a live change's); `index` binds
    /// its device names to ifindexes.
    static func routeInfo(_ r: RouteSpec, index: (String) throws -> Int32) throws -> RouteInfo {
        var info = RouteInfo(family: r.family == .ipv4 ? AF.inet : AF.inet6,
                             destination: r.destination.length == 0 ? nil : r.destination,
                             gateway: r.gateway, outputIndex: try r.device.map(index))
        info.table = r.table
        info.metric = r.metric
        info.scope = r.scope
        info.proto = r.proto
        info.type = r.type
        info.preferredSource = r.source
        info.onlink = r.onlink
        info.mtu = r.mtu
        info.advmss = r.advmss
        info.nexthops = try r.nexthops.map { h in
            RouteNexthop(gateway: h.gateway, index: try h.device.map(index) ?? 0, weight: h.weight)
        }
        return info
    }

    /// The qdisc a declared kind is (an HTB's classes are separate requests).
    static func qdiscSpec(_ kind: Qdisc.Kind) -> QdiscSpec {
        func micros(_ d: Duration) -> UInt32 {
            UInt32(clamping: d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000)
        }
        switch kind {
        case let .tbf(rate, burst, limit):
            let bytes: Int
            switch limit {
            case .bytes(let b): bytes = b
            case .latency(let d):
                let secs = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
                bytes = Int(Double(rate.bitsPerSecond) / 8 * secs) + burst
            }
            return .tbf(rateBitsPerSecond: rate.bitsPerSecond, burstBytes: UInt32(clamping: burst), limitBytes: UInt32(clamping: bytes))
        case let .htb(defaultClass, _):
            return .htb(defaultClass: defaultClass, classes: [])
        case let .netem(delay, jitter, loss):
            return .netem(delayMicroseconds: micros(delay), jitterMicroseconds: micros(jitter), lossPercent: loss, limitPackets: 1000)
        }
    }
}
