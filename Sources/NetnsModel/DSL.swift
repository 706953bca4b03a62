// The declaration DSL: result builders per context (topology, node, bridge), so a component in
// the wrong place does not compile, and constructors that take text and remember where they
// were written. Text that fails to parse is kept as a `MalformedValue` for validation to report.

/// Something declared at the top level of a topology.
public enum TopologyComponent: Sendable, Hashable {
    case node(Node)
    case link(Link)
    case tunnel(Tunnel)
}

/// Collects nodes, links and tunnels; supports `if`, `if/else`, `for` and optionals.
@resultBuilder
public enum TopologyBuilder {
    public static func buildExpression(_ node: Node) -> [TopologyComponent] { [.node(node)] }
    public static func buildExpression(_ link: Link) -> [TopologyComponent] { [.link(link)] }
    public static func buildExpression(_ tunnel: Tunnel) -> [TopologyComponent] { [.tunnel(tunnel)] }
    public static func buildExpression(_ components: [TopologyComponent]) -> [TopologyComponent] { components }
    public static func buildBlock(_ parts: [TopologyComponent]...) -> [TopologyComponent] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [TopologyComponent]?) -> [TopologyComponent] { part ?? [] }
    public static func buildEither(first: [TopologyComponent]) -> [TopologyComponent] { first }
    public static func buildEither(second: [TopologyComponent]) -> [TopologyComponent] { second }
    public static func buildArray(_ parts: [[TopologyComponent]]) -> [TopologyComponent] { parts.flatMap { $0 } }
    public static func buildLimitedAvailability(_ part: [TopologyComponent]) -> [TopologyComponent] { part }
}

/// Something declared inside a node.
public enum NodeComponent: Sendable, Hashable {
    case address(InterfaceAddress)
    case route(Route)
    case rule(Rule)
    case sysctl(Sysctl)
    case bridge(Bridge)
    case macvlan(Macvlan)
    case vlan(VLAN)
    case dummy(Dummy)
    case qdisc(Qdisc)
    case neighbor(Neighbor)
    case firewall(Firewall)
}

/// Collects a node's addresses, routes, rules, sysctls, interfaces, qdiscs and neighbours.
@resultBuilder
public enum NodeBuilder {
    public static func buildExpression(_ c: InterfaceAddress) -> [NodeComponent] { [.address(c)] }
    public static func buildExpression(_ c: Route) -> [NodeComponent] { [.route(c)] }
    public static func buildExpression(_ c: Rule) -> [NodeComponent] { [.rule(c)] }
    public static func buildExpression(_ c: Sysctl) -> [NodeComponent] { [.sysctl(c)] }
    public static func buildExpression(_ c: Bridge) -> [NodeComponent] { [.bridge(c)] }
    public static func buildExpression(_ c: Macvlan) -> [NodeComponent] { [.macvlan(c)] }
    public static func buildExpression(_ c: VLAN) -> [NodeComponent] { [.vlan(c)] }
    public static func buildExpression(_ c: Dummy) -> [NodeComponent] { [.dummy(c)] }
    public static func buildExpression(_ c: Qdisc) -> [NodeComponent] { [.qdisc(c)] }
    public static func buildExpression(_ c: Neighbor) -> [NodeComponent] { [.neighbor(c)] }
    public static func buildExpression(_ c: Firewall) -> [NodeComponent] { [.firewall(c)] }
    public static func buildExpression(_ c: [NodeComponent]) -> [NodeComponent] { c }
    public static func buildBlock(_ parts: [NodeComponent]...) -> [NodeComponent] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [NodeComponent]?) -> [NodeComponent] { part ?? [] }
    public static func buildEither(first: [NodeComponent]) -> [NodeComponent] { first }
    public static func buildEither(second: [NodeComponent]) -> [NodeComponent] { second }
    public static func buildArray(_ parts: [[NodeComponent]]) -> [NodeComponent] { parts.flatMap { $0 } }
    public static func buildLimitedAvailability(_ part: [NodeComponent]) -> [NodeComponent] { part }
}

/// Collects the ports of a bridge.
@resultBuilder
public enum BridgeBuilder {
    public static func buildExpression(_ port: BridgePort) -> [BridgePort] { [port] }
    public static func buildExpression(_ ports: [BridgePort]) -> [BridgePort] { ports }
    public static func buildBlock(_ parts: [BridgePort]...) -> [BridgePort] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [BridgePort]?) -> [BridgePort] { part ?? [] }
    public static func buildEither(first: [BridgePort]) -> [BridgePort] { first }
    public static func buildEither(second: [BridgePort]) -> [BridgePort] { second }
    public static func buildArray(_ parts: [[BridgePort]]) -> [BridgePort] { parts.flatMap { $0 } }
    public static func buildLimitedAvailability(_ part: [BridgePort]) -> [BridgePort] { part }
}

/// A sysctl to set in a node, e.g. `Sysctl("net.ipv4.conf.all.rp_filter", "0")`.
/// An nftables ruleset for a node, loaded with `nft -f -` inside it after the build.
///
/// ```swift
/// Router("r1") { Firewall("""
///     table inet filter { chain forward { type filter hook forward priority 0; tcp dport 22 drop; } }
///     """) }
/// ```
public struct Firewall: Sendable, Hashable {
    public var ruleset: String
    public init(_ ruleset: String) { self.ruleset = ruleset }
}

public struct Sysctl: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

extension Topology {
    /// Declares a topology from nodes, links and tunnels in any order.
    public init(_ name: String, fileID: String = #fileID, line: Int = #line, column: Int = #column,
                @TopologyBuilder _ content: () -> [TopologyComponent]) {
        self.init(name: name, provenance: Provenance(fileID, line, column))
        for component in content() {
            switch component {
            case .node(let n): nodes.append(n)
            case .link(let l): links.append(l)
            case .tunnel(let t): tunnels.append(t)
            }
        }
    }
}

extension Node {
    /// Declares a node of any kind with its contents.
    public init(_ name: String, kind: NodeKind, fileID: String = #fileID, line: Int = #line, column: Int = #column,
                @NodeBuilder _ content: () -> [NodeComponent] = { [] }) {
        self.init(name: name, kind: kind, provenance: Provenance(fileID, line, column))
        for component in content() {
            switch component {
            case .address(let c): addresses.append(c)
            case .route(let c): routes.append(c)
            case .rule(let c): rules.append(c)
            case .sysctl(let c): sysctls[c.key] = c.value
            case .bridge(let c): bridges.append(c)
            case .macvlan(let c): macvlans.append(c)
            case .vlan(let c): vlans.append(c)
            case .dummy(let c): dummies.append(c)
            case .qdisc(let c): qdiscs.append(c)
            case .neighbor(let c): neighbors.append(c)
            case .firewall(let c): firewall = (firewall.map { $0 + "\n" } ?? "") + c.ruleset
            }
        }
    }
}

/// Declares an end host.
public func Host(_ name: String, fileID: String = #fileID, line: Int = #line, column: Int = #column,
                 @NodeBuilder _ content: () -> [NodeComponent] = { [] }) -> Node {
    Node(name, kind: .host, fileID: fileID, line: line, column: column, content)
}

/// Declares a router: a node with IPv4 and IPv6 forwarding on.
public func Router(_ name: String, fileID: String = #fileID, line: Int = #line, column: Int = #column,
                   @NodeBuilder _ content: () -> [NodeComponent] = { [] }) -> Node {
    Node(name, kind: .router, fileID: fileID, line: line, column: column, content)
}

/// Declares a switch: a node with a bridge (`br0` unless one is declared) that every link to it joins.
public func Switch(_ name: String, fileID: String = #fileID, line: Int = #line, column: Int = #column,
                   @NodeBuilder _ content: () -> [NodeComponent] = { [] }) -> Node {
    Node(name, kind: .switch, fileID: fileID, line: line, column: column, content)
}

/// Declares an address; without `on:` it goes on the node's first link interface.
public func Address(_ prefix: String, on interface: String? = nil, nodad: Bool = true,
                    fileID: String = #fileID, line: Int = #line, column: Int = #column) -> InterfaceAddress {
    var parser = TextParser()
    let parsed = parser.prefix(prefix, field: "address")
    return InterfaceAddress(interface: interface, prefix: parsed ?? IPPrefix(.v4(0), 0), nodad: nodad,
                            provenance: Provenance(fileID, line, column, parser))
}

/// Declares a VXLAN tunnel between two nodes.
public func VXLAN(_ name: String, between a: Endpoint, _ b: Endpoint, vni: UInt32, port: UInt16 = 4789,
                  aUnderlay: String? = nil, bUnderlay: String? = nil,
                  aAddress: String? = nil, bAddress: String? = nil,
                  aMaster: String? = nil, bMaster: String? = nil, mtu: Int? = nil,
                  fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Tunnel {
    Tunnel(name, .vxlan(vni: vni, port: port), between: a, b, aUnderlay: aUnderlay, bUnderlay: bUnderlay,
           aAddress: aAddress, bAddress: bAddress, aMaster: aMaster, bMaster: bMaster, mtu: mtu,
           fileID: fileID, line: line, column: column)
}

/// Declares a WireGuard tunnel between two nodes; keys are generated when it is built.
public func WireGuard(_ name: String, between a: Endpoint, _ b: Endpoint, port: UInt16 = 51820,
                      aUnderlay: String? = nil, bUnderlay: String? = nil,
                      aAddress: String? = nil, bAddress: String? = nil, mtu: Int? = nil,
                      fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Tunnel {
    Tunnel(name, .wireguard(port: port), between: a, b, aUnderlay: aUnderlay, bUnderlay: bUnderlay,
           aAddress: aAddress, bAddress: bAddress, mtu: mtu, fileID: fileID, line: line, column: column)
}

extension Link {
    /// Declares a veth pair between `a` and `b` (`"node:interface"` or `"node"`).
    ///
    /// - Parameters:
    ///   - mtu: The MTU of both ends, unless `aMTU`/`bMTU` say otherwise.
    ///   - aAddress: An address for the `a` end; `aAddresses` adds more.
    ///   - aMaster: A bridge in `a`'s node to enslave the end to (links to a switch join its bridge anyway).
    public init(_ a: Endpoint, _ b: Endpoint, mtu: Int? = nil,
                aAddress: String? = nil, bAddress: String? = nil,
                aAddresses: [String] = [], bAddresses: [String] = [],
                aMTU: Int? = nil, bMTU: Int? = nil, aMAC: String? = nil, bMAC: String? = nil,
                aMaster: String? = nil, bMaster: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let aEnd = LinkEnd(endpoint: a, mac: parser.mac(aMAC, field: "a.mac"), mtu: aMTU,
                           addresses: parser.prefixes((aAddress.map { [$0] } ?? []) + aAddresses, field: "a.addresses"),
                           master: aMaster)
        let bEnd = LinkEnd(endpoint: b, mac: parser.mac(bMAC, field: "b.mac"), mtu: bMTU,
                           addresses: parser.prefixes((bAddress.map { [$0] } ?? []) + bAddresses, field: "b.addresses"),
                           master: bMaster)
        self.init(a: aEnd, b: bEnd, mtu: mtu, provenance: Provenance(fileID, line, column, parser))
    }
}

extension Tunnel {
    /// Declares a tunnel of any kind between two nodes (`"node"`, or `"node:ifname"` to rename that end).
    ///
    /// - Parameters:
    ///   - aUnderlay: The `a` end's underlay: an IP address, or the name of an interface whose address to use.
    ///   - aAddress: The overlay address on the `a` end.
    public init(_ name: String, _ kind: Kind, between a: Endpoint, _ b: Endpoint,
                aUnderlay: String? = nil, bUnderlay: String? = nil,
                aAddress: String? = nil, bAddress: String? = nil,
                aMaster: String? = nil, bMaster: String? = nil, mtu: Int? = nil, ttl: UInt8? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let aEnd = TunnelEnd(node: a.node, interface: a.interface, underlay: aUnderlay.map(Underlay.init),
                             addresses: parser.prefixes(aAddress.map { [$0] } ?? [], field: "a.addresses"),
                             master: aMaster)
        let bEnd = TunnelEnd(node: b.node, interface: b.interface, underlay: bUnderlay.map(Underlay.init),
                             addresses: parser.prefixes(bAddress.map { [$0] } ?? [], field: "b.addresses"),
                             master: bMaster)
        self.init(name: name, kind: kind, a: aEnd, b: bEnd, mtu: mtu, ttl: ttl,
                  provenance: Provenance(fileID, line, column, parser))
    }
}

/// The destination of a route in the DSL: `.default`, or a prefix written as text.
public struct RouteTarget: Sendable, Hashable, ExpressibleByStringInterpolation {
    let text: String
    let destination: Route.Destination?

    /// The default route (IPv4 or IPv6 by the gateway).
    public static let `default` = RouteTarget(text: "default", destination: .default)

    /// A prefix like `10.0.0.0/8`; `default` is also accepted.
    public init(_ text: String) {
        self.text = text
        self.destination = text == "default" ? .default : IPPrefix(text).map(Route.Destination.prefix)
    }

    /// A parsed prefix.
    public init(_ prefix: IPPrefix) { self.init(text: prefix.description, destination: .prefix(prefix)) }

    public init(stringLiteral value: String) { self.init(value) }

    private init(text: String, destination: Route.Destination?) {
        self.text = text
        self.destination = destination
    }
}

extension Route {
    /// Declares a route.
    ///
    /// - Parameters:
    ///   - destination: `.default` or a prefix like `"10.0.0.0/8"`.
    ///   - via: The gateway; it must be inside a subnet of the node unless `onlink`.
    ///   - dev: The output interface.
    ///   - nexthops: Next hops of a multipath route, instead of `via`/`dev`.
    public init(_ destination: RouteTarget, via: String? = nil, dev: String? = nil, metric: UInt32? = nil,
                table: UInt32 = RouteTable.main, scope: RouteScope? = nil, proto: UInt8? = nil,
                src: String? = nil, onlink: Bool = false, type: RouteType = .unicast, nexthops: [Nexthop] = [],
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        if destination.destination == nil {
            parser.malformed.append(MalformedValue(
                field: "to", text: destination.text, expected: "default or a prefix like 10.0.0.0/8"))
        }
        let via = parser.address(via, field: "via")
        let src = parser.address(src, field: "src")
        for (i, hop) in nexthops.enumerated() {
            parser.malformed += hop.provenance.malformed.map {
                MalformedValue(field: "nexthops[\(i)].\($0.field)", text: $0.text, expected: $0.expected)
            }
        }
        self.init(destination: destination.destination ?? .default, via: via, dev: dev, metric: metric,
                  table: table, scope: scope, proto: proto, src: src, onlink: onlink, type: type,
                  nexthops: nexthops, provenance: Provenance(fileID, line, column, parser))
    }
}

extension Nexthop {
    /// Declares a next hop of a multipath route.
    public init(via: String? = nil, dev: String? = nil, weight: Int = 1) {
        var parser = TextParser()
        self.init(via: parser.address(via, field: "via"), dev: dev, weight: weight,
                  provenance: Provenance(malformed: parser.malformed))
    }
}

extension Rule {
    /// Declares a policy rule: `lookup table` by default, or another `action`.
    public init(family: IPFamily? = nil, priority: UInt32? = nil, from: String? = nil, to: String? = nil,
                iif: String? = nil, oif: String? = nil, fwmark: UInt32? = nil, fwmask: UInt32? = nil,
                table: UInt32 = RouteTable.main, action: Action? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        self.init(family: family, priority: priority, from: parser.prefix(from, field: "from"),
                  to: parser.prefix(to, field: "to"), iif: iif, oif: oif, fwmark: fwmark, fwmask: fwmask,
                  action: action ?? .lookup(table: table), provenance: Provenance(fileID, line, column, parser))
    }
}

extension Bridge {
    /// Declares a bridge with its ports.
    public init(_ name: String, stp: Bool = false, vlanFiltering: Bool = false, mtu: Int? = nil,
                mac: String? = nil, addresses: [String] = [],
                fileID: String = #fileID, line: Int = #line, column: Int = #column,
                @BridgeBuilder ports: () -> [BridgePort] = { [] }) {
        var parser = TextParser()
        self.init(name: name, ports: ports(), stp: stp, vlanFiltering: vlanFiltering, mtu: mtu,
                  mac: parser.mac(mac, field: "mac"), addresses: parser.prefixes(addresses, field: "addresses"),
                  provenance: Provenance(fileID, line, column, parser))
    }
}

extension BridgePort {
    /// Declares a bridge port, with its VLANs when the bridge filters VLANs.
    public init(_ name: String, pvid: UInt16? = nil, vlans: [UInt16] = [],
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.init(name: name, pvid: pvid, vlans: vlans, provenance: Provenance(fileID, line, column))
    }
}

/// A bridge port, as written inside `Bridge { … }`.
public typealias Port = BridgePort

extension Macvlan {
    /// Declares a macvlan on `parent`.
    public init(_ name: String, on parent: String, mode: Mode = .bridge, mac: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        self.init(name: name, parent: parent, mode: mode, mac: parser.mac(mac, field: "mac"),
                  provenance: Provenance(fileID, line, column, parser))
    }
}

extension VLAN {
    /// Declares VLAN `id` on `parent`, named `<parent>.<id>` unless `name` is given.
    public init(_ id: Int, on parent: String, name: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.init(name: name ?? "\(parent).\(id)", parent: parent, id: id, provenance: Provenance(fileID, line, column))
    }
}

extension Dummy {
    /// Declares a dummy interface.
    public init(_ name: String, mtu: Int? = nil, fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.init(name: name, mtu: mtu, provenance: Provenance(fileID, line, column))
    }
}

extension Qdisc {
    /// Declares a root qdisc; without `on:` it goes on the node's first link interface.
    public init(_ kind: Kind, on interface: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.init(interface: interface, kind: kind, provenance: Provenance(fileID, line, column))
    }
}

extension Neighbor {
    /// Declares a permanent neighbour entry; without `on:` it goes on the node's first link interface.
    public init(_ address: String, mac: String, on interface: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let ip = parser.address(address, field: "address")
        let hw = parser.mac(mac, field: "mac")
        self.init(interface: interface, address: ip ?? .v4(0), mac: hw ?? MACAddress(bytes: [0, 0, 0, 0, 0, 0])!,
                  provenance: Provenance(fileID, line, column, parser))
    }
}
