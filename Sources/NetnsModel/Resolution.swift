/// What kind of interface a name in a node stands for.
enum InterfaceKind: Hashable {
    case loopback, veth, bridge, macvlan, vlan, dummy
    case tunnel(Tunnel.Kind)
    case device(Device.Kind)
}

/// An interface known in a node, and where it was declared.
struct InterfaceInfo {
    var kind: InterfaceKind
    var path: String
}

/// An address that ends up on an interface, whichever declaration put it there.
struct AddressRecord {
    var interface: String
    var prefix: IPPrefix
    var nodad: Bool
    var metric: UInt32? = nil
    var noprefixroute = false
    var path: String
    var location: DeclarationLocation?
}

/// The interfaces of one node, in the order they were declared.
struct InterfaceTable {
    private(set) var names: [String] = []
    private(set) var info: [String: InterfaceInfo] = [:]

    subscript(name: String) -> InterfaceInfo? { info[name] }

    mutating func add(_ name: String, _ entry: InterfaceInfo) {
        names.append(name)
        info[name] = entry
    }

    /// The known names, for messages: `eth0, eth1, lo`.
    var listing: String { names.sorted().joined(separator: ", ") }
}

/// Resolves a topology (generated names, defaults, underlays) and collects every problem on the way.
///
/// The planner works from a resolution without issues; validation reports its issues.
struct Resolution {
    /// The declared topology.
    let original: Topology
    /// The topology with every implicit choice made explicit.
    private(set) var topology: Topology
    private(set) var issues: [ValidationIssue] = []
    /// The index of the first node of each name.
    private(set) var nodeIndex: [String: Int] = [:]
    /// Each node's interfaces.
    private(set) var interfaces: [String: InterfaceTable] = [:]
    /// Each node's addresses, from nodes, bridges, links and tunnels.
    private(set) var addresses: [String: [AddressRecord]] = [:]
    /// Each node's first link interface: where `on:`-less declarations go.
    private(set) var defaultInterface: [String: String] = [:]
    /// Interface names already reported as invalid, per node, so references to them add no second error.
    private var rejectedNames: [String: Set<String>] = [:]
    /// True for a topology read from a file (the DSL records where a topology was declared):
    /// hints then speak of keys, not of Swift declarations.
    private let fromFile: Bool

    init(_ topology: Topology) {
        original = topology
        self.topology = topology
        fromFile = topology.provenance.location == nil
        indexNodes()
        registerDeclaredInterfaces()
        resolveLinks()
        resolveNodeContents()
        collectAddresses()
        resolveTunnels()
        checkMalformedValues()
        checkReferences()
        checkSegments()
        checkInterfaceAddresses()
        checkBridgePorts()
        checkSysctls()
        checkRoutes()
        checkDuplicateRoutes()
        checkRules()
        checkMTUs()
        checkVLANs()
        checkDevices()
        checkLayer2()
        checkQdiscs()
    }

    // MARK: Helpers

    mutating func report(_ code: ValidationIssue.Code, _ message: String, at path: String,
                                 _ location: DeclarationLocation?, hint: String? = nil) {
        issues.append(ValidationIssue(code, cappedText(message), at: path, location: location, hint: hint.map { cappedText($0) }))
    }

    /// The node names, sorted; the first ten and a count when there are more.
    private var nodeListing: String {
        let names = original.nodes.map(\.name).sorted()
        return names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", … and \(names.count - 10) more" : "")
    }

    /// The nodes to resolve: the first of each name, with its index.
    var uniqueNodes: [(index: Int, node: Node)] {
        original.nodes.enumerated().filter { nodeIndex[$0.element.name] == $0.offset }.map { ($0.offset, $0.element) }
    }

    private mutating func register(_ name: String, in node: String, _ kind: InterfaceKind, at path: String,
                                   _ location: DeclarationLocation?) {
        if let problem = Limits.interfaceNameProblem(name) {
            rejectedNames[node, default: []].insert(name)
            report(.invalidInterfaceName, "interface name \"\(name)\" \(problem)", at: path, location,
                   hint: "use at most 15 bytes without '/', ':' or spaces, like eth0 or br-lan")
            return
        }
        if let first = interfaces[node]?[name] {
            report(.duplicateInterface, "interface \"\(name)\" is declared twice in \(node) (first at \(first.path))",
                   at: path, location, hint: "rename one of them")
            return
        }
        interfaces[node, default: InterfaceTable()].add(name, InterfaceInfo(kind: kind, path: path))
    }

    /// Checks that `node` has an interface `name`, reporting `role` if not; returns whether it does.
    @discardableResult
    mutating func require(_ name: String, in node: String, role: String, at path: String,
                                  _ location: DeclarationLocation?) -> Bool {
        guard nodeIndex[node] != nil else { return false }
        if interfaces[node]?[name] != nil { return true }
        if rejectedNames[node]?.contains(name) == true { return false }
        report(.unknownInterface,
               "unknown interface \"\(name)\" for \(role) in \(node) (known: \(interfaces[node]?.listing ?? "none"))",
               at: path, location, hint: "declare the interface in \(node) or fix the name")
        return false
    }

    private mutating func requireNode(_ name: String, at path: String, _ location: DeclarationLocation?) -> Bool {
        if nodeIndex[name] != nil { return true }
        report(.unknownNode, "unknown node \"\(name)\" (known: \(nodeListing))", at: path, location,
               hint: fromFile ? "add {name: \(name)} to nodes, or fix the endpoint" : "declare Host(\"\(name)\") or fix the endpoint")
        return false
    }

    /// The interface to use for a declaration without `on:`.
    private mutating func interface(_ declared: String?, in node: String, for what: String, at path: String,
                                    _ location: DeclarationLocation?) -> String? {
        if let declared { return declared }
        if let fallback = defaultInterface[node] { return fallback }
        report(.missingInterface, "\(what) has no interface, and \(node) has no link to put it on", at: path, location,
               hint: fromFile ? "say which interface with on: NAME" : "say which interface with on: \"name\"")
        return nil
    }

    // MARK: Resolution

    private mutating func indexNodes() {
        for (i, node) in original.nodes.enumerated() {
            let path = "nodes[\(i)]"
            if let problem = Limits.nodeNameProblem(node.name) {
                report(.invalidNodeName, "node name \"\(node.name)\" \(problem)", at: path, node.provenance.location,
                       hint: "use 1…\(Limits.nodeNameLength) characters of A-Z a-z 0-9 _ . -")
            }
            if let first = nodeIndex[node.name] {
                let firstPlace = original.nodes[first].provenance.location.map { "\($0)" } ?? "nodes[\(first)]"
                report(.duplicateNode, "node \"\(node.name)\" is declared twice (first at \(firstPlace))", at: path,
                       node.provenance.location, hint: "give each node its own name")
            } else {
                nodeIndex[node.name] = i
            }
        }
    }

    private mutating func registerDeclaredInterfaces() {
        for (i, node) in uniqueNodes {
            let n = node.name
            interfaces[n] = InterfaceTable()
            interfaces[n]!.add("lo", InterfaceInfo(kind: .loopback, path: "nodes[\(i)]"))
            if node.kind == .switch && node.bridges.isEmpty {
                topology.nodes[i].bridges = [Bridge(name: "br0")]
            }
            for (j, b) in topology.nodes[i].bridges.enumerated() {
                register(b.name, in: n, .bridge, at: "nodes[\(i)].bridges[\(j)]", b.provenance.location)
            }
            for (j, d) in node.dummies.enumerated() {
                register(d.name, in: n, .dummy, at: "nodes[\(i)].dummies[\(j)]", d.provenance.location)
            }
            for (j, v) in node.vlans.enumerated() {
                register(v.name, in: n, .vlan, at: "nodes[\(i)].vlans[\(j)]", v.provenance.location)
            }
            for (j, m) in node.macvlans.enumerated() {
                register(m.name, in: n, .macvlan, at: "nodes[\(i)].macvlans[\(j)]", m.provenance.location)
            }
            for (j, d) in node.devices.enumerated() {
                register(d.name, in: n, .device(d.kind), at: "nodes[\(i)].devices[\(j)]", d.provenance.location)
            }
            for (j, x) in node.vxlans.enumerated() {
                register(x.name, in: n, .tunnel(.vxlan(vni: x.vni, port: x.port)), at: "nodes[\(i)].vxlans[\(j)]",
                         x.provenance.location)
            }
        }
        for (l, link) in original.links.enumerated() {
            for (side, end) in [("a", link.a), ("b", link.b)] {
                let path = "links[\(l)].\(side)"
                guard requireNode(end.node, at: path, link.provenance.location), let name = end.endpoint.interface else {
                    continue
                }
                register(name, in: end.node, .veth, at: path, link.provenance.location)
            }
        }
        for (t, tunnel) in original.tunnels.enumerated() {
            for (side, end) in [("a", tunnel.a), ("b", tunnel.b)] {
                let path = "tunnels[\(t)].\(side)"
                guard requireNode(end.node, at: path, tunnel.provenance.location) else { continue }
                register(end.interface ?? tunnel.name, in: end.node, .tunnel(tunnel.kind), at: path,
                         tunnel.provenance.location)
            }
        }
    }

    /// Names unnamed link ends, sets aliases and switch masters, and checks masters.
    private mutating func resolveLinks() {
        var counters: [String: Int] = [:]
        for (l, link) in original.links.enumerated() {
            for side in ["a", "b"] {
                let end = side == "a" ? link.a : link.b
                guard nodeIndex[end.node] != nil, end.endpoint.interface == nil else { continue }
                var n = counters[end.node, default: 0]
                while interfaces[end.node]?["eth\(n)"] != nil { n += 1 }
                counters[end.node] = n + 1
                let name = "eth\(n)"
                register(name, in: end.node, .veth, at: "links[\(l)].\(side)", link.provenance.location)
                if side == "a" { topology.links[l].a.endpoint.interface = name } else {
                    topology.links[l].b.endpoint.interface = name
                }
            }
            let resolved = topology.links[l]
            topology.links[l].a.alias = resolved.a.alias ?? resolved.b.endpoint.description
            topology.links[l].b.alias = resolved.b.alias ?? resolved.a.endpoint.description
            topology.links[l].a.mtu = resolved.a.mtu ?? resolved.mtu
            topology.links[l].b.mtu = resolved.b.mtu ?? resolved.mtu
            for side in ["a", "b"] {
                let end = side == "a" ? resolved.a : resolved.b
                guard let i = nodeIndex[end.node], let name = end.endpoint.interface else { continue }
                if defaultInterface[end.node] == nil { defaultInterface[end.node] = name }
                let master = end.master ?? bridge(listing: name, in: topology.nodes[i]) ?? topology.nodes[i].switchBridge
                if let master {
                    checkMaster(master, in: end.node, at: "links[\(l)].\(side).master", link.provenance.location)
                }
                if side == "a" { topology.links[l].a.master = master } else { topology.links[l].b.master = master }
            }
        }
    }

    /// The bridge of `node` whose declared ports include `port`.
    private func bridge(listing port: String, in node: Node) -> String? {
        node.bridges.first { $0.ports.contains { $0.name == port } }?.name
    }

    mutating func checkMaster(_ master: String, in node: String, at path: String, _ location: DeclarationLocation?) {
        guard require(master, in: node, role: "master", at: path, location) else { return }
        switch interfaces[node]?[master]?.kind {
        case .bridge:
            break
        case .device(let kind) where kind.name == "vrf" || kind.name == "bond":
            // A VRF's members and a bond's ports are listed on the device, which enslaves them
            // in the right order (a bond refuses a port that is up).
            let key = kind.name == "vrf" ? "members" : "ports"
            report(.notABridge, "master \"\(master)\" in \(node) is a \(kind.name), not a bridge", at: path, location,
                   hint: "list the interface in the \(kind.name)'s \(key) instead")
        default:
            report(.notABridge, "master \"\(master)\" in \(node) is not a bridge", at: path, location,
                   hint: fromFile ? "add {name: \(master)} to the bridges of \(node), or enslave to an existing bridge"
                       : "declare Bridge(\"\(master)\") in \(node), or enslave to an existing bridge")
        }
    }

    /// Fills `on:`-less addresses, qdiscs and neighbours, and adds the sysctls a node's kind implies.
    private mutating func resolveNodeContents() {
        for (i, node) in uniqueNodes {
            let n = node.name
            topology.nodes[i].sysctls = node.impliedSysctls.merging(node.sysctls) { $1 }
            for (j, a) in node.addresses.enumerated() {
                topology.nodes[i].addresses[j].interface = interface(
                    a.interface, in: n, for: "address \(a.prefix)", at: "nodes[\(i)].addresses[\(j)]", a.provenance.location)
            }
            for (j, q) in node.qdiscs.enumerated() {
                topology.nodes[i].qdiscs[j].interface = interface(
                    q.interface, in: n, for: "qdisc \(q.kind.name)", at: "nodes[\(i)].qdiscs[\(j)]", q.provenance.location)
            }
            for (j, e) in node.neighbors.enumerated() {
                topology.nodes[i].neighbors[j].interface = interface(
                    e.interface, in: n, for: "neighbour \(e.address)", at: "nodes[\(i)].neighbors[\(j)]",
                    e.provenance.location)
            }
        }
    }

    private mutating func collectAddresses() {
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            var records: [AddressRecord] = []
            for (j, a) in node.addresses.enumerated() where a.provenance.malformed.isEmpty {
                guard let ifname = a.interface else { continue }
                records.append(AddressRecord(interface: ifname, prefix: a.prefix, nodad: a.nodad, metric: a.metric,
                                             noprefixroute: a.noprefixroute,
                                             path: "nodes[\(i)].addresses[\(j)]", location: a.provenance.location))
            }
            for (j, b) in node.bridges.enumerated() {
                for (k, p) in b.addresses.enumerated() {
                    records.append(AddressRecord(interface: b.name, prefix: p, nodad: true,
                                                 path: "nodes[\(i)].bridges[\(j)].addresses[\(k)]",
                                                 location: b.provenance.location))
                }
            }
            addresses[node.name] = records
        }
        for (l, link) in topology.links.enumerated() {
            for (side, end) in [("a", link.a), ("b", link.b)] {
                guard nodeIndex[end.node] != nil, let ifname = end.endpoint.interface else { continue }
                for (k, p) in end.addresses.enumerated() {
                    addresses[end.node, default: []].append(AddressRecord(
                        interface: ifname, prefix: p, nodad: true, path: "links[\(l)].\(side).addresses[\(k)]",
                        location: link.provenance.location))
                }
            }
        }
        for (t, tunnel) in topology.tunnels.enumerated() {
            for (side, end) in [("a", tunnel.a), ("b", tunnel.b)] where nodeIndex[end.node] != nil {
                for (k, p) in end.addresses.enumerated() {
                    addresses[end.node, default: []].append(AddressRecord(
                        interface: end.interface ?? tunnel.name, prefix: p, nodad: true,
                        path: "tunnels[\(t)].\(side).addresses[\(k)]", location: tunnel.provenance.location))
                }
            }
        }
    }

    /// Addresses a tunnel end may send from, as `(address, subnet, interface)`: not on tunnels, loopback
    /// or the bridge the tunnel itself joins.
    private mutating func underlayCandidates(_ end: TunnelEnd, at path: String,
                                             _ location: DeclarationLocation?) -> [(IPAddress, IPPrefix, String?)] {
        let records = (addresses[end.node] ?? []).filter {
            if $0.interface == end.master { return false }  // the overlay's own bridge
            switch interfaces[end.node]?[$0.interface]?.kind {
            case .tunnel, .loopback: return false
            default: return true
            }
        }
        switch end.underlay {
        case .address(let a):
            if let r = records.first(where: { $0.prefix.address == a }) { return [(a, r.prefix, r.interface)] }
            report(.missingUnderlay, "underlay address \(a) is not an address of \(end.node)", at: path, location,
                   hint: "use an address declared on \(end.node), or name an interface")
            return []
        case .interface(let name):
            guard require(name, in: end.node, role: "tunnel underlay", at: path, location) else { return [] }
            return records.filter { $0.interface == name }.map { ($0.prefix.address, $0.prefix, $0.interface) }
        case nil:
            return records.map { ($0.prefix.address, $0.prefix, $0.interface) }
        }
    }

    private mutating func resolveTunnels() {
        for (t, tunnel) in original.tunnels.enumerated() {
            let path = "tunnels[\(t)]"
            let location = tunnel.provenance.location
            guard nodeIndex[tunnel.a.node] != nil, nodeIndex[tunnel.b.node] != nil else { continue }
            for side in ["a", "b"] {
                if side == "a" { topology.tunnels[t].a.interface = tunnel.a.interface ?? tunnel.name } else {
                    topology.tunnels[t].b.interface = tunnel.b.interface ?? tunnel.name
                }
            }
            if tunnel.a.node == tunnel.b.node {
                report(.invalidTunnel, "tunnel \(tunnel.name) has both ends in \(tunnel.a.node)", at: path, location,
                       hint: "put the ends in two different nodes")
                continue
            }
            if case .wireguard = tunnel.kind {
                report(.invalidTunnel, "WireGuard tunnel \(tunnel.name) is not supported yet: NetnsKit cannot configure WireGuard keys and peers",
                       at: path, location, hint: "use a vxlan, gre or ipip tunnel for now")
                continue
            }
            if case .vxlan(let vni, _) = tunnel.kind, vni >= 1 << 24 {
                report(.invalidTunnel, "VXLAN id \(vni) is out of range 0…16777215", at: "\(path).vni", location)
            }
            for side in ["a", "b"] where tunnel.kind.isEthernet {
                let end = side == "a" ? topology.tunnels[t].a : topology.tunnels[t].b
                guard end.master == nil, let i = nodeIndex[end.node],
                      let master = bridge(listing: end.interface!, in: topology.nodes[i]) else { continue }
                if side == "a" { topology.tunnels[t].a.master = master } else { topology.tunnels[t].b.master = master }
            }
            for (side, end) in [("a", topology.tunnels[t].a), ("b", topology.tunnels[t].b)] {
                if let master = end.master {
                    if tunnel.kind.isEthernet {
                        checkMaster(master, in: end.node, at: "\(path).\(side).master", location)
                    } else {
                        report(.invalidTunnel, "a \(tunnel.kind.name) tunnel carries IP, not Ethernet, so it cannot join bridge \(master)",
                               at: "\(path).\(side).master", location, hint: "use vxlan or gretap to bridge")
                    }
                }
                if let device = end.underlayDevice {
                    require(device, in: end.node, role: "underlay device", at: "\(path).\(side).underlayDevice", location)
                }
            }
            let aCandidates = underlayCandidates(topology.tunnels[t].a, at: "\(path).a.underlay", location)
            let bCandidates = underlayCandidates(topology.tunnels[t].b, at: "\(path).b.underlay", location)
            let allowed: (IPAddress) -> Bool = {
                switch tunnel.kind {
                case .ipip, .sit: $0.isIPv4
                case .ip6tnl: $0.isIPv6
                default: true
                }
            }
            let pairs = aCandidates.filter { allowed($0.0) }.flatMap { a in
                bCandidates.filter { $0.0.isIPv4 == a.0.isIPv4 }.map { (a, $0) }
            }
            let shared = pairs.first { $0.0.1.contains($0.1.0) && $0.1.1.contains($0.0.0) }
            guard let (a, b) = shared ?? pairs.first else {
                let family = tunnel.kind == .ip6tnl ? "IPv6 " : (tunnel.kind == .ipip || tunnel.kind == .sit ? "IPv4 " : "")
                let lacking = aCandidates.isEmpty ? tunnel.a.node : (bCandidates.isEmpty ? tunnel.b.node : nil)
                let message = lacking.map { "tunnel \(tunnel.name) has no \(family)underlay address in \($0)" }
                    ?? "tunnel \(tunnel.name) has no \(family)underlay addresses of one family in \(tunnel.a.node) and \(tunnel.b.node)"
                report(.missingUnderlay, message, at: path, location,
                       hint: "give both nodes an address (on a link) the tunnel can run over, or set the underlay")
                continue
            }
            topology.tunnels[t].a.underlay = .address(a.0)
            topology.tunnels[t].b.underlay = .address(b.0)
            if shared != nil {
                topology.tunnels[t].a.underlayDevice = tunnel.a.underlayDevice ?? a.2
                topology.tunnels[t].b.underlayDevice = tunnel.b.underlayDevice ?? b.2
            }
        }
    }

    // MARK: Checks

    mutating func reportMalformed(_ provenance: Provenance, at path: String) {
        for m in provenance.malformed {
            report(.malformedValue, "malformed \(m.field) \"\(m.text)\"", at: "\(path).\(m.field)",
                   provenance.location, hint: "write \(m.expected)")
        }
    }

    private mutating func checkMalformedValues() {
        for (i, node) in original.nodes.enumerated() {
            let p = "nodes[\(i)]"
            reportMalformed(node.provenance, at: p)
            for (j, x) in node.addresses.enumerated() { reportMalformed(x.provenance, at: "\(p).addresses[\(j)]") }
            for (j, x) in node.routes.enumerated() { reportMalformed(x.provenance, at: "\(p).routes[\(j)]") }
            for (j, x) in node.rules.enumerated() { reportMalformed(x.provenance, at: "\(p).rules[\(j)]") }
            for (j, x) in node.bridges.enumerated() { reportMalformed(x.provenance, at: "\(p).bridges[\(j)]") }
            for (j, x) in node.macvlans.enumerated() { reportMalformed(x.provenance, at: "\(p).macvlans[\(j)]") }
            for (j, x) in node.devices.enumerated() { reportMalformed(x.provenance, at: "\(p).devices[\(j)]") }
            for (j, x) in node.neighbors.enumerated() { reportMalformed(x.provenance, at: "\(p).neighbors[\(j)]") }
            for (j, x) in node.qdiscs.enumerated() { reportMalformed(x.provenance, at: "\(p).qdiscs[\(j)]") }
        }
        for (l, link) in original.links.enumerated() { reportMalformed(link.provenance, at: "links[\(l)]") }
        for (t, tunnel) in original.tunnels.enumerated() { reportMalformed(tunnel.provenance, at: "tunnels[\(t)]") }
    }

    private mutating func checkReferences() {
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            let n = node.name
            let p = "nodes[\(i)]"
            for (j, a) in node.addresses.enumerated() {
                if let ifname = a.interface {
                    require(ifname, in: n, role: "address \(a.prefix)", at: "\(p).addresses[\(j)]", a.provenance.location)
                }
            }
            for (j, r) in node.routes.enumerated() {
                if let dev = r.dev {
                    require(dev, in: n, role: "route dev", at: "\(p).routes[\(j)].dev", r.provenance.location)
                }
                for (k, hop) in r.nexthops.enumerated() {
                    if let dev = hop.dev {
                        require(dev, in: n, role: "next hop dev", at: "\(p).routes[\(j)].nexthops[\(k)].dev",
                                r.provenance.location)
                    }
                }
            }
            for (j, r) in node.rules.enumerated() {
                if let iif = r.iif { require(iif, in: n, role: "rule iif", at: "\(p).rules[\(j)].iif", r.provenance.location) }
                if let oif = r.oif { require(oif, in: n, role: "rule oif", at: "\(p).rules[\(j)].oif", r.provenance.location) }
            }
            for (j, b) in node.bridges.enumerated() {
                for (k, port) in b.ports.enumerated() {
                    let path = "\(p).bridges[\(j)].ports[\(k)]"
                    let location = port.provenance.location ?? b.provenance.location
                    guard require(port.name, in: n, role: "bridge port", at: path, location) else { continue }
                    if interfaces[n]?[port.name]?.kind == .bridge {
                        report(.notABridge, "bridge \(b.name) cannot have bridge \(port.name) as a port", at: path, location)
                    }
                }
            }
            for (j, m) in node.macvlans.enumerated() {
                require(m.parent, in: n, role: "macvlan parent", at: "\(p).macvlans[\(j)].parent", m.provenance.location)
            }
            for (j, v) in node.vlans.enumerated() {
                require(v.parent, in: n, role: "VLAN parent", at: "\(p).vlans[\(j)].parent", v.provenance.location)
            }
            for (j, q) in node.qdiscs.enumerated() {
                if let ifname = q.interface {
                    require(ifname, in: n, role: "qdisc", at: "\(p).qdiscs[\(j)]", q.provenance.location)
                }
            }
            for (j, e) in node.neighbors.enumerated() {
                if let ifname = e.interface {
                    require(ifname, in: n, role: "neighbour", at: "\(p).neighbors[\(j)]", e.provenance.location)
                }
            }
        }
    }

    /// Layer-2 segments: which (node, interface) pairs share a broadcast domain.
    private func segments() -> [String: String] {
        var parent: [String: String] = [:]
        func key(_ node: String, _ ifname: String) -> String { "\(node):\(ifname)" }
        func find(_ x: String) -> String {
            var x = x
            while let p = parent[x], p != x { x = p }
            return x
        }
        func union(_ a: String, _ b: String) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[ra] = rb }
        }
        for link in topology.links {
            guard let ai = link.a.endpoint.interface, let bi = link.b.endpoint.interface else { continue }
            union(key(link.a.node, ai), key(link.b.node, bi))
            if let m = link.a.master { union(key(link.a.node, ai), key(link.a.node, m)) }
            if let m = link.b.master { union(key(link.b.node, bi), key(link.b.node, m)) }
        }
        for tunnel in topology.tunnels {
            let ai = tunnel.a.interface ?? tunnel.name, bi = tunnel.b.interface ?? tunnel.name
            union(key(tunnel.a.node, ai), key(tunnel.b.node, bi))
            if let m = tunnel.a.master { union(key(tunnel.a.node, ai), key(tunnel.a.node, m)) }
            if let m = tunnel.b.master { union(key(tunnel.b.node, bi), key(tunnel.b.node, m)) }
        }
        for (_, node) in uniqueNodes {
            for b in node.bridges {
                for port in b.ports { union(key(node.name, port.name), key(node.name, b.name)) }
            }
            for d in node.devices {
                if case .bond(let b) = d.kind { for port in b.ports { union(key(node.name, port), key(node.name, d.name)) } }
            }
        }
        var roots: [String: String] = [:]
        for (node, records) in addresses {
            for r in records { roots[key(node, r.interface)] = find(key(node, r.interface)) }
        }
        return roots
    }

    private mutating func checkSegments() {
        let roots = segments()
        var seen: [String: [IPAddress: (String, AddressRecord)]] = [:]
        for (_, node) in uniqueNodes {
            for r in addresses[node.name] ?? [] {
                let root = roots["\(node.name):\(r.interface)"] ?? "\(node.name):\(r.interface)"
                if let (firstNode, first) = seen[root]?[r.prefix.address] {
                    report(.duplicateAddress,
                           "address \(r.prefix.address) on \(node.name):\(r.interface) is already on \(firstNode):\(first.interface) (\(first.path)), on the same L2 segment",
                           at: r.path, r.location, hint: "give every interface of a segment its own address")
                } else {
                    seen[root, default: [:]][r.prefix.address] = (node.name, r)
                }
            }
        }
    }

    /// The interface of `node` whose subnet holds `gateway` (restricted to `dev` when given).
    func connectedInterface(for gateway: IPAddress, in node: String, dev: String?) -> String? {
        (addresses[node] ?? []).first { ($0.interface == dev || dev == nil) && $0.prefix.contains(gateway) }?.interface
    }

    /// Addresses the kernel accepts on an interface but that make no working lab: the
    /// unspecified address (the kernel drops `0.0.0.0/0` silently), multicast addresses, and
    /// broadcast addresses.
    private mutating func checkInterfaceAddresses() {
        for (_, node) in uniqueNodes {
            for r in addresses[node.name] ?? [] {
                let a = r.prefix.address, bytes = a.bytes
                var why: String?
                if bytes.allSatisfy({ $0 == 0 }) {
                    why = "is the unspecified address"
                } else if a.isIPv4 ? (bytes[0] & 0xf0) == 0xe0 : bytes[0] == 0xff {
                    why = "is a multicast address"
                } else if a.isIPv4 && bytes.allSatisfy({ $0 == 0xff }) {
                    why = "is the limited broadcast address"
                } else if a.isIPv4 && r.prefix.length <= 30 && isAllOnes(a, after: r.prefix.length) {
                    why = "is the broadcast address of \(r.prefix.network)"
                }
                if let why {
                    report(.invalidAddress, "address \(r.prefix) on \(node.name):\(r.interface) \(why); an interface cannot use it",
                           at: r.path, r.location, hint: "give the interface a unicast address of its subnet")
                }
            }
        }
    }

    /// No bridge gets more ports than the kernel allows (a star of 1,024 hosts used to fail
    /// with "Exchange full" after everything else was built).
    private mutating func checkBridgePorts() {
        var ports: [String: Set<String>] = [:]   // "node\0bridge" → port interfaces
        func add(_ node: String, _ master: String?, _ port: String?) {
            guard let master, let port else { return }
            ports["\(node)\u{0}\(master)", default: []].insert(port)
        }
        for link in topology.links { for end in link.ends { add(end.node, end.master, end.endpoint.interface) } }
        for tunnel in topology.tunnels {
            for end in [tunnel.a, tunnel.b] { add(end.node, end.master, end.interface ?? tunnel.name) }
        }
        for node in topology.nodes { for b in node.bridges { for p in b.ports { add(node.name, b.name, p.name) } } }
        for (key, set) in ports.sorted(by: { $0.key < $1.key }) where set.count > Limits.bridgePorts {
            let parts = key.split(separator: "\u{0}").map(String.init)
            let i = nodeIndex[parts[0]] ?? 0
            report(.bridgeFull, "bridge \(parts[1]) of \(parts[0]) would have \(set.count) ports; the kernel allows at most \(Limits.bridgePorts)",
                   at: "nodes[\(i)]", original.nodes.indices.contains(i) ? original.nodes[i].provenance.location : nil,
                   hint: "split the segment over several switches joined by links")
        }
    }

    /// True when every bit of `a` after the first `length` is one.
    private func isAllOnes(_ a: IPAddress, after length: Int) -> Bool {
        for (i, byte) in a.bytes.enumerated() {
            let first = i * 8
            for bit in 0..<8 where first + bit >= length {
                if byte & (0x80 >> UInt8(bit)) == 0 { return false }
            }
        }
        return true
    }

    /// Sysctl keys and values are written as they are: a newline or another control character
    /// would make a value the kernel reads differently (and a plan line split in two).
    private mutating func checkSysctls() {
        func shown(_ s: String) -> String {
            let escaped = String(reflecting: s)
            return escaped.count > 80 ? String(escaped.prefix(77)) + "…\"" : escaped
        }
        for (i, node) in original.nodes.enumerated() {
            let place = { (key: String) in node.provenance.parts["sysctls.\(key)"] ?? node.provenance.location }
            for repeat_ in node.provenance.repeatedSysctls {
                report(.duplicateSysctl, "sysctl \(shown(repeat_.key)) is set twice on \(node.name) (first at \(place(repeat_.key).map { "\($0)" } ?? "nodes[\(i)].sysctls"))",
                       at: "nodes[\(i)].sysctls", repeat_.location ?? node.provenance.location,
                       hint: "keep one Sysctl per key; the last one would silently win")
            }
            for (key, value) in node.sysctls.sorted(by: { $0.key < $1.key }) {
                let bad = { (s: String) in s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f } }
                if key.isEmpty || bad(key) || bad(value) {
                    let part = key.isEmpty ? "an empty key" : bad(key) ? "a control character in its key" : "a control character (a newline?) in its value"
                    report(.malformedValue, "sysctl \(shown(key)) = \(shown(value)) on \(node.name) has \(part)",
                           at: "nodes[\(i)].sysctls", place(key), hint: "sysctl keys and values are single lines")
                    continue
                }
                guard nodeIndex[node.name] == i, let k = InterfaceSysctlKey(key), k.isPerInterface,
                      interfaces[node.name]?[k.interface] == nil else { continue }
                if rejectedNames[node.name]?.contains(k.interface) == true { continue }
                report(.unknownInterface,
                       "sysctl \(shown(key)) names interface \"\(k.interface)\", which \(node.name) does not have (known: \(interfaces[node.name]?.listing ?? "none"))",
                       at: "nodes[\(i)].sysctls", place(key),
                       hint: "use an interface of \(node.name), or \(k.generalNames.joined(separator: "/")) for every interface")
            }
        }
    }

    private mutating func checkGateway(_ gateway: IPAddress, dev: String?, in node: String, at path: String,
                                       _ location: DeclarationLocation?) {
        if let own = (addresses[node] ?? []).first(where: { $0.prefix.address == gateway && (dev == nil || $0.interface == dev) }) {
            report(.unreachableGateway, "gateway \(gateway) is \(node)'s own address (on \(own.interface))", at: path, location,
                   hint: "the gateway is the address of the next router on that subnet")
            return
        }
        if connectedInterface(for: gateway, in: node, dev: dev) != nil { return }
        let linkLocal = IPPrefix("fe80::/10")!.contains(gateway)
        if linkLocal && dev != nil { return }
        let subnets = (addresses[node] ?? []).filter { $0.prefix.address.isIPv4 == gateway.isIPv4 && (dev == nil || $0.interface == dev) }
            .map { "\($0.prefix) on \($0.interface)" }
        let has = subnets.isEmpty ? "none" : subnets.joined(separator: ", ")
        report(.unreachableGateway,
               "gateway \(gateway) is not in a subnet of \(node)\(dev.map { " on \($0)" } ?? "") (subnets: \(has))",
               at: path, location,
               hint: linkLocal ? "a link-local gateway needs dev:" : "fix the gateway, add an address in its subnet, or set onlink: true")
    }

    private mutating func checkRoutes() {
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            for (j, r) in node.routes.enumerated() where r.provenance.malformed.isEmpty {
                let path = "nodes[\(i)].routes[\(j)]"
                let location = r.provenance.location
                let family = r.family
                var mixed: [String] = []
                // An IPv4 route may have an IPv6 gateway (RFC 5549, `via inet6`), not the reverse.
                let gatewayFits = { (via: IPAddress) in IPFamily(of: via) == family || (family == .ipv4 && via.isIPv6) }
                if let via = r.via, !gatewayFits(via) { mixed.append("gateway \(via)") }
                if let src = r.src, IPFamily(of: src) != family { mixed.append("source \(src)") }
                for hop in r.nexthops { if let via = hop.via, !gatewayFits(via) { mixed.append("next hop \(via)") } }
                if !mixed.isEmpty {
                    report(.familyMismatch,
                           "route to \(r.destination) is \(family == .ipv4 ? "IPv4" : "IPv6") but has \(mixed.joined(separator: ", "))",
                           at: path, location,
                           hint: family == .ipv6 ? "an IPv6 route needs an IPv6 gateway" : "use addresses of one family in a route")
                    continue
                }
                if !checkRouteShape(r, in: node.name, at: path) { continue }
                for (k, hop) in r.nexthops.enumerated() where !Limits.nexthopWeight.contains(hop.weight) {
                    report(.invalidWeight, "next hop weight \(hop.weight) is out of range 1…256",
                           at: "\(path).nexthops[\(k)].weight", location)
                }
                guard r.type == .unicast, !r.onlink, !r.absent else { continue }
                if let via = r.via { checkGateway(via, dev: r.dev, in: node.name, at: "\(path).via", location) }
                for (k, hop) in r.nexthops.enumerated() {
                    if let via = hop.via {
                        checkGateway(via, dev: hop.dev, in: node.name, at: "\(path).nexthops[\(k)].via", location)
                    }
                }
            }
        }
    }

    private mutating func checkRules() {
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            let tables = Set(node.routes.filter { !$0.absent }.map(\.table))
            for (j, r) in node.rules.enumerated() {
                if !checkRuleShape(r, at: "nodes[\(i)].rules[\(j)]") { continue }
                guard !r.l3mdev, case .lookup(let table) = r.action, !Limits.reservedTables.contains(table),
                      !tables.contains(table) else { continue }
                report(.emptyRuleTable, "rule looks up table \(table), which has no routes in \(node.name)",
                       at: "nodes[\(i)].rules[\(j)]", r.provenance.location,
                       hint: "add a route with table: \(table) to \(node.name), or fix the table")
            }
        }
    }

    /// What the kernel refuses in a route of a given type, and absent routes that cannot match.
    private mutating func checkRouteShape(_ r: Route, in node: String, at path: String) -> Bool {
        let location = r.provenance.location
        let name = r.type.name
        if [.local, .broadcast].contains(r.type) && r.dev == nil && !r.absent {
            report(.invalidRoute, "a \(name) route to \(r.destination) needs dev", at: path, location,
                   hint: r.type == .local ? "give the interface that owns the address, e.g. dev: lo" : "give the interface of the subnet")
            return false
        }
        // IPv4 only: IPv6 puts such a route on `lo` itself and accepts a device.
        if r.family == .ipv4 && [.blackhole, .unreachable, .prohibit, .throw].contains(r.type)
            && (r.via != nil || r.dev != nil || !r.nexthops.isEmpty) {
            report(.invalidRoute, "an IPv4 \(name) route to \(r.destination) has no gateway, device or next hops (the kernel refuses them)",
                   at: path, location, hint: "drop via, dev and nexthops")
            return false
        }
        if r.absent && !r.nexthops.isEmpty {
            report(.invalidRoute, "a route to remove (absent) is matched by destination, table, type, dev, via and metric, not next hops",
                   at: "\(path).nexthops", location, hint: "drop nexthops")
            return false
        }
        if let m = r.mtu, !Limits.mtu.contains(Int(m)) {
            report(.mtuOutOfRange, "route MTU \(m) is out of range 68…65535", at: "\(path).mtu", location)
            return false
        }
        return true
    }

    /// A route the kernel would refuse with a bare EEXIST: one with the same table, destination
    /// and metric as a route declared before it, or as the prefix route an address adds.
    private mutating func checkDuplicateRoutes() {
        struct Key: Hashable { var family: IPFamily; var table: UInt32; var prefix: IPPrefix; var metric: UInt32 }
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            var seen: [Key: String] = [:]
            for r in addresses[node.name] ?? [] where !r.noprefixroute && r.prefix.length < r.prefix.address.bitWidth {
                let v6 = r.prefix.address.isIPv6
                // The kernel's prefix routes: metric 0 for IPv4, 256 for IPv6, unless the address sets one.
                let key = Key(family: v6 ? .ipv6 : .ipv4, table: RouteTable.main, prefix: r.prefix.network,
                              metric: r.metric ?? (v6 ? 256 : 0))
                seen[key] = seen[key] ?? "the prefix route of address \(r.prefix) on \(r.interface) (\(r.path))"
            }
            for (j, r) in node.routes.enumerated() where !r.absent && r.provenance.malformed.isEmpty {
                let key = Key(family: r.family, table: r.table, prefix: r.destinationPrefix.network,
                              metric: r.metric ?? (r.family == .ipv6 ? 1024 : 0))
                let table = r.table == RouteTable.main ? "main" : "\(r.table)"
                if let first = seen[key] {
                    report(.duplicateRoute,
                           "route to \(r.destination) in table \(table) with metric \(key.metric) is already \(first); the kernel would refuse it (File exists)",
                           at: "nodes[\(i)].routes[\(j)]", r.provenance.location,
                           hint: "drop one, or give it another metric or table" + (first.hasPrefix("the prefix route") ? " (or the address noprefixroute: true)" : ""))
                } else {
                    seen[key] = "declared at \(r.provenance.location.map { "\($0)" } ?? "nodes[\(i)].routes[\(j)]")"
                }
            }
        }
    }

    /// What the kernel refuses in a rule: a goto that does not jump forward, a table next to l3mdev.
    private mutating func checkRuleShape(_ r: Rule, at path: String) -> Bool {
        let location = r.provenance.location
        if case .goto(let target) = r.action {
            guard let p = r.priority else {
                report(.invalidRule, "a goto rule needs a priority below its target \(target)", at: path, location,
                       hint: "give the rule a priority lower than \(target)")
                return false
            }
            if target <= p {
                report(.invalidRule, "rule \(p) cannot goto \(target): a goto must jump forward (the kernel refuses loops)",
                       at: "\(path).goto", location, hint: "goto a rule with a higher priority number")
                return false
            }
        }
        if r.l3mdev {
            guard case .lookup(let t) = r.action, t == RouteTable.main else {
                report(.invalidRule, "an l3mdev rule looks up the table of the packet's VRF, so it has no table or other action",
                       at: path, location, hint: "drop table and action")
                return false
            }
        }
        if let tos = r.tos, tos & 0x03 != 0 {
            report(.invalidRule, "rule tos 0x\(String(tos, radix: 16)) sets the ECN bits (0x03), which the kernel refuses",
                   at: "\(path).tos", location, hint: "match the DSCP bits only, e.g. tos 0x\(String(tos & 0xfc, radix: 16))")
            return false
        }
        if let n = r.suppressPrefixlength, n > UInt32(r.resolvedFamily == .ipv4 ? 32 : 128) {
            report(.invalidRule, "suppressPrefixlength \(n) is longer than an \(r.resolvedFamily == .ipv4 ? "IPv4" : "IPv6") prefix",
                   at: "\(path).suppressPrefixlength", location)
            return false
        }
        return true
    }

    private mutating func checkMTU(_ mtu: Int?, of ifname: String, in node: String, at path: String,
                                   _ location: DeclarationLocation?) {
        guard let mtu else { return }
        if !Limits.mtu.contains(mtu) {
            report(.mtuOutOfRange, "MTU \(mtu) of \(node):\(ifname) is out of range 68…65535", at: path, location)
        } else if mtu < Limits.ipv6MinimumMTU,
                  let v6 = addresses[node]?.first(where: { $0.interface == ifname && $0.prefix.address.isIPv6 }) {
            report(.mtuOutOfRange, "MTU \(mtu) of \(node):\(ifname) is below 1280, the IPv6 minimum, but it has \(v6.prefix)",
                   at: path, location, hint: "raise the MTU to at least 1280 or drop the IPv6 address")
        }
    }

    private mutating func checkMTUs() {
        for (l, link) in topology.links.enumerated() {
            for (side, end) in [("a", link.a), ("b", link.b)] {
                guard let ifname = end.endpoint.interface else { continue }
                checkMTU(end.mtu, of: ifname, in: end.node, at: "links[\(l)].\(side).mtu", link.provenance.location)
            }
        }
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            for (j, b) in node.bridges.enumerated() {
                checkMTU(b.mtu, of: b.name, in: node.name, at: "nodes[\(i)].bridges[\(j)].mtu", b.provenance.location)
            }
            for (j, d) in node.dummies.enumerated() {
                checkMTU(d.mtu, of: d.name, in: node.name, at: "nodes[\(i)].dummies[\(j)].mtu", d.provenance.location)
            }
        }
        for (t, tunnel) in topology.tunnels.enumerated() {
            for end in tunnel.ends where nodeIndex[end.node] != nil {
                checkMTU(tunnel.mtu, of: end.interface ?? tunnel.name, in: end.node, at: "tunnels[\(t)].mtu",
                         tunnel.provenance.location)
            }
        }
    }

    private mutating func checkVLANs() {
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            for (j, v) in node.vlans.enumerated() where !Limits.vlanID.contains(v.id) {
                report(.invalidVLANID, "VLAN id \(v.id) of \(v.name) is out of range 1…4094",
                       at: "nodes[\(i)].vlans[\(j)].id", v.provenance.location)
            }
            for (j, b) in node.bridges.enumerated() {
                for (k, port) in b.ports.enumerated() {
                    let path = "nodes[\(i)].bridges[\(j)].ports[\(k)]"
                    let location = port.provenance.location ?? b.provenance.location
                    let ids = (port.pvid.map { [$0] } ?? []) + port.vlans
                    for id in ids where !Limits.vlanID.contains(Int(id)) {
                        report(.invalidVLANID, "VLAN id \(id) on port \(port.name) of \(b.name) is out of range 1…4094",
                               at: path, location)
                    }
                    if !ids.isEmpty && !b.vlanFiltering {
                        report(.invalidVLANID, "port \(port.name) has VLANs but bridge \(b.name) does not filter VLANs",
                               at: path, location, hint: "declare the bridge with vlanFiltering: true")
                    }
                }
            }
        }
    }

    /// VRF, bond, ipvlan and GENEVE settings the kernel would refuse or that cannot work, and
    /// interfaces enslaved twice (the kernel answers a second master with a bare EBUSY).
    private mutating func checkDevices() {
        // Every link and tunnel end with a master, by node: one pass over the links, not one per
        // node (a star of 1,000 hosts spent most of its validation here).
        var endMasters: [String: [(String, String)]] = [:]   // node → (port, master), in declaration order
        // Ends stay unnamed where an earlier problem stopped their resolution.
        for link in topology.links {
            for end in link.ends {
                if let m = end.master, let ifname = end.endpoint.interface { endMasters[end.node, default: []].append((ifname, m)) }
            }
        }
        for tunnel in topology.tunnels {
            for end in tunnel.ends { if let m = end.master { endMasters[end.node, default: []].append((end.interface ?? tunnel.name, m)) } }
        }
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            let n = node.name
            var masters: [String: String] = [:]   // port → its master
            for (port, m) in endMasters[n] ?? [] { masters[port] = m }
            for b in node.bridges { for port in b.ports { masters[port.name] = b.name } }
            for (j, d) in node.devices.enumerated() {
                let path = "nodes[\(i)].devices[\(j)]"
                let location = d.provenance.location
                checkMTU(d.mtu, of: d.name, in: n, at: "\(path).mtu", location)
                let role = if case .vrf = d.kind { "VRF member" } else { "bond port" }
                let key = if case .vrf = d.kind { "members" } else { "ports" }
                for (k, member) in d.kind.members.enumerated() {
                    let memberPath = "\(path).\(key)[\(k)]"
                    if member == d.name || member == "lo" {
                        report(.invalidDevice, "\(d.kind.name) \(d.name) cannot enslave \(member)", at: memberPath, location,
                               hint: "list the node's veths or other interfaces in \(key)")
                        continue
                    }
                    guard require(member, in: n, role: role, at: memberPath, location) else { continue }
                    if let other = masters[member] {
                        report(.invalidDevice, "\(member) in \(n) is already enslaved to \(other); it cannot also be a \(role) of \(d.name)",
                               at: memberPath, location, hint: "an interface has one master: remove it from one of them")
                    } else {
                        masters[member] = d.name
                    }
                }
                switch d.kind {
                case .vrf(let table, _):
                    if table == 0 || Limits.reservedTables.contains(table) {
                        report(.invalidDevice, "VRF \(d.name) uses table \(table), which the kernel reserves", at: "\(path).table",
                               location, hint: "give each VRF its own table, e.g. 10")
                    }
                case .bond(let b):
                    if let m = b.miimon, !(0...Int(Int32.max)).contains(m) {
                        report(.invalidDevice, "miimon \(m) of bond \(d.name) is out of range 0…\(Int32.max)", at: "\(path).miimon", location)
                    }
                    if let p = b.primary {
                        if !b.mode.usesPrimary {
                            report(.invalidDevice, "bond \(d.name) in mode \(b.mode.rawValue) has no primary port", at: "\(path).primary",
                                   location, hint: "primary applies to modes active-backup, balance-tlb and balance-alb")
                        } else if !b.ports.contains(p) {
                            report(.invalidDevice, "primary \(p) of bond \(d.name) is not one of its ports (\(b.ports.joined(separator: ", ")))",
                                   at: "\(path).primary", location, hint: "add \(p) to ports, or name one of the ports")
                        }
                    }
                case .ipvlan(let parent, _):
                    if require(parent, in: n, role: "ipvlan parent", at: "\(path).parent", location), let m = masters[parent] {
                        report(.invalidDevice, "ipvlan \(d.name) cannot sit on \(parent), a port of \(m)", at: "\(path).parent",
                               location, hint: "put the ipvlan on the master (\(m)) or on an interface without one")
                    }
                case .geneve(let g):
                    if g.vni >= 1 << 24 {
                        report(.invalidDevice, "GENEVE id \(g.vni) of \(d.name) is out of range 0…16777215", at: "\(path).vni", location)
                    }
                case .ifb, .tun, .tap:
                    break
                }
            }
        }
    }
}
