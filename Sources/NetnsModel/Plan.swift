/// The ordered operations that build a topology, every name and value resolved.
public struct Plan: Sendable, Hashable, CustomStringConvertible {
    /// The operations, in the order the builder runs them.
    public var steps: [PlanStep]
    /// The resolved topology the steps build (see ``Topology/resolved()``).
    public var topology: Topology

    /// One step per line, each like the `ip` command that would do the same.
    public var description: String { steps.map(\.description).joined(separator: "\n") }
}

/// One operation, the namespace it runs in and the declaration it came from.
public struct PlanStep: Sendable, Hashable, CustomStringConvertible {
    /// The node (namespace) the operation runs in.
    public var node: String
    /// What to do.
    public var operation: PlanOperation
    /// The declaration it came from, e.g. `link h1:eth0 <-> r1:eth0 (Topo.swift:12)`.
    public var origin: String

    /// The `ip`, `bridge`, `tc` or `sysctl` command that does the same.
    public var description: String { operation.command(in: node) }
}

/// A veth pair, created with each end directly in its namespace and with its final settings.
public struct VethSpec: Sendable, Hashable {
    /// The interface name of the end in this step's node.
    public var name: String
    /// That end's MTU, in bytes.
    public var mtu: Int?
    /// That end's MAC address; the kernel picks one when nil.
    public var mac: MACAddress?
    /// A bridge in this node that end joins.
    public var master: String?
    /// That end's interface alias (`IFLA_IFALIAS`).
    public var alias: String?
    /// The node the other end is created in.
    public var peerNode: String
    /// The other end's interface name.
    public var peerName: String
    /// The other end's MTU, in bytes.
    public var peerMTU: Int?
    /// The other end's MAC address; the kernel picks one when nil.
    public var peerMAC: MACAddress?
    /// A bridge in the peer node the other end joins.
    public var peerMaster: String?
    /// The other end's interface alias.
    public var peerAlias: String?
}

/// A bridge.
public struct BridgeSpec: Sendable, Hashable {
    /// The bridge's interface name.
    public var name: String
    /// Whether the kernel's spanning tree runs (`stp_state`).
    public var stp: Bool
    /// Whether the bridge filters VLANs (`vlan_filtering`).
    public var vlanFiltering: Bool
    /// The bridge's MTU, in bytes.
    public var mtu: Int?
    /// The bridge's MAC address; the kernel picks one when nil.
    public var mac: MACAddress?
    /// Timers (in centiseconds), snooping and default PVID.
    public var options = BridgeOptions()
}

/// A VXLAN interface: with a unicast remote (a tunnel end), a multicast group, or neither
/// (a VTEP whose remotes are FDB entries).
public struct VXLANSpec: Sendable, Hashable {
    /// The interface name.
    public var name: String
    /// The VXLAN network identifier.
    public var vni: UInt32
    /// The underlay source address (`local`).
    public var local: IPAddress?
    /// The unicast remote or the multicast group (the kernel keeps both in `IFLA_VXLAN_GROUP`).
    public var remote: IPAddress?
    /// The UDP destination port.
    public var port: UInt16
    /// The underlay device (`dev`).
    public var underlayDevice: String?
    /// The MTU, in bytes.
    public var mtu: Int?
    /// A bridge the device joins.
    public var master: String?
    /// The outer TTL; the kernel's default when nil.
    public var ttl: UInt8? = nil
    /// TOS, learning, UDP checksum and DF.
    public var settings = VXLANSettings()
}

/// A static FDB entry: on a bridge port (`master`) or on a VXLAN device (`self`, appended).
public struct FDBSpec: Sendable, Hashable {
    /// The bridge port or the VXLAN device.
    public var device: String
    /// The MAC address of the entry.
    public var mac: MACAddress
    /// The remote VTEP (VXLAN devices).
    public var dst: IPAddress?
    /// The VLAN (bridges with VLAN filtering).
    public var vlan: UInt16?
    /// True for an entry in the bridge of `device` (`master`), false for one in the device itself (`self`).
    public var master: Bool
}

/// An IP tunnel interface (GRE, IP-in-IP and their IPv6 forms).
public struct IPTunnelSpec: Sendable, Hashable {
    /// The kernel link kinds of IP tunnels.
    public enum Kind: String, Sendable, Hashable {
        /// `gre`, `gretap`, `ip6gre`, `ip6gretap`, `ipip`, `sit` and `ip6tnl`, as `ip link add … type` names them.
        case gre, gretap, ip6gre, ip6gretap, ipip, sit, ip6tnl
    }
    /// The link kind.
    public var kind: Kind
    /// The interface name.
    public var name: String
    /// The local underlay address.
    public var local: IPAddress
    /// The remote underlay address.
    public var remote: IPAddress
    /// The outer TTL; the kernel's default when nil.
    public var ttl: UInt8?
    /// The MTU, in bytes.
    public var mtu: Int?
    /// A bridge the interface joins (Ethernet kinds only).
    public var master: String?
}

/// A route with its family, destination, device and defaults made explicit.
public struct RouteSpec: Sendable, Hashable {
    /// IPv4 or IPv6.
    public var family: IPFamily
    /// The destination prefix (`0.0.0.0/0` or `::/0` for a default route).
    public var destination: IPPrefix
    /// The route type (`unicast`, `blackhole`, …).
    public var type: RouteType
    /// The gateway (`via`).
    public var gateway: IPAddress?
    /// The output interface (`dev`).
    public var device: String?
    /// The routing table.
    public var table: UInt32
    /// The metric; the kernel's default when nil.
    public var metric: UInt32?
    /// The scope, made explicit as `ip route add` would imply it.
    public var scope: RouteScope
    /// The `RTPROT_*` origin.
    public var proto: UInt8
    /// The preferred source address (`src`).
    public var source: IPAddress?
    /// Use the gateway even if no connected subnet contains it.
    public var onlink: Bool
    /// The next hops of a multipath route (empty otherwise).
    public var nexthops: [NexthopSpec]
    /// The path MTU (`RTAX_MTU`).
    public var mtu: UInt32? = nil
    /// The advertised MSS (`RTAX_ADVMSS`).
    public var advmss: UInt32? = nil
}

extension RouteSpec {
    /// The scope `ip route add` gives a route of this type when none is said.
    /// The scope `ip route add` gives a route of this type when none is declared: host for a
    /// local route, link for a broadcast route and a device route, universe otherwise.
    public static func impliedScope(_ type: RouteType, gateway: IPAddress?, multipath: Bool) -> RouteScope {
        switch type {
        case .local: .host
        case .broadcast: .link
        case .unicast where gateway == nil && !multipath: .link
        default: .universe
        }
    }
}

/// One next hop of a multipath route.
public struct NexthopSpec: Sendable, Hashable {
    /// The gateway (`via`).
    public var gateway: IPAddress?
    /// The output interface (`dev`).
    public var device: String?
    /// The relative weight, 1…256.
    public var weight: Int
    /// Use the gateway even if no connected subnet contains it.
    public var onlink: Bool
}

/// A policy rule with its family made explicit; `priority` `nil` lets the kernel choose.
public struct RuleSpec: Sendable, Hashable {
    /// IPv4 or IPv6.
    public var family: IPFamily
    /// The priority (`pref`).
    public var priority: UInt32?
    /// The source prefix to match.
    public var from: IPPrefix?
    /// The destination prefix to match.
    public var to: IPPrefix?
    /// The input interface to match.
    public var iif: String?
    /// The output interface to match.
    public var oif: String?
    /// The firewall mark to match.
    public var fwmark: UInt32?
    /// The mask of ``fwmark``.
    public var fwmask: UInt32?
    /// What a matching packet does.
    public var action: Rule.Action
    /// The TOS byte to match.
    public var tos: UInt8? = nil
    /// The socket UIDs to match.
    public var uidrange: ClosedRange<UInt32>? = nil
    /// The IP protocol number to match.
    public var ipproto: UInt8? = nil
    /// The source ports to match.
    public var sport: PortRange? = nil
    /// The destination ports to match.
    public var dport: PortRange? = nil
    /// Look up the table of the packet's VRF.
    public var l3mdev: Bool = false
    /// Ignore lookup results with a prefix this long or shorter.
    public var suppressPrefixlength: UInt32? = nil
}

/// One thing the builder does in a namespace.
///
/// A new route or rule attribute touches: the model (`Route`/`Rule` in Routing.swift), its DSL
/// parameter (DSL.swift), its file key (Coding.swift, and FileFormat.md), its checks
/// (Resolution.swift), `RouteSpec`/`RuleSpec` and its `ip` text here, the builder's mapping to
/// `RouteInfo`/`RuleInfo` (ProgramRequests.swift), and the codec (AddressRoute.swift).
public enum PlanOperation: Sendable, Hashable {
    /// Creates the node's network namespace (`ip netns add`).
    case createNamespace
    /// A sysctl of the whole namespace, written when it is created.
    case setSysctl(key: String, value: String)
    /// A sysctl of one interface (`net.ipv4.conf.IF.*`), written once the node's links exist
    /// and before its addresses; `key` writes dots of the name as `/`, like `sysctl(8)`.
    case setInterfaceSysctl(interface: String, key: String, value: String)
    /// Sets an interface up (`ip link set IF up`).
    case linkUp(String)
    /// Creates a veth pair across two namespaces.
    case addVeth(VethSpec)
    /// Creates a bridge.
    case addBridge(BridgeSpec)
    /// Creates a VXLAN interface.
    case addVXLAN(VXLANSpec)
    /// Creates a macvlan on `parent`.
    case addMacvlan(name: String, parent: String, mode: Macvlan.Mode, mac: MACAddress?)
    /// Creates an 802.1Q VLAN subinterface of `parent`.
    case addVLAN(name: String, parent: String, id: Int)
    /// Creates a dummy interface.
    case addDummy(name: String, mtu: Int?)
    /// A VRF, bond, ipvlan, GENEVE, ifb, tun or tap (members join with ``setMaster(_:master:)``).
    case addDevice(name: String, kind: Device.Kind, mtu: Int?)
    /// Creates an IP tunnel interface.
    case addTunnel(IPTunnelSpec)
    /// Enslaves an interface to a bridge, bond or VRF (`ip link set IF master M`).
    case setMaster(String, master: String)
    /// Sets a bridge port's PVID and tagged VLANs.
    case setBridgeVLAN(port: String, pvid: UInt16?, vlans: [UInt16])
    /// Port flags, once the port is in its bridge.
    case setBridgePort(port: String, BridgePortOptions)
    /// Adds a static FDB entry.
    case addFDB(FDBSpec)
    /// Adds an address to an interface.
    case addAddress(String, IPPrefix, nodad: Bool, metric: UInt32?, noprefixroute: Bool)
    /// Adds a permanent neighbour entry on an interface.
    case addNeighbor(String, IPAddress, MACAddress)
    /// Adds a route.
    case addRoute(RouteSpec)
    /// Adds a policy rule.
    case addRule(RuleSpec)
    /// A route removed after the others are added (a declared `absent` route).
    case removeRoute(RouteSpec)
    /// A qdisc with its handle, at the root or under `parent` (and, for HTB, its classes).
    case addQdisc(String, Qdisc.Kind, handle: UInt16, parent: TCHandle?)
    /// An nftables ruleset, loaded last.
    case loadFirewall(String)
}

extension Topology {
    /// The operations that build this topology, in dependency order; validates first.
    ///
    /// Order: namespaces; per node loopback up and sysctls; bridges; veths (with masters);
    /// dummies, VLANs, macvlans, devices, VXLAN devices and tunnels (after their parents);
    /// masters (bridge ports, VRF members, bond ports), bridge VLANs, port flags and FDB entries;
    /// per-interface sysctls; every interface up (bridges before ports); addresses; neighbours;
    /// routes (multipath last); rules; routes to remove; qdiscs (parents before children).
    ///
    /// A new bridge, VXLAN or qdisc attribute touches: the model field (`Interfaces.swift`,
    /// `Layer2.swift`, `Traffic.swift`), its DSL parameter (`DSL.swift`), its file key
    /// (`Coding.swift`, `FileFormat.md`), its check (`Resolution.swift`), the spec field and `ip`
    /// text here, its attribute in the codec (`Netlink/Bridge.swift`, `Link.swift`,
    /// `TrafficControl.swift`) and the builder's mapping (`ProgramRequests.swift`).
    public func plan() throws(ValidationError) -> Plan {
        let resolution = Resolution(self)
        guard resolution.issues.isEmpty else { throw ValidationError(topology: name, issues: resolution.issues) }
        return Planner(resolution).plan
    }
}

/// Turns a resolution without issues into a plan.
private struct Planner {
    let resolution: Resolution
    var topology: Topology { resolution.topology }
    private(set) var plan: Plan
    /// Interfaces created so far per node, bridges first, for bringing them up.
    private var created: [String: [String]] = [:]
    private var bridges: [String: [String]] = [:]

    init(_ resolution: Resolution) {
        self.resolution = resolution
        plan = Plan(steps: [], topology: resolution.topology)
        let nodes = topology.nodes.enumerated().filter { resolution.nodeIndex[$0.element.name] == $0.offset }.map(\.element)
        for node in nodes { add(node.name, .createNamespace, origin(node)) }
        for node in nodes {
            add(node.name, .linkUp("lo"), origin(node))
            for key in node.sysctls.keys.sorted() where InterfaceSysctlKey(key)?.isPerInterface != true {
                add(node.name, .setSysctl(key: key, value: node.sysctls[key]!), origin(sysctl: key, node))
            }
        }
        for node in nodes {
            for b in node.bridges {
                add(node.name, .addBridge(BridgeSpec(name: b.name, stp: b.stp, vlanFiltering: b.vlanFiltering,
                                                     mtu: b.mtu, mac: b.mac, options: b.options)), origin(b, in: node))
                bridges[node.name, default: []].append(b.name)
            }
        }
        addVeths()
        for node in nodes { addSubInterfaces(node) }
        addTunnels()
        for node in nodes { addPorts(node) }
        for node in nodes { addInterfaceSysctls(node) }
        for node in nodes {
            for ifname in bridges[node.name, default: []] + created[node.name, default: []] {
                add(node.name, .linkUp(ifname), origin(node))
            }
        }
        for node in nodes {
            for r in resolution.addresses[node.name] ?? [] {
                add(node.name, .addAddress(r.interface, r.prefix, nodad: r.prefix.address.isIPv6 && r.nodad, metric: r.metric,
                                           noprefixroute: r.noprefixroute),
                    origin("address \(r.prefix) on \(node.name):\(r.interface)", r.location, r.path))
            }
        }
        for node in nodes {
            for n in node.neighbors {
                add(node.name, .addNeighbor(n.interface!, n.address, n.mac), origin("neighbour \(n.address)", n.provenance, node))
            }
        }
        for multipath in [false, true] {
            for node in nodes {
                for r in node.routes where r.nexthops.isEmpty != multipath && !r.absent {
                    add(node.name, .addRoute(routeSpec(r, in: node.name)), origin("route \(r.destination)", r.provenance, node))
                }
            }
        }
        for node in nodes {
            for r in node.rules {
                add(node.name, .addRule(RuleSpec(r)),
                    origin(r.l3mdev ? "rule l3mdev" : "rule \(r.action)", r.provenance, node))
            }
        }
        for node in nodes {
            for r in node.routes where r.absent {
                add(node.name, .removeRoute(routeSpec(r, in: node.name)), origin("route to remove \(r.destination)", r.provenance, node))
            }
        }
        for node in nodes {
            // Roots first, then each qdisc once its parent's qdisc is there (validation
            // rules out cycles and missing parents).
            var placed = Set<String>()
            var pending = node.qdiscs
            while !pending.isEmpty {
                let ready = pending.filter { q in q.parent.map { placed.contains("\(q.interface!) \($0.major)") } ?? true }
                for q in ready {
                    add(node.name, .addQdisc(q.interface!, q.kind, handle: q.major, parent: q.parent),
                        origin("qdisc \(q.kind.name) on \(q.interface!)", q.provenance, node))
                    placed.insert("\(q.interface!) \(q.major)")
                }
                if ready.isEmpty { break }
                pending.removeAll { ready.contains($0) }
            }
        }
        for node in nodes {
            if let f = node.firewall {
                add(node.name, .loadFirewall(f), origin("firewall in \(node.name)", node.provenance.parts["firewall"] ?? node.provenance.location,
                                                        "nodes[\(resolution.nodeIndex[node.name]!)].firewall"))
            }
        }
    }

    private mutating func add(_ node: String, _ operation: PlanOperation, _ origin: String) {
        plan.steps.append(PlanStep(node: node, operation: operation, origin: origin))
    }

    private func origin(_ what: String, _ location: DeclarationLocation?, _ path: String) -> String {
        "\(what) (\(location.map { "\($0.fileName):\($0.line)" } ?? path))"
    }

    private func origin(_ what: String, _ provenance: Provenance, _ node: Node) -> String {
        origin("\(what) in \(node.name)", provenance.location, "nodes[\(resolution.nodeIndex[node.name]!)]")
    }

    private func origin(sysctl key: String, _ node: Node) -> String {
        origin("sysctl \(key) in \(node.name)", node.provenance.parts["sysctls.\(key)"] ?? node.provenance.location,
               "nodes[\(resolution.nodeIndex[node.name]!)].sysctls")
    }

    /// Per-interface sysctls, declared ones and `accept_dad=1` where an address asks for DAD
    /// (the namespace turns DAD off by default, `net.ipv6.conf.{all,default}.accept_dad=0`).
    private mutating func addInterfaceSysctls(_ node: Node) {
        var writes: [(InterfaceSysctlKey, String, String)] = []   // key, value, origin
        for key in node.sysctls.keys.sorted() {
            guard let k = InterfaceSysctlKey(key), k.isPerInterface else { continue }
            writes.append((k, node.sysctls[key]!, origin(sysctl: key, node)))
        }
        for r in resolution.addresses[node.name] ?? [] where r.prefix.address.isIPv6 && !r.nodad {
            let k = InterfaceSysctlKey("net.ipv6.conf.\(r.interface).accept_dad")!
            guard !writes.contains(where: { $0.0 == k }) else { continue }
            writes.append((k, "1", origin("DAD for address \(r.prefix) on \(node.name):\(r.interface)", r.location, r.path)))
        }
        for (k, value, from) in writes {
            add(node.name, .setInterfaceSysctl(interface: k.interface, key: k.pathKey, value: value), from)
        }
    }

    private func origin(_ node: Node) -> String { origin("\(node.kind) \(node.name)", node.provenance.location, "nodes[\(resolution.nodeIndex[node.name]!)]") }

    private func origin(_ bridge: Bridge, in node: Node) -> String { origin("bridge \(bridge.name)", bridge.provenance, node) }

    private mutating func addVeths() {
        for (l, link) in topology.links.enumerated() {
            let a = link.a, b = link.b
            let what = "link \(a.endpoint) <-> \(b.endpoint)"
            add(a.node, .addVeth(VethSpec(
                name: a.endpoint.interface!, mtu: a.mtu, mac: a.mac, master: a.master, alias: a.alias,
                peerNode: b.node, peerName: b.endpoint.interface!, peerMTU: b.mtu, peerMAC: b.mac,
                peerMaster: b.master, peerAlias: b.alias)),
                origin(what, link.provenance.location, "links[\(l)]"))
            created[a.node, default: []].append(a.endpoint.interface!)
            created[b.node, default: []].append(b.endpoint.interface!)
        }
    }

    private mutating func addSubInterfaces(_ node: Node) {
        for d in node.dummies {
            add(node.name, .addDummy(name: d.name, mtu: d.mtu), origin("dummy \(d.name)", d.provenance, node))
            created[node.name, default: []].append(d.name)
        }
        for v in node.vlans {
            add(node.name, .addVLAN(name: v.name, parent: v.parent, id: v.id), origin("VLAN \(v.name)", v.provenance, node))
            created[node.name, default: []].append(v.name)
        }
        for m in node.macvlans {
            add(node.name, .addMacvlan(name: m.name, parent: m.parent, mode: m.mode, mac: m.mac),
                origin("macvlan \(m.name)", m.provenance, node))
            created[node.name, default: []].append(m.name)
        }
        for d in node.devices {
            add(node.name, .addDevice(name: d.name, kind: d.kind, mtu: d.mtu), origin("\(d.kind.name) \(d.name)", d.provenance, node))
            created[node.name, default: []].append(d.name)
        }
        for x in node.vxlans {
            add(node.name, .addVXLAN(VXLANSpec(name: x.name, vni: x.vni, local: x.local, remote: x.group, port: x.port,
                                               underlayDevice: x.dev, mtu: x.mtu, master: x.master, ttl: x.ttl,
                                               settings: x.settings)),
                origin("VXLAN \(x.name)", x.provenance, node))
            created[node.name, default: []].append(x.name)
        }
    }

    private mutating func addTunnels() {
        for (t, tunnel) in topology.tunnels.enumerated() {
            let what = "\(tunnel.kind.name) \(tunnel.name) \(tunnel.a.node) <-> \(tunnel.b.node)"
            let from = origin(what, tunnel.provenance.location, "tunnels[\(t)]")
            for (end, peer) in [(tunnel.a, tunnel.b), (tunnel.b, tunnel.a)] {
                guard case .address(let local) = end.underlay, case .address(let remote) = peer.underlay else { continue }
                let ifname = end.interface!
                let operation: PlanOperation
                switch tunnel.kind {
                case .vxlan(let vni, let port):
                    operation = .addVXLAN(VXLANSpec(name: ifname, vni: vni, local: local, remote: remote, port: port,
                                                    underlayDevice: end.underlayDevice, mtu: tunnel.mtu, master: end.master,
                                                    ttl: tunnel.ttl, settings: tunnel.vxlan))
                case .wireguard:
                    continue  // refused by validation until NetnsKit can configure keys and peers
                case .gre, .gretap, .ipip, .sit, .ip6tnl:
                    operation = .addTunnel(IPTunnelSpec(kind: ipTunnelKind(tunnel.kind, v6: local.isIPv6), name: ifname,
                                                        local: local, remote: remote, ttl: tunnel.ttl, mtu: tunnel.mtu,
                                                        master: end.master))
                }
                add(end.node, operation, from)
                created[end.node, default: []].append(ifname)
            }
        }
    }

    private func ipTunnelKind(_ kind: Tunnel.Kind, v6: Bool) -> IPTunnelSpec.Kind {
        switch kind {
        case .gre: v6 ? .ip6gre : .gre
        case .gretap: v6 ? .ip6gretap : .gretap
        case .sit: .sit
        case .ip6tnl: .ip6tnl
        default: .ipip
        }
    }

    /// Enslaves declared ports that were not created with their master, then sets port VLANs.
    /// The interfaces of each node that are created with their master (link and tunnel ends
    /// with `master`), computed in one pass over the links for every node.
    private lazy var createdWithMasterByNode: [String: Set<String>] = {
        var out: [String: Set<String>] = [:]
        for link in topology.links {
            for end in link.ends where end.master != nil { out[end.node, default: []].insert(end.endpoint.interface!) }
        }
        for t in topology.tunnels {
            for end in t.ends where end.master != nil { out[end.node, default: []].insert(end.interface!) }
        }
        return out
    }()

    private mutating func addPorts(_ node: Node) {
        let createdWithMaster = createdWithMasterByNode[node.name] ?? []
        for b in node.bridges {
            for port in b.ports where !createdWithMaster.contains(port.name) {
                add(node.name, .setMaster(port.name, master: b.name), origin(b, in: node))
            }
        }
        for d in node.devices {
            for member in d.kind.members {
                add(node.name, .setMaster(member, master: d.name), origin("\(d.kind.name) \(d.name)", d.provenance, node))
            }
        }
        for b in node.bridges {
            for port in b.ports where port.pvid != nil || !port.vlans.isEmpty {
                add(node.name, .setBridgeVLAN(port: port.name, pvid: port.pvid, vlans: port.vlans), origin(b, in: node))
            }
        }
        for b in node.bridges {
            for port in b.ports where port.hasFlags {
                add(node.name, .setBridgePort(port: port.name, port.options), origin(b, in: node))
            }
            for e in b.fdb {
                add(node.name, .addFDB(FDBSpec(device: e.port!, mac: e.mac, vlan: e.vlan, master: true)),
                    origin("fdb \(e.mac) on \(b.name)", e.provenance, node))
            }
        }
        for x in node.vxlans {
            for remote in x.remotes {
                add(node.name, .addFDB(FDBSpec(device: x.name, mac: MACAddress.zero, dst: remote, master: false)),
                    origin("VXLAN \(x.name)", x.provenance, node))
            }
            for e in x.fdb {
                add(node.name, .addFDB(FDBSpec(device: x.name, mac: e.mac, dst: e.dst, master: false)),
                    origin("fdb \(e.mac) on \(x.name)", e.provenance, node))
            }
        }
    }

    private func routeSpec(_ r: Route, in node: String) -> RouteSpec {
        let device = r.dev ?? r.via.flatMap { r.onlink ? nil : resolution.connectedInterface(for: $0, in: node, dev: nil) }
        let scope = r.scope ?? RouteSpec.impliedScope(r.type, gateway: r.via, multipath: !r.nexthops.isEmpty)
        let hops = r.nexthops.map { hop in
            NexthopSpec(gateway: hop.via,
                        device: hop.dev ?? hop.via.flatMap { resolution.connectedInterface(for: $0, in: node, dev: nil) },
                        weight: hop.weight, onlink: r.onlink)
        }
        return RouteSpec(family: r.family, destination: r.destinationPrefix, type: r.type, gateway: r.via, device: device,
                         table: r.table, metric: r.metric, scope: scope, proto: r.proto ?? RouteProtocol.static,
                         source: r.src, onlink: r.onlink, nexthops: hops, mtu: r.mtu, advmss: r.advmss)
    }
}

extension PlanOperation {
    /// The command that does the same as this operation in `node`.
    public func command(in node: String) -> String { command(in: node, up: false, physical: false, namespace: { $0 }) }

    /// The command for this operation in `node`, as the build program sends it.
    ///
    /// - Parameters:
    ///   - up: The link is created up (a `link set up` folded into its creation), written as
    ///     `ip link add … && ip link set … up`.
    ///   - physical: Spell what the builder sends beyond the plan (one queue per veth end).
    ///   - namespace: The namespace name of a node (`ip netns` name), e.g. with a lab prefix.
    func command(in node: String, up: Bool, physical: Bool, namespace: (String) -> String) -> String {
        let text = command(in: node, physical: physical, namespace: namespace)
        // `ip link add` cannot create a link up; the builder's one RTM_NEWLINK carries IFF_UP.
        guard up, let name = createdInterface else { return text }
        return text + " && ip -n \(namespace(node)) link set \(name) up"
    }

    /// The interface a link creation creates (in the step's node).
    var createdInterface: String? {
        switch self {
        case .addVeth(let v): v.name
        case .addBridge(let b): b.name
        case .addVXLAN(let x): x.name
        case .addMacvlan(let name, _, _, _), .addVLAN(let name, _, _), .addDummy(let name, _), .addDevice(let name, _, _): name
        case .addTunnel(let t): t.name
        default: nil
        }
    }

    private func command(in node: String, physical: Bool, namespace: (String) -> String) -> String {
        let n = namespace(node)
        let queues = physical ? " numtxqueues 1 numrxqueues 1" : ""
        func opt<T>(_ label: String, _ value: T?) -> String { value.map { " \(label) \($0)" } ?? "" }
        func family(_ f: IPFamily) -> String { f == .ipv6 ? "-6 " : "" }
        switch self {
        case .createNamespace:
            return "ip netns add \(n)"
        case .setSysctl(let key, let value), .setInterfaceSysctl(_, let key, let value):
            return "ip netns exec \(n) sysctl -w \(key)=\(value)"
        case .linkUp(let ifname):
            return "ip -n \(n) link set \(ifname) up"
        case .addVeth(let v):
            return "ip -n \(n) link add \(v.name)" + opt("address", v.mac) + opt("mtu", v.mtu) + opt("master", v.master)
                + opt("alias", v.alias.map { "\"\($0)\"" }) + queues
                + " type veth peer name \(v.peerName) netns \(namespace(v.peerNode))"
                + opt("address", v.peerMAC) + opt("mtu", v.peerMTU) + opt("master", v.peerMaster)
                + opt("alias", v.peerAlias.map { "\"\($0)\"" }) + queues
        case .addBridge(let b):
            let o = b.options
            return "ip -n \(n) link add \(b.name)" + opt("address", b.mac) + opt("mtu", b.mtu)
                + " type bridge stp_state \(b.stp ? 1 : 0)"
                // The builder sends vlan_filtering only to turn it on (a kernel without it refuses even 0).
                + (physical && !b.vlanFiltering ? "" : " vlan_filtering \(b.vlanFiltering ? 1 : 0)")
                + opt("vlan_default_pvid", o.vlanDefaultPvid) + opt("ageing_time", o.ageingTime)
                + opt("forward_delay", o.forwardDelay) + opt("hello_time", o.helloTime) + opt("max_age", o.maxAge)
                + opt("mcast_snooping", o.mcastSnooping.map { $0 ? 1 : 0 })
        case .addVXLAN(let x):
            let s = x.settings
            return "ip -n \(n) link add \(x.name)" + opt("mtu", x.mtu) + opt("master", x.master)
                + " type vxlan id \(x.vni)" + opt("local", x.local)
                + opt(x.remote?.isMulticast == true ? "group" : "remote", x.remote) + " dstport \(x.port)"
                + opt("dev", x.underlayDevice) + opt("ttl", x.ttl) + opt("tos", s.tos.map { "0x" + String($0, radix: 16) })
                + (s.learning.map { $0 ? " learning" : " nolearning" } ?? "")
                + (s.udpChecksum.map { $0 ? " udpcsum" : " noudpcsum" } ?? "") + opt("df", s.df?.rawValue)
        case .addMacvlan(let name, let parent, let mode, let mac):
            return "ip -n \(n) link add \(name) link \(parent)" + opt("address", mac) + " type macvlan mode \(mode.rawValue)"
        case .addVLAN(let name, let parent, let id):
            return "ip -n \(n) link add \(name) link \(parent) type vlan id \(id)"
        case .addDummy(let name, let mtu):
            return "ip -n \(n) link add \(name)" + opt("mtu", mtu) + " type dummy"
        case .addDevice(let name, let kind, let mtu):
            let add = "ip -n \(n) link add \(name)" + opt("mtu", mtu)
            switch kind {
            case .vrf(let table, _):
                return add + " type vrf table \(table)"
            case .bond(let b):
                return add + " type bond mode \(b.mode.rawValue)" + opt("miimon", b.miimon) + opt("primary", b.primary)
            case .ipvlan(let parent, let mode):
                return "ip -n \(n) link add \(name) link \(parent)" + opt("mtu", mtu) + " type ipvlan mode \(mode.rawValue)"
            case .geneve(let g):
                return add + " type geneve id \(g.vni) remote \(g.remote) dstport \(g.port)" + opt("ttl", g.ttl)
            case .ifb:
                return add + " type ifb"
            case .tun, .tap:
                return "ip -n \(n) tuntap add dev \(name) mode \(kind.name)" + (mtu.map { " && ip -n \(n) link set \(name) mtu \($0)" } ?? "")
            }
        case .addTunnel(let t):
            return "ip -n \(n) link add \(t.name)" + opt("mtu", t.mtu) + opt("master", t.master)
                + " type \(t.kind.rawValue) local \(t.local) remote \(t.remote)" + opt("ttl", t.ttl)
        case .setBridgePort(let port, let o):
            func flag(_ name: String, _ v: Bool?) -> String { v.map { " \(name) \($0 ? "on" : "off")" } ?? "" }
            return "bridge -n \(n) link set dev \(port)" + flag("learning", o.learning) + flag("flood", o.flood)
                + flag("mcast_flood", o.mcastFlood) + flag("neigh_suppress", o.neighSuppress)
                + flag("isolated", o.isolated) + flag("hairpin", o.hairpin)
        case .addFDB(let f):
            return "bridge -n \(n) fdb \(f.master ? "add" : "append") \(f.mac) dev \(f.device)" + opt("dst", f.dst)
                + opt("vlan", f.vlan) + (f.master ? " master static" : " self permanent")
        case .setMaster(let ifname, let master):
            return "ip -n \(n) link set \(ifname) master \(master)"
        case .setBridgeVLAN(let port, let pvid, let vlans):
            let pvidCommand = pvid.map { ["bridge -n \(n) vlan add dev \(port) vid \($0) pvid untagged"] } ?? []
            return (pvidCommand + vlans.map { "bridge -n \(n) vlan add dev \(port) vid \($0)" }).joined(separator: " && ")
        case .addAddress(let ifname, let prefix, let nodad, let metric, let noprefixroute):
            // The builder sets an IPv4 address's broadcast address, as `brd +` does.
            let brd = physical && prefix.address.isIPv4 && prefix.length < 31 ? " brd +" : ""
            return "ip -n \(n) addr add \(prefix)\(brd) dev \(ifname)" + (nodad ? " nodad" : "") + opt("metric", metric)
                + (noprefixroute ? " noprefixroute" : "")
        case .addNeighbor(let ifname, let ip, let mac):
            return "ip -n \(n) neigh add \(ip) lladdr \(mac) dev \(ifname) nud permanent"
        case .addRoute(let r), .removeRoute(let r):
            let verb = if case .removeRoute = self { "del" } else { "add" }
            let destination = r.destination.length == 0 ? "default" : r.destination.description
            var text = "ip \(family(r.family))-n \(n) route \(verb) " + (r.type == .unicast ? "" : "\(r.type.name) ") + destination
            text += opt("via", r.gateway.map { IPFamily(of: $0) == r.family ? "\($0)" : "inet6 \($0)" }) + opt("dev", r.device)
            // `ip` puts local and broadcast routes into table local unless told otherwise.
            if r.table != RouteTable.main { text += " table \(r.table == RouteTable.local ? "local" : "\(r.table)")" } else if [.local, .broadcast].contains(r.type) {
                text += " table main"
            }
            text += opt("metric", r.metric) + opt("src", r.source)
            // `ip route add` says `proto boot` unless told: the program spells the builder's `static`.
            if r.proto != RouteProtocol.static || (physical && verb == "add") { text += " proto \(r.proto)" }
            if r.scope != RouteSpec.impliedScope(r.type, gateway: r.gateway, multipath: !r.nexthops.isEmpty) {
                text += " scope \(r.scope.name)"
            }
            if r.onlink { text += " onlink" }
            text += opt("mtu", r.mtu) + opt("advmss", r.advmss)
            for hop in r.nexthops {
                text += " nexthop" + opt("via", hop.gateway.map { IPFamily(of: $0) == r.family ? "\($0)" : "inet6 \($0)" })
                    + opt("dev", hop.device) + " weight \(hop.weight)"
                if hop.onlink { text += " onlink" }
            }
            return text
        case .addRule(let r):
            var text = "ip \(family(r.family))-n \(n) rule add" + opt("pref", r.priority) + opt("from", r.from) + opt("to", r.to)
                + opt("iif", r.iif) + opt("oif", r.oif)
            // `ip rule` reads tos in hex.
            text += opt("tos", r.tos.map { "0x" + String($0, radix: 16) })
            if let mark = r.fwmark {
                text += " fwmark 0x" + String(mark, radix: 16) + (r.fwmask.map { "/0x" + String($0, radix: 16) } ?? "")
            }
            text += opt("ipproto", r.ipproto.map { p in IPProtocolNames.byName.first { $0.value == p }?.key ?? "\(p)" })
            // `ip rule` reads a UID range only as START-END.
            text += opt("sport", r.sport) + opt("dport", r.dport) + opt("uidrange", r.uidrange.map { "\($0.lowerBound)-\($0.upperBound)" })
            text += opt("suppress_prefixlength", r.suppressPrefixlength)
            return text + (r.l3mdev ? " l3mdev" : " \(r.action)")
        case .loadFirewall(let ruleset):
            let lines = ruleset.split(separator: "\n").count
            return "ip netns exec \(n) nft -f - < ruleset (\(lines) line\(lines == 1 ? "" : "s"))"
        case .addQdisc(let ifname, let kind, let handle, let parent):
            // tc reads handles and class ids in hex.
            let major = String(handle, radix: 16)
            let root = "tc -n \(n) qdisc add dev \(ifname) \(parent.map { "parent \($0)" } ?? "root") handle \(major):"
            switch kind {
            case .tbf(let rate, let burst, let limit):
                let bound = switch limit {
                case .latency(let d): "latency \(d.tcText)"
                case .bytes(let n): "limit \(n)"
                }
                return "\(root) tbf rate \(rate) burst \(burst) \(bound)"
            case .htb(let defaultClass, let classes):
                return (["\(root) htb default \(String(defaultClass, radix: 16))"] + classes.map {
                    "tc -n \(n) class add dev \(ifname) parent \(major):\($0.parent.map { String($0, radix: 16) } ?? "")"
                        + " classid \(major):\(String($0.id, radix: 16)) htb rate \($0.rate) ceil \($0.ceil ?? $0.rate)"
                }).joined(separator: " && ")
            case .netem(let delay, let jitter, let loss):
                var text = "\(root) netem"
                if delay != .zero { text += " delay \(delay.tcText)" + (jitter != .zero ? " \(jitter.tcText)" : "") }
                if loss != 0 { text += " loss \(loss.formatted)%" }
                return text
            }
        }
    }
}

extension Double {
    /// `1` for 1.0, `0.5` for 0.5.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}

extension RuleSpec {
    /// The planned form of a declared rule: what the build sends, and what a live change on a
    /// running node sends.
    public init(_ r: Rule) {
        self.init(family: r.resolvedFamily, priority: r.priority, from: r.from, to: r.to, iif: r.iif, oif: r.oif,
                  fwmark: r.fwmark, fwmask: r.fwmask, action: r.action, tos: r.tos, uidrange: r.uidrange,
                  ipproto: r.ipproto, sport: r.sport, dport: r.dport, l3mdev: r.l3mdev,
                  suppressPrefixlength: r.suppressPrefixlength)
    }
}

extension RouteSpec {
    /// The planned form of a route added to a running node: its devices as declared (unlike the
    /// planner, a live change does not look up which interface reaches the gateway; the kernel
    /// does), its scope and protocol as the planner chooses them.
    public init(declared r: Route) {
        self.init(family: r.family, destination: r.destinationPrefix, type: r.type, gateway: r.via, device: r.dev,
                  table: r.table, metric: r.metric,
                  scope: r.scope ?? Self.impliedScope(r.type, gateway: r.via, multipath: !r.nexthops.isEmpty),
                  proto: r.proto ?? RouteProtocol.static, source: r.src, onlink: r.onlink,
                  nexthops: r.nexthops.map { NexthopSpec(gateway: $0.via, device: $0.dev, weight: $0.weight, onlink: r.onlink) },
                  mtu: r.mtu, advmss: r.advmss)
    }
}
