/// One problem found in a topology, with where it was declared and how to fix it.
public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
    /// The class of problem.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A name that is not a node of the topology.
        case unknownNode
        /// A name that is not an interface of the node.
        case unknownInterface
        /// Two nodes with the same name.
        case duplicateNode
        /// Two interfaces with the same name in one node.
        case duplicateInterface
        /// A node name that cannot name a namespace (or is too long for one).
        case invalidNodeName
        /// An interface name the kernel would refuse (more than 15 bytes, `/`, spaces, …).
        case invalidInterfaceName
        /// A value given as text that did not parse (an address, a prefix, a MAC, a rate, …).
        case malformedValue
        /// Something that needs an interface, in a node without one to put it on.
        case missingInterface
        /// The same address assigned twice.
        case duplicateAddress
        /// A gateway that cannot be a next hop (the node's own address, or on no connected subnet).
        case unreachableGateway
        /// An MTU outside what the interface accepts.
        case mtuOutOfRange
        /// A tunnel underlay that is not an address (or interface) of its node.
        case missingUnderlay
        /// A tunnel the kernel would refuse, or settings of another tunnel kind.
        case invalidTunnel
        /// A rule that looks up a table with no routes in the node.
        case emptyRuleTable
        /// A next hop weight outside 1…256.
        case invalidWeight
        /// A VLAN id outside 1…4094.
        case invalidVLANID
        /// IPv4 and IPv6 mixed where one family is needed (a route and its gateway, a rule's prefixes).
        case familyMismatch
        /// A `master` that is not a bridge.
        case notABridge
        /// An address an interface cannot use (a network or broadcast address, multicast, …).
        case invalidAddress
        /// A bridge with more ports than the kernel allows.
        case bridgeFull
        /// The same route declared twice.
        case duplicateRoute
        /// The same sysctl set twice in a node.
        case duplicateSysctl
        /// A route the kernel would refuse.
        case invalidRoute
        /// A policy rule the kernel would refuse.
        case invalidRule
        /// A VRF, bond, ipvlan or GENEVE device the kernel would refuse, or an interface enslaved twice.
        case invalidDevice
        /// A bridge setting out of range, or one that needs VLAN filtering without it.
        case invalidBridgeSetting
        /// An FDB entry the kernel would refuse, or on the wrong kind of device.
        case invalidFDBEntry
        /// A macvlan the kernel would refuse.
        case invalidMacvlan
        /// A qdisc the kernel would refuse, or whose parent does not exist.
        case invalidQdisc
    }

    /// The class of problem, for tests and tools that match on it.
    public var code: Code
    /// What is wrong, in one sentence.
    public var message: String
    /// Where in the model: a path like `links[1].b` or `nodes[0].routes[2].via`.
    public var path: String
    /// Where in Swift source, for declarations made with the DSL.
    public var location: DeclarationLocation?
    /// How to fix it.
    public var hint: String?

    /// An issue of class `code` at the model path `path`, with its source location and a hint when known.
    public init(_ code: Code, _ message: String, at path: String, location: DeclarationLocation? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.location = location
        self.hint = hint
    }

    /// `Topo.swift:12:5: links[1].b: unknown node "r9" (known: h1, r1) — hint: …`.
    public var description: String {
        (location.map { "\($0): " } ?? "") + "\(path): \(message)" + (hint.map { " — hint: \($0)" } ?? "")
    }
}

/// Every problem of a topology, thrown by ``Topology/validated()`` and the methods that validate first.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The topology's name.
    public var topology: String
    /// Every problem found, in model order.
    public var issues: [ValidationIssue]

    /// The topology and one problem per line.
    public var description: String {
        let count = issues.count == 1 ? "1 problem" : "\(issues.count) problems"
        return "topology \"\(topology)\" has \(count):\n" + issues.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension Topology {
    /// Every problem of this topology, grouped by check and in declaration order within one; empty when it can be built.
    public func validate() -> [ValidationIssue] { Resolution(self).issues }

    /// This topology, or a ``ValidationError`` listing every problem.
    public func validated() throws(ValidationError) -> Topology {
        let issues = validate()
        guard issues.isEmpty else { throw ValidationError(topology: name, issues: issues) }
        return self
    }

    /// The topology with everything implicit made explicit, or a ``ValidationError``.
    ///
    /// Every link end has its interface name (generated ones are `eth0`, `eth1`, … per node in
    /// declaration order) and its alias (the peer endpoint); links to a switch have their master;
    /// switches have their bridge; routers have their forwarding sysctls; addresses, qdiscs and
    /// neighbours declared without `on:` have the node's first link interface; tunnel ends have
    /// their interface, underlay address and, when the peer is on a shared subnet, underlay device.
    public func resolved() throws(ValidationError) -> Topology {
        let resolution = Resolution(self)
        guard resolution.issues.isEmpty else { throw ValidationError(topology: name, issues: resolution.issues) }
        return resolution.topology
    }
}

/// Limits the kernel puts on names and numbers.
enum Limits {
    /// `IFNAMSIZ` minus the terminating NUL.
    static let interfaceNameBytes = 15
    /// Kept short so a lab prefix plus the node name fits comfortably in paths and namespace names.
    static let nodeNameLength = 32
    static let mtu = 68...65535
    static let ipv6MinimumMTU = 1280
    static let vlanID = 1...4094
    static let nexthopWeight = 1...256
    /// Ports a bridge can have: port numbers 1…1023 (`BR_MAX_PORTS` is 1024, port 0 is reserved);
    /// the next one fails with EXFULL.
    static let bridgePorts = 1023
    static let reservedTables: Set<UInt32> = [RouteTable.default, RouteTable.main, RouteTable.local]

    /// Why `name` cannot be an interface name, or `nil` when it can.
    static func interfaceNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > interfaceNameBytes { return "is \(name.utf8.count) bytes long (the kernel allows 15)" }
        if name == "." || name == ".." { return "is reserved" }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "contains '/', ':' or whitespace"
        }
        return nil
    }

    /// Why `name` cannot be a node name, or `nil` when it can.
    /// Words YAML reads as null or a boolean: a node named so means something else to other tools.
    static let yamlWords: Set<String> = ["null", "~", "true", "false", "yes", "no", "on", "off"]

    static func nodeNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if yamlWords.contains(name.lowercased()) {
            return "is a word YAML reads as null or a boolean, so other tools would not see a name"
        }
        if name.count > nodeNameLength { return "is \(name.count) characters long (at most \(nodeNameLength))" }
        let allowed = name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "_.-".unicodeScalars.contains($0)
        }
        if !allowed { return "has characters outside A-Z a-z 0-9 _ . -" }
        if name == "." || name == ".." { return "is reserved" }
        return nil
    }
}

extension Topology {
    /// Why `name` cannot be a node name (a phrase such as "is empty"), or `nil` when it can.
    public static func nodeNameProblem(_ name: String) -> String? { Limits.nodeNameProblem(name) }
}
