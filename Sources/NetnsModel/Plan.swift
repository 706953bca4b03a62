/// The ordered operations that build a topology, every name and value resolved.
public struct Plan: Sendable, Hashable, CustomStringConvertible {
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
    public var operation: PlanOperation
    /// The declaration it came from, e.g. `link h1:eth0 <-> r1:eth0 (Topo.swift:12)`.
    public var origin: String

    /// The `ip`, `bridge`, `tc` or `sysctl` command that does the same.
    public var description: String { operation.command(in: node) }
}

/// A veth pair, created with each end directly in its namespace and with its final settings.
public struct VethSpec: Sendable, Hashable {
    public var name: String
    public var mtu: Int?
    public var mac: MACAddress?
    public var master: String?
    public var alias: String?
    public var peerNode: String
    public var peerName: String
    public var peerMTU: Int?
    public var peerMAC: MACAddress?
    public var peerMaster: String?
    public var peerAlias: String?
}

/// A bridge.
public struct BridgeSpec: Sendable, Hashable {
    public var name: String
    public var stp: Bool
    public var vlanFiltering: Bool
    public var mtu: Int?
    public var mac: MACAddress?
}

/// A VXLAN interface with a unicast remote.
public struct VXLANSpec: Sendable, Hashable {
    public var name: String
    public var vni: UInt32
    public var local: IPAddress
    public var remote: IPAddress
    public var port: UInt16
    public var underlayDevice: String?
    public var mtu: Int?
    public var master: String?
}

/// An IP tunnel interface (GRE, IP-in-IP and their IPv6 forms).
public struct IPTunnelSpec: Sendable, Hashable {
    /// The kernel link kinds of IP tunnels.
    public enum Kind: String, Sendable, Hashable {
        case gre, gretap, ip6gre, ip6gretap, ipip, sit, ip6tnl
    }
    public var kind: Kind
    public var name: String
    public var local: IPAddress
    public var remote: IPAddress
    public var ttl: UInt8?
    public var mtu: Int?
    public var master: String?
}

/// A WireGuard interface with one peer; the builder generates a key pair per interface.
public struct WireGuardSpec: Sendable, Hashable {
    public var name: String
    public var listenPort: UInt16
    public var mtu: Int?
    /// The peer's node and interface, whose generated public key the builder installs.
    public var peerNode: String
    public var peerInterface: String
    public var peerEndpoint: IPAddress
    public var peerPort: UInt16
    /// The peer's overlay addresses as host prefixes.
    public var allowedIPs: [IPPrefix]
}

/// A route with its family, destination, device and defaults made explicit.
public struct RouteSpec: Sendable, Hashable {
    public var family: IPFamily
    public var destination: IPPrefix
    public var type: RouteType
    public var gateway: IPAddress?
    public var device: String?
    public var table: UInt32
    public var metric: UInt32?
    public var scope: RouteScope
    public var proto: UInt8
    public var source: IPAddress?
    public var onlink: Bool
    public var nexthops: [NexthopSpec]
}

/// One next hop of a multipath route.
public struct NexthopSpec: Sendable, Hashable {
    public var gateway: IPAddress?
    public var device: String?
    public var weight: Int
    public var onlink: Bool
}

/// A policy rule with its family made explicit; `priority` `nil` lets the kernel choose.
public struct RuleSpec: Sendable, Hashable {
    public var family: IPFamily
    public var priority: UInt32?
    public var from: IPPrefix?
    public var to: IPPrefix?
    public var iif: String?
    public var oif: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32?
    public var action: Rule.Action
}

/// One thing the builder does in a namespace.
public enum PlanOperation: Sendable, Hashable {
    case createNamespace
    case setSysctl(key: String, value: String)
    case linkUp(String)
    case addVeth(VethSpec)
    case addBridge(BridgeSpec)
    case addVXLAN(VXLANSpec)
    case addMacvlan(name: String, parent: String, mode: Macvlan.Mode, mac: MACAddress?)
    case addVLAN(name: String, parent: String, id: Int)
    case addDummy(name: String, mtu: Int?)
    case addTunnel(IPTunnelSpec)
    case addWireGuard(WireGuardSpec)
    case setMaster(String, master: String)
    case setBridgeVLAN(port: String, pvid: UInt16?, vlans: [UInt16])
    case addAddress(String, IPPrefix, nodad: Bool)
    case addNeighbor(String, IPAddress, MACAddress)
    case addRoute(RouteSpec)
    case addRule(RuleSpec)
    /// A root qdisc with handle `1:` (and, for HTB, its classes).
    case addQdisc(String, Qdisc.Kind)
    /// An nftables ruleset, loaded last.
    case loadFirewall(String)
}

extension Topology {
    /// The operations that build this topology, in dependency order; validates first.
    ///
    /// Order: namespaces; per node loopback up and sysctls; bridges; veths (with masters);
    /// dummies, VLANs, macvlans and tunnels (after their parents); masters and bridge VLANs;
    /// every interface up (bridges before ports); addresses; neighbours; routes (multipath last);
    /// rules; qdiscs.
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
            for key in node.sysctls.keys.sorted() {
                add(node.name, .setSysctl(key: key, value: node.sysctls[key]!), origin(node))
            }
        }
        for node in nodes {
            for b in node.bridges {
                add(node.name, .addBridge(BridgeSpec(name: b.name, stp: b.stp, vlanFiltering: b.vlanFiltering,
                                                     mtu: b.mtu, mac: b.mac)), origin(b, in: node))
                bridges[node.name, default: []].append(b.name)
            }
        }
        addVeths()
        for node in nodes { addSubInterfaces(node) }
        addTunnels()
        for node in nodes { addPorts(node) }
        for node in nodes {
            for ifname in bridges[node.name, default: []] + created[node.name, default: []] {
                add(node.name, .linkUp(ifname), origin(node))
            }
        }
        for node in nodes {
            for r in resolution.addresses[node.name] ?? [] {
                add(node.name, .addAddress(r.interface, r.prefix, nodad: r.prefix.address.isIPv6 && r.nodad),
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
                for r in node.routes where r.nexthops.isEmpty != multipath {
                    add(node.name, .addRoute(routeSpec(r, in: node.name)), origin("route \(r.destination)", r.provenance, node))
                }
            }
        }
        for node in nodes {
            for r in node.rules {
                add(node.name, .addRule(RuleSpec(family: r.resolvedFamily, priority: r.priority, from: r.from, to: r.to,
                                                 iif: r.iif, oif: r.oif, fwmark: r.fwmark, fwmask: r.fwmask,
                                                 action: r.action)),
                    origin("rule \(r.action)", r.provenance, node))
            }
        }
        for node in nodes {
            for q in node.qdiscs {
                add(node.name, .addQdisc(q.interface!, q.kind), origin("qdisc \(q.kind.name) on \(q.interface!)", q.provenance, node))
            }
        }
        for node in nodes {
            if let f = node.firewall { add(node.name, .loadFirewall(f), origin("firewall", node.provenance, node)) }
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
                                                    underlayDevice: end.underlayDevice, mtu: tunnel.mtu, master: end.master))
                case .wireguard(let port):
                    operation = .addWireGuard(WireGuardSpec(
                        name: ifname, listenPort: port, mtu: tunnel.mtu, peerNode: peer.node, peerInterface: peer.interface!,
                        peerEndpoint: remote, peerPort: port,
                        allowedIPs: peer.addresses.map { IPPrefix($0.address, $0.address.bitWidth) }))
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
    private mutating func addPorts(_ node: Node) {
        let createdWithMaster = Set(topology.links.flatMap { link in
            link.ends.filter { $0.node == node.name && $0.master != nil }.map { $0.endpoint.interface! }
        } + topology.tunnels.flatMap { t in t.ends.filter { $0.node == node.name && $0.master != nil }.map { $0.interface! } })
        for b in node.bridges {
            for port in b.ports where !createdWithMaster.contains(port.name) {
                add(node.name, .setMaster(port.name, master: b.name), origin(b, in: node))
            }
        }
        for b in node.bridges {
            for port in b.ports where port.pvid != nil || !port.vlans.isEmpty {
                add(node.name, .setBridgeVLAN(port: port.name, pvid: port.pvid, vlans: port.vlans), origin(b, in: node))
            }
        }
    }

    private func routeSpec(_ r: Route, in node: String) -> RouteSpec {
        let device = r.dev ?? r.via.flatMap { r.onlink ? nil : resolution.connectedInterface(for: $0, in: node, dev: nil) }
        let scope = r.scope ?? (r.type == .unicast && r.via == nil && r.nexthops.isEmpty ? .link : .universe)
        let hops = r.nexthops.map { hop in
            NexthopSpec(gateway: hop.via,
                        device: hop.dev ?? hop.via.flatMap { resolution.connectedInterface(for: $0, in: node, dev: nil) },
                        weight: hop.weight, onlink: r.onlink)
        }
        return RouteSpec(family: r.family, destination: r.destinationPrefix, type: r.type, gateway: r.via, device: device,
                         table: r.table, metric: r.metric, scope: scope, proto: r.proto ?? RouteProtocol.static,
                         source: r.src, onlink: r.onlink, nexthops: hops)
    }
}

extension PlanOperation {
    /// The command that does the same as this operation in `node`.
    public func command(in node: String) -> String {
        func opt<T>(_ label: String, _ value: T?) -> String { value.map { " \(label) \($0)" } ?? "" }
        func family(_ f: IPFamily) -> String { f == .ipv6 ? "-6 " : "" }
        switch self {
        case .createNamespace:
            return "ip netns add \(node)"
        case .setSysctl(let key, let value):
            return "ip netns exec \(node) sysctl -w \(key)=\(value)"
        case .linkUp(let ifname):
            return "ip -n \(node) link set \(ifname) up"
        case .addVeth(let v):
            return "ip -n \(node) link add \(v.name)" + opt("address", v.mac) + opt("mtu", v.mtu) + opt("master", v.master)
                + opt("alias", v.alias.map { "\"\($0)\"" }) + " type veth peer name \(v.peerName) netns \(v.peerNode)"
                + opt("address", v.peerMAC) + opt("mtu", v.peerMTU) + opt("master", v.peerMaster)
                + opt("alias", v.peerAlias.map { "\"\($0)\"" })
        case .addBridge(let b):
            return "ip -n \(node) link add \(b.name)" + opt("address", b.mac) + opt("mtu", b.mtu)
                + " type bridge stp_state \(b.stp ? 1 : 0) vlan_filtering \(b.vlanFiltering ? 1 : 0)"
        case .addVXLAN(let x):
            return "ip -n \(node) link add \(x.name)" + opt("mtu", x.mtu) + opt("master", x.master)
                + " type vxlan id \(x.vni) local \(x.local) remote \(x.remote) dstport \(x.port)" + opt("dev", x.underlayDevice)
        case .addMacvlan(let name, let parent, let mode, let mac):
            return "ip -n \(node) link add \(name) link \(parent)" + opt("address", mac) + " type macvlan mode \(mode.rawValue)"
        case .addVLAN(let name, let parent, let id):
            return "ip -n \(node) link add \(name) link \(parent) type vlan id \(id)"
        case .addDummy(let name, let mtu):
            return "ip -n \(node) link add \(name)" + opt("mtu", mtu) + " type dummy"
        case .addTunnel(let t):
            return "ip -n \(node) link add \(t.name)" + opt("mtu", t.mtu) + opt("master", t.master)
                + " type \(t.kind.rawValue) local \(t.local) remote \(t.remote)" + opt("ttl", t.ttl)
        case .addWireGuard(let w):
            return "ip -n \(node) link add \(w.name)" + opt("mtu", w.mtu) + " type wireguard && ip netns exec \(node) wg set \(w.name)"
                + " listen-port \(w.listenPort) private-key <generated> peer <public key of \(w.peerNode):\(w.peerInterface)>"
                + " endpoint \(w.peerEndpoint.isIPv6 ? "[\(w.peerEndpoint)]" : "\(w.peerEndpoint)"):\(w.peerPort)"
                + " allowed-ips \(w.allowedIPs.map(\.description).joined(separator: ","))"
        case .setMaster(let ifname, let master):
            return "ip -n \(node) link set \(ifname) master \(master)"
        case .setBridgeVLAN(let port, let pvid, let vlans):
            let pvidCommand = pvid.map { ["bridge -n \(node) vlan add dev \(port) vid \($0) pvid untagged"] } ?? []
            return (pvidCommand + vlans.map { "bridge -n \(node) vlan add dev \(port) vid \($0)" }).joined(separator: " && ")
        case .addAddress(let ifname, let prefix, let nodad):
            return "ip -n \(node) addr add \(prefix) dev \(ifname)" + (nodad ? " nodad" : "")
        case .addNeighbor(let ifname, let ip, let mac):
            return "ip -n \(node) neigh add \(ip) lladdr \(mac) dev \(ifname) nud permanent"
        case .addRoute(let r):
            let destination = r.destination.length == 0 ? "default" : r.destination.description
            var text = "ip \(family(r.family))-n \(node) route add " + (r.type == .unicast ? "" : "\(r.type.name) ") + destination
            text += opt("via", r.gateway) + opt("dev", r.device)
            if r.table != RouteTable.main { text += " table \(r.table)" }
            text += opt("metric", r.metric) + opt("src", r.source)
            if r.proto != RouteProtocol.static { text += " proto \(r.proto)" }
            if r.scope != .universe && !(r.scope == .link && r.gateway == nil && r.nexthops.isEmpty && r.type == .unicast) {
                text += " scope \(r.scope.name)"
            }
            if r.onlink { text += " onlink" }
            for hop in r.nexthops {
                text += " nexthop" + opt("via", hop.gateway) + opt("dev", hop.device) + " weight \(hop.weight)"
                if hop.onlink { text += " onlink" }
            }
            return text
        case .addRule(let r):
            var text = "ip \(family(r.family))-n \(node) rule add" + opt("pref", r.priority) + opt("from", r.from) + opt("to", r.to)
                + opt("iif", r.iif) + opt("oif", r.oif)
            if let mark = r.fwmark {
                text += " fwmark 0x" + String(mark, radix: 16) + (r.fwmask.map { "/0x" + String($0, radix: 16) } ?? "")
            }
            return text + " \(r.action)"
        case .loadFirewall(let ruleset):
            let lines = ruleset.split(separator: "\n").count
            return "ip netns exec \(node) nft -f - < ruleset (\(lines) line\(lines == 1 ? "" : "s"))"
        case .addQdisc(let ifname, let kind):
            let root = "tc -n \(node) qdisc add dev \(ifname) root handle 1:"
            switch kind {
            case .tbf(let rate, let burst, let limit):
                let bound = switch limit {
                case .latency(let d): "latency \(d.tcText)"
                case .bytes(let n): "limit \(n)"
                }
                return "\(root) tbf rate \(rate) burst \(burst) \(bound)"
            case .htb(let defaultClass, let classes):
                return (["\(root) htb default \(defaultClass)"] + classes.map {
                    "tc -n \(node) class add dev \(ifname) parent 1: classid 1:\($0.id) htb rate \($0.rate) ceil \($0.ceil ?? $0.rate)"
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
