// The declaration DSL: result builders per context (topology, node, bridge), so a component in
// the wrong place does not compile, and constructors that take text and remember where they
// were written. Text that fails to parse is kept as a `MalformedValue` for validation to report.

/// Something declared at the top level of a topology.
public enum TopologyComponent: Sendable, Hashable {
    /// A node (`Host`, `Router`, `Switch`).
    case node(Node)
    /// A veth link between two nodes.
    case link(Link)
    /// A tunnel (VXLAN, GRE, IP in IP, …) between two nodes.
    case tunnel(Tunnel)
}

/// Collects nodes, links and tunnels; supports `if`, `if/else`, `for` and optionals.
@resultBuilder
public enum TopologyBuilder {
    /// A node in the topology.
    public static func buildExpression(_ node: Node) -> [TopologyComponent] { [.node(node)] }
    /// A link in the topology.
    public static func buildExpression(_ link: Link) -> [TopologyComponent] { [.link(link)] }
    /// A tunnel in the topology.
    public static func buildExpression(_ tunnel: Tunnel) -> [TopologyComponent] { [.tunnel(tunnel)] }
    /// Components made elsewhere (a helper function's result), spliced in.
    public static func buildExpression(_ components: [TopologyComponent]) -> [TopologyComponent] { components }
    /// The components of a block, in order.
    public static func buildBlock(_ parts: [TopologyComponent]...) -> [TopologyComponent] { parts.flatMap { $0 } }
    /// An `if` without `else`: its components, or none.
    public static func buildOptional(_ part: [TopologyComponent]?) -> [TopologyComponent] { part ?? [] }
    /// The `if` branch of an `if/else`.
    public static func buildEither(first: [TopologyComponent]) -> [TopologyComponent] { first }
    /// The `else` branch of an `if/else`.
    public static func buildEither(second: [TopologyComponent]) -> [TopologyComponent] { second }
    /// A `for` loop: the components of every iteration, in order.
    public static func buildArray(_ parts: [[TopologyComponent]]) -> [TopologyComponent] { parts.flatMap { $0 } }
    /// An `if #available` block.
    public static func buildLimitedAvailability(_ part: [TopologyComponent]) -> [TopologyComponent] { part }
}

/// Something declared inside a node.
public enum NodeComponent: Sendable, Hashable {
    /// An address on one of the node's interfaces.
    case address(InterfaceAddress)
    /// A route.
    case route(Route)
    /// A policy routing rule.
    case rule(Rule)
    /// A sysctl.
    case sysctl(Sysctl)
    /// A bridge and its ports.
    case bridge(Bridge)
    /// A macvlan interface.
    case macvlan(Macvlan)
    /// A VLAN (802.1Q) subinterface.
    case vlan(VLAN)
    /// A dummy interface.
    case dummy(Dummy)
    /// Another device: a VRF, bond, ipvlan, GENEVE endpoint, ifb, tun or tap.
    case device(Device)
    /// A VXLAN device of this node alone.
    case vxlan(VXLANDevice)
    /// A queueing discipline on an interface.
    case qdisc(Qdisc)
    /// A static neighbour entry.
    case neighbor(Neighbor)
    /// An nftables ruleset.
    case firewall(Firewall)
}

/// Collects a node's addresses, routes, rules, sysctls, interfaces, qdiscs and neighbours.
@resultBuilder
public enum NodeBuilder {
    /// An address in the node.
    public static func buildExpression(_ c: InterfaceAddress) -> [NodeComponent] { [.address(c)] }
    /// A route in the node.
    public static func buildExpression(_ c: Route) -> [NodeComponent] { [.route(c)] }
    /// A policy rule in the node.
    public static func buildExpression(_ c: Rule) -> [NodeComponent] { [.rule(c)] }
    /// A sysctl in the node.
    public static func buildExpression(_ c: Sysctl) -> [NodeComponent] { [.sysctl(c)] }
    /// A bridge in the node.
    public static func buildExpression(_ c: Bridge) -> [NodeComponent] { [.bridge(c)] }
    /// A macvlan in the node.
    public static func buildExpression(_ c: Macvlan) -> [NodeComponent] { [.macvlan(c)] }
    /// A VLAN subinterface in the node.
    public static func buildExpression(_ c: VLAN) -> [NodeComponent] { [.vlan(c)] }
    /// A dummy interface in the node.
    public static func buildExpression(_ c: Dummy) -> [NodeComponent] { [.dummy(c)] }
    /// Another device in the node.
    public static func buildExpression(_ c: Device) -> [NodeComponent] { [.device(c)] }
    /// A VXLAN device in the node.
    public static func buildExpression(_ c: VXLANDevice) -> [NodeComponent] { [.vxlan(c)] }
    /// A qdisc in the node.
    public static func buildExpression(_ c: Qdisc) -> [NodeComponent] { [.qdisc(c)] }
    /// A static neighbour entry in the node.
    public static func buildExpression(_ c: Neighbor) -> [NodeComponent] { [.neighbor(c)] }
    /// The node's nftables ruleset.
    public static func buildExpression(_ c: Firewall) -> [NodeComponent] { [.firewall(c)] }
    /// Components made elsewhere (a helper function's result), spliced in.
    public static func buildExpression(_ c: [NodeComponent]) -> [NodeComponent] { c }
    /// The components of a block, in order.
    public static func buildBlock(_ parts: [NodeComponent]...) -> [NodeComponent] { parts.flatMap { $0 } }
    /// An `if` without `else`: its components, or none.
    public static func buildOptional(_ part: [NodeComponent]?) -> [NodeComponent] { part ?? [] }
    /// The `if` branch of an `if/else`.
    public static func buildEither(first: [NodeComponent]) -> [NodeComponent] { first }
    /// The `else` branch of an `if/else`.
    public static func buildEither(second: [NodeComponent]) -> [NodeComponent] { second }
    /// A `for` loop: the components of every iteration, in order.
    public static func buildArray(_ parts: [[NodeComponent]]) -> [NodeComponent] { parts.flatMap { $0 } }
    /// An `if #available` block.
    public static func buildLimitedAvailability(_ part: [NodeComponent]) -> [NodeComponent] { part }
}

/// Collects the ports of a bridge.
@resultBuilder
public enum BridgeBuilder {
    /// A bridge port.
    public static func buildExpression(_ port: BridgePort) -> [BridgePort] { [port] }
    /// Ports made elsewhere (a helper function's result), spliced in.
    public static func buildExpression(_ ports: [BridgePort]) -> [BridgePort] { ports }
    /// The ports of a block, in order.
    public static func buildBlock(_ parts: [BridgePort]...) -> [BridgePort] { parts.flatMap { $0 } }
    /// An `if` without `else`: its ports, or none.
    public static func buildOptional(_ part: [BridgePort]?) -> [BridgePort] { part ?? [] }
    /// The `if` branch of an `if/else`.
    public static func buildEither(first: [BridgePort]) -> [BridgePort] { first }
    /// The `else` branch of an `if/else`.
    public static func buildEither(second: [BridgePort]) -> [BridgePort] { second }
    /// A `for` loop: the ports of every iteration, in order.
    public static func buildArray(_ parts: [[BridgePort]]) -> [BridgePort] { parts.flatMap { $0 } }
    /// An `if #available` block.
    public static func buildLimitedAvailability(_ part: [BridgePort]) -> [BridgePort] { part }
}

/// An nftables ruleset for a node, loaded with `nft -f -` inside it after the build.
///
/// ```swift
/// Router("r1") { Firewall("""
///     table inet filter { chain forward { type filter hook forward priority 0; tcp dport 22 drop; } }
///     """) }
/// ```
public struct Firewall: Sendable, Hashable {
    /// The ruleset in `nft` syntax, as `nft -f` reads it.
    public var ruleset: String
    /// Where the ruleset was declared.
    public var provenance: Provenance
    /// A ruleset, remembering where it was written for messages.
    public init(_ ruleset: String, fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.ruleset = ruleset
        provenance = Provenance(fileID, line, column)
    }
}

/// A sysctl to set in a node, e.g. `Sysctl("net.ipv4.conf.all.rp_filter", "0")`.
///
/// A per-interface key (`net.ipv4.conf.eth0.rp_filter`, `net.ipv6.conf.eth0.accept_dad`,
/// `net.ipv4.neigh.eth0.*`) is written once that interface exists; the interface must be one
/// of the node's (or `all`/`default`).
public struct Sysctl: Sendable, Hashable {
    /// The key as `sysctl` names it (`net.ipv4.ip_forward`), without `/proc/sys`.
    public var key: String
    /// The value to write.
    public var value: String
    /// Where the sysctl was declared.
    public var provenance: Provenance

    /// Sets `key` to `value`, remembering where it was written for messages.
    public init(_ key: String, _ value: String, fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.key = key
        self.value = value
        provenance = Provenance(fileID, line, column)
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
            case .sysctl(let c):
                if sysctls[c.key] != nil { provenance.repeatedSysctls.append((c.key, c.provenance.location)) }
                sysctls[c.key] = c.value
                provenance.parts["sysctls.\(c.key)"] = provenance.parts["sysctls.\(c.key)"] ?? c.provenance.location
            case .bridge(let c): bridges.append(c)
            case .macvlan(let c): macvlans.append(c)
            case .vlan(let c): vlans.append(c)
            case .dummy(let c): dummies.append(c)
            case .device(let c): devices.append(c)
            case .vxlan(let c): vxlans.append(c)
            case .qdisc(let c): qdiscs.append(c)
            case .neighbor(let c): neighbors.append(c)
            case .firewall(let c):
                firewall = (firewall.map { $0 + "\n" } ?? "") + c.ruleset
                provenance.parts["firewall"] = provenance.parts["firewall"] ?? c.provenance.location
            }
        }
    }
}

/// Declares an end host; `isolation: .full` gives it its own hostname, `/etc/hosts`,
/// `/etc/resolv.conf`, `/run` and `/tmp` (for daemons).
public func Host(_ name: String, isolation: Isolation = .network, fileID: String = #fileID, line: Int = #line,
                 column: Int = #column, @NodeBuilder _ content: () -> [NodeComponent] = { [] }) -> Node {
    var node = Node(name, kind: .host, fileID: fileID, line: line, column: column, content)
    node.isolation = isolation
    return node
}

/// Declares a router: a node with IPv4 and IPv6 forwarding on; `isolation: .full` as for ``Host(_:isolation:fileID:line:column:_:)``.
public func Router(_ name: String, isolation: Isolation = .network, fileID: String = #fileID, line: Int = #line,
                   column: Int = #column, @NodeBuilder _ content: () -> [NodeComponent] = { [] }) -> Node {
    var node = Node(name, kind: .router, fileID: fileID, line: line, column: column, content)
    node.isolation = isolation
    return node
}

/// Declares a switch: a node with a bridge (`br0` unless one is declared) that every link to it joins.
public func Switch(_ name: String, fileID: String = #fileID, line: Int = #line, column: Int = #column,
                   @NodeBuilder _ content: () -> [NodeComponent] = { [] }) -> Node {
    Node(name, kind: .switch, fileID: fileID, line: line, column: column, content)
}

/// Declares an address with its prefix length; without `on:` it goes on the node's first link interface.
///
/// - Parameters:
///   - prefix: The address with its prefix length, `"10.0.1.2/24"` or `"fd00::2/64"`.
///   - interface: The interface to put it on; the node's first link interface by default.
///   - nodad: `false` makes the kernel run duplicate address detection on this IPv6 address.
///   - metric: The metric of the route to the prefix.
///   - noprefixroute: Add no route to the prefix.
///   - fileID: The file of the declaration, for validation errors; the caller's by default.
///   - line: The line of the declaration; the caller's by default.
///   - column: The column of the declaration; the caller's by default.
public func Address(_ prefix: String, on interface: String? = nil, nodad: Bool = true, metric: UInt32? = nil,
                    noprefixroute: Bool = false,
                    fileID: String = #fileID, line: Int = #line, column: Int = #column) -> InterfaceAddress {
    var parser = TextParser()
    let parsed = parser.interfacePrefix(prefix, field: "address")
    return InterfaceAddress(interface: interface, prefix: parsed ?? IPPrefix(.v4(0), 0), nodad: nodad, metric: metric,
                            noprefixroute: noprefixroute, provenance: Provenance(fileID, line, column, parser))
}

/// Declares a VXLAN tunnel between two nodes.
///
/// - Parameters:
///   - name: The tunnel interface's name on both ends.
///   - a: One end: `"node"`, or `"node:ifname"` to name that end's interface.
///   - b: The other end.
///   - vni: The VXLAN network identifier.
///   - port: The UDP destination port; 4789 (IANA) by default.
///   - aUnderlay: The `a` end's underlay: an IP address, or the name of an interface whose address to use.
///   - bUnderlay: The `b` end's underlay.
///   - aAddress: The overlay address on the `a` end.
///   - bAddress: The overlay address on the `b` end.
///   - aMaster: A bridge in `a`'s node to enslave the `a` end to.
///   - bMaster: A bridge in `b`'s node to enslave the `b` end to.
///   - mtu: The MTU of both ends.
///   - ttl: The outer TTL (the kernel's default is the route's: `ttl auto`).
///   - tos: The outer TOS byte.
///   - learning: Whether the device learns remote MACs (`ip link … type vxlan [no]learning`).
///   - udpChecksum: Whether the outer UDP header carries a checksum (`[no]udpcsum`).
///   - df: The outer DF bit (`df set|unset|inherit`).
///   - fileID: The file of the declaration, for validation errors; the caller's by default.
///   - line: The line of the declaration; the caller's by default.
///   - column: The column of the declaration; the caller's by default.
public func VXLAN(_ name: String, between a: Endpoint, _ b: Endpoint, vni: UInt32, port: UInt16 = 4789,
                  aUnderlay: String? = nil, bUnderlay: String? = nil,
                  aAddress: String? = nil, bAddress: String? = nil,
                  aMaster: String? = nil, bMaster: String? = nil, mtu: Int? = nil, ttl: UInt8? = nil, tos: UInt8? = nil,
                  learning: Bool? = nil, udpChecksum: Bool? = nil, df: VXLANDF? = nil,
                  fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Tunnel {
    var t = Tunnel(name, .vxlan(vni: vni, port: port), between: a, b, aUnderlay: aUnderlay, bUnderlay: bUnderlay,
                   aAddress: aAddress, bAddress: bAddress, aMaster: aMaster, bMaster: bMaster, mtu: mtu, ttl: ttl,
                   fileID: fileID, line: line, column: column)
    t.vxlan = VXLANSettings(tos: tos, learning: learning, udpChecksum: udpChecksum, df: df)
    return t
}

/// Declares a WireGuard tunnel between two nodes.
///
/// - Important: not supported yet: validation refuses it, because NetnsKit cannot configure
///   WireGuard keys and peers (generic netlink) yet.
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
    ///   - a: One end: `"node:interface"`, or `"node"` for the node's next free `ethN`.
    ///   - b: The other end.
    ///   - mtu: The MTU of both ends, unless `aMTU`/`bMTU` say otherwise.
    ///   - aAddress: An address for the `a` end; `aAddresses` adds more.
    ///   - bAddress: An address for the `b` end; `bAddresses` adds more.
    ///   - aAddresses: More addresses for the `a` end.
    ///   - bAddresses: More addresses for the `b` end.
    ///   - aMTU: The MTU of the `a` end.
    ///   - bMTU: The MTU of the `b` end.
    ///   - aMAC: The MAC address of the `a` end; the kernel picks one by default.
    ///   - bMAC: The MAC address of the `b` end.
    ///   - aMaster: A bridge in `a`'s node to enslave the end to (links to a switch join its bridge anyway).
    ///   - bMaster: A bridge in `b`'s node to enslave the `b` end to.
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    public init(_ a: Endpoint, _ b: Endpoint, mtu: Int? = nil,
                aAddress: String? = nil, bAddress: String? = nil,
                aAddresses: [String] = [], bAddresses: [String] = [],
                aMTU: Int? = nil, bMTU: Int? = nil, aMAC: String? = nil, bMAC: String? = nil,
                aMaster: String? = nil, bMaster: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let aEnd = LinkEnd(endpoint: a, mac: parser.mac(aMAC, field: "a.mac"), mtu: aMTU,
                           addresses: parser.interfacePrefixes((aAddress.map { [$0] } ?? []) + aAddresses, field: "a.addresses"),
                           master: aMaster)
        let bEnd = LinkEnd(endpoint: b, mac: parser.mac(bMAC, field: "b.mac"), mtu: bMTU,
                           addresses: parser.interfacePrefixes((bAddress.map { [$0] } ?? []) + bAddresses, field: "b.addresses"),
                           master: bMaster)
        self.init(a: aEnd, b: bEnd, mtu: mtu, provenance: Provenance(fileID, line, column, parser))
    }
}

extension Tunnel {
    /// Declares a tunnel of any kind between two nodes (`"node"`, or `"node:ifname"` to rename that end).
    ///
    /// - Parameters:
    ///   - name: The tunnel interface's name on both ends.
    ///   - kind: The kind of tunnel, with its own settings.
    ///   - a: One end: `"node"`, or `"node:ifname"` to name that end's interface.
    ///   - b: The other end.
    ///   - aUnderlay: The `a` end's underlay: an IP address, or the name of an interface whose address to use.
    ///   - bUnderlay: The `b` end's underlay.
    ///   - aAddress: The overlay address on the `a` end.
    ///   - bAddress: The overlay address on the `b` end.
    ///   - aMaster: A bridge in `a`'s node to enslave the `a` end to.
    ///   - bMaster: A bridge in `b`'s node to enslave the `b` end to.
    ///   - mtu: The MTU of both ends.
    ///   - ttl: The outer TTL; the kernel's default by default.
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    public init(_ name: String, _ kind: Kind, between a: Endpoint, _ b: Endpoint,
                aUnderlay: String? = nil, bUnderlay: String? = nil,
                aAddress: String? = nil, bAddress: String? = nil,
                aMaster: String? = nil, bMaster: String? = nil, mtu: Int? = nil, ttl: UInt8? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let aEnd = TunnelEnd(node: a.node, interface: a.interface, underlay: aUnderlay.map(Underlay.init),
                             addresses: parser.interfacePrefixes(aAddress.map { [$0] } ?? [], field: "a.addresses"),
                             master: aMaster)
        let bEnd = TunnelEnd(node: b.node, interface: b.interface, underlay: bUnderlay.map(Underlay.init),
                             addresses: parser.interfacePrefixes(bAddress.map { [$0] } ?? [], field: "b.addresses"),
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

    /// A destination written as a string literal: `"default"` or a prefix.
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
    ///   - via: The gateway; it must be inside a subnet of the node unless `onlink`; an IPv6
    ///     gateway of an IPv4 route (RFC 5549) needs `dev`.
    ///   - dev: The output interface.
    ///   - metric: The route's metric (`metric`, the kernel's priority).
    ///   - table: The routing table; `main` (254) by default.
    ///   - scope: The route's scope; `link` for a gatewayless unicast route, else `universe`, by default.
    ///   - proto: The `RTPROT_*` origin (`proto`); `static` by default.
    ///   - src: The preferred source address (`src`).
    ///   - onlink: Take the gateway as directly reachable on `dev`, outside any subnet.
    ///   - type: `unicast`, or `blackhole`, `unreachable`, `prohibit`….
    ///   - nexthops: Next hops of a multipath route, instead of `via`/`dev`.
    ///   - mtu: The route's path MTU.
    ///   - advmss: The MSS the route advertises.
    ///   - absent: Remove this route after the build instead of adding it (e.g. one the kernel made).
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    public init(_ destination: RouteTarget, via: String? = nil, dev: String? = nil, metric: UInt32? = nil,
                table: UInt32 = RouteTable.main, scope: RouteScope? = nil, proto: UInt8? = nil,
                src: String? = nil, onlink: Bool = false, type: RouteType = .unicast, nexthops: [Nexthop] = [],
                mtu: UInt32? = nil, advmss: UInt32? = nil, absent: Bool = false,
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
                  nexthops: nexthops, mtu: mtu, advmss: advmss, absent: absent,
                  provenance: Provenance(fileID, line, column, parser))
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
    /// Declares a policy rule: `lookup table` by default, or another `action` (`.goto(priority:)` continues at that rule).
    ///
    /// - Parameters:
    ///   - family: IPv4 or IPv6; by default the family of `from`/`to`, else IPv4.
    ///   - priority: The rule's priority (`pref`), lower first; the kernel picks one by default.
    ///   - from: The source prefix to match.
    ///   - to: The destination prefix to match.
    ///   - iif: The input interface to match.
    ///   - oif: The output interface to match (locally sent packets).
    ///   - fwmark: The firewall mark to match.
    ///   - fwmask: The mask applied to the mark before comparing (`fwmark M/MASK`).
    ///   - tos: The TOS byte to match.
    ///   - uidrange: The socket UIDs to match, e.g. `100...100`.
    ///   - ipproto: The IP protocol to match (6 for TCP, 17 for UDP).
    ///   - sport: A port (`80`) or range (`PortRange(1000...2000)`) to match as the source port.
    ///   - dport: A port or range to match as the destination port.
    ///   - l3mdev: Look up the table of the packet's VRF instead of `table`.
    ///   - suppressPrefixlength: Ignore lookup results with a prefix this long or shorter.
    ///   - table: The table to look up; `main` by default.
    ///   - action: Another action than `lookup table` (`.goto(priority:)`, `.blackhole`…).
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    public init(family: IPFamily? = nil, priority: UInt32? = nil, from: String? = nil, to: String? = nil,
                iif: String? = nil, oif: String? = nil, fwmark: UInt32? = nil, fwmask: UInt32? = nil,
                tos: UInt8? = nil, uidrange: ClosedRange<UInt32>? = nil, ipproto: UInt8? = nil,
                sport: PortRange? = nil, dport: PortRange? = nil, l3mdev: Bool = false,
                suppressPrefixlength: UInt32? = nil,
                table: UInt32 = RouteTable.main, action: Action? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        self.init(family: family, priority: priority, from: parser.prefix(from, field: "from"),
                  to: parser.prefix(to, field: "to"), iif: iif, oif: oif, fwmark: fwmark, fwmask: fwmask,
                  action: action ?? .lookup(table: table), tos: tos, uidrange: uidrange, ipproto: ipproto,
                  sport: sport, dport: dport, l3mdev: l3mdev, suppressPrefixlength: suppressPrefixlength,
                  provenance: Provenance(fileID, line, column, parser))
    }
}

extension Bridge {
    /// Declares a bridge with its ports.
    ///
    /// - Parameters:
    ///   - name: The bridge interface's name.
    ///   - stp: Run the spanning tree protocol.
    ///   - vlanFiltering: Filter by VLAN (each port's `pvid` and `vlans`).
    ///   - mtu: The bridge's MTU.
    ///   - mac: The bridge's MAC address; the kernel picks one by default.
    ///   - addresses: Addresses on the bridge interface itself.
    ///   - ageingTime: How long learnt addresses stay (`ip link … ageing_time`).
    ///   - mcastSnooping: Whether the bridge snoops IGMP/MLD; the kernel's default by default.
    ///   - vlanDefaultPvid: The VLAN new ports join untagged; needs `vlanFiltering`.
    ///   - forwardDelay: The STP forward delay (`forward_delay`).
    ///   - helloTime: The STP hello time (`hello_time`).
    ///   - maxAge: The STP maximum message age (`max_age`).
    ///   - fdb: Static FDB entries, each on a port: `FDB("02:00:00:00:00:01", port: "eth0")`.
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    ///   - ports: The bridge's ports.
    public init(_ name: String, stp: Bool = false, vlanFiltering: Bool = false, mtu: Int? = nil,
                mac: String? = nil, addresses: [String] = [], ageingTime: Duration? = nil, mcastSnooping: Bool? = nil,
                vlanDefaultPvid: UInt16? = nil, forwardDelay: Duration? = nil, helloTime: Duration? = nil,
                maxAge: Duration? = nil, fdb: [FDBEntry] = [],
                fileID: String = #fileID, line: Int = #line, column: Int = #column,
                @BridgeBuilder ports: () -> [BridgePort] = { [] }) {
        var parser = TextParser()
        self.init(name: name, ports: ports(), stp: stp, vlanFiltering: vlanFiltering, mtu: mtu,
                  mac: parser.mac(mac, field: "mac"), addresses: parser.interfacePrefixes(addresses, field: "addresses"),
                  ageingTime: ageingTime, mcastSnooping: mcastSnooping, vlanDefaultPvid: vlanDefaultPvid,
                  forwardDelay: forwardDelay, helloTime: helloTime, maxAge: maxAge, fdb: fdb,
                  provenance: Provenance(fileID, line, column, parser))
    }
}

extension BridgePort {
    /// Declares a bridge port, with its VLANs when the bridge filters VLANs and its flags
    /// (`bridge link set dev PORT learning off …`; nil keeps the kernel's default).
    public init(_ name: String, pvid: UInt16? = nil, vlans: [UInt16] = [], learning: Bool? = nil, flood: Bool? = nil,
                mcastFlood: Bool? = nil, neighSuppress: Bool? = nil, isolated: Bool? = nil, hairpin: Bool? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        self.init(name: name, pvid: pvid, vlans: vlans, learning: learning, flood: flood, mcastFlood: mcastFlood,
                  neighSuppress: neighSuppress, isolated: isolated, hairpin: hairpin,
                  provenance: Provenance(fileID, line, column))
    }
}

/// Declares a static FDB entry: on a bridge, `port` is the bridge port behind which `mac` is;
/// on a VXLAN device, `dst` is the remote VTEP.
public func FDB(_ mac: String, port: String? = nil, dst: String? = nil, vlan: UInt16? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) -> FDBEntry {
    var parser = TextParser()
    let hw = parser.mac(mac, field: "mac")
    let ip = parser.address(dst, field: "dst")
    return FDBEntry(mac: hw ?? MACAddress(bytes: [0, 0, 0, 0, 0, 0])!, dst: ip, port: port, vlan: vlan,
                    provenance: Provenance(fileID, line, column, parser))
}

extension VXLANDevice {
    /// Declares a VXLAN device in this node (a VTEP), flooding to a multicast `group` or to each of `remotes`.
    ///
    /// - Parameters:
    ///   - name: The device's name.
    ///   - vni: The VXLAN network identifier.
    ///   - port: The UDP destination port; 4789 (IANA) by default.
    ///   - local: The underlay source address.
    ///   - group: A multicast group to flood to.
    ///   - remotes: Remote VTEPs; each gets an all-zero FDB entry (head-end replication).
    ///   - dev: The underlay device (needed with `group`).
    ///   - ttl: The outer TTL.
    ///   - tos: The outer TOS byte.
    ///   - learning: Whether the device learns remote MACs (`[no]learning`).
    ///   - udpChecksum: Whether the outer UDP header carries a checksum (`[no]udpcsum`).
    ///   - df: The outer DF bit (`df set|unset|inherit`).
    ///   - mtu: The device's MTU.
    ///   - master: A bridge in this node to enslave the device to.
    ///   - fdb: Static entries: `FDB("02:00:00:00:00:02", dst: "10.0.0.2")`.
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    public init(_ name: String, vni: UInt32, port: UInt16 = 4789, local: String? = nil, group: String? = nil,
                remotes: [String] = [], dev: String? = nil, ttl: UInt8? = nil, tos: UInt8? = nil, learning: Bool? = nil,
                udpChecksum: Bool? = nil, df: VXLANDF? = nil, mtu: Int? = nil, master: String? = nil, fdb: [FDBEntry] = [],
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let local = parser.address(local, field: "local")
        let group = parser.address(group, field: "group")
        let remotes = remotes.enumerated().compactMap { parser.address($0.element, field: "remotes[\($0.offset)]") }
        for (i, e) in fdb.enumerated() {
            parser.malformed += e.provenance.malformed.map {
                MalformedValue(field: "fdb[\(i)].\($0.field)", text: $0.text, expected: $0.expected)
            }
        }
        self.init(name: name, vni: vni, port: port, local: local, group: group, remotes: remotes, dev: dev, ttl: ttl,
                  settings: VXLANSettings(tos: tos, learning: learning, udpChecksum: udpChecksum, df: df), mtu: mtu,
                  master: master, fdb: fdb, provenance: Provenance(fileID, line, column, parser))
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
    /// Declares a qdisc; without `on:` it goes on the node's first link interface.
    ///
    /// - Parameters:
    ///   - kind: The qdisc and its parameters.
    ///   - interface: The interface; the node's first link interface by default.
    ///   - handle: The handle's major number (`handle 10:`); 1 by default.
    ///   - parent: A class of another qdisc on the interface, as `tc` writes it (`"1:10"`); the root by default.
    ///   - fileID: The file of the declaration, for validation errors; the caller's by default.
    ///   - line: The line of the declaration; the caller's by default.
    ///   - column: The column of the declaration; the caller's by default.
    public init(_ kind: Kind, on interface: String? = nil, handle: UInt16? = nil, parent: String? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) {
        var parser = TextParser()
        let parsed = parent.flatMap(TCHandle.init)
        if let parent, parsed == nil {
            parser.malformed.append(MalformedValue(field: "parent", text: parent, expected: "a tc class id like 1:10 (hex)"))
        }
        self.init(interface: interface, kind: kind, handle: handle, parent: parsed,
                  provenance: Provenance(fileID, line, column, parser))
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
