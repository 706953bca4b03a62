import Namespaces
import Netlink
import NetnsModel

/// A running node of a lab: one network namespace and typed access to its kernel state.
///
/// Reads go through the node's own rtnetlink socket; commands run inside the
/// namespace through `posix_spawn` on the namespace worker.
public final class Node: @unchecked Sendable, CustomStringConvertible {
    /// The node's name in the topology.
    public let name: String
    /// What the node is: host, router or switch.
    public let kind: NodeKind
    private let ns: NetworkNamespace?
    /// The lab this node belongs to (nil for a detached node).
    public internal(set) weak var lab: Lab?

    init(name: String, kind: NodeKind, namespace: NetworkNamespace?) {
        self.name = name; self.kind = kind; self.ns = namespace
    }

    /// `node NAME`.
    public var description: String { "node \(name)" }

    /// The node's namespace.
    /// - Throws: ``LabError/unknownNode(_:known:)`` for a node the lab does not have.
    public var namespace: NetworkNamespace {
        get throws {
            guard let ns else { throw LabError.unknownNode(name, known: []) }
            return ns
        }
    }

    var socket: RTNetlinkSocket { get throws { try namespace.socket } }

    // MARK: Kernel state

    /// Links. Equivalent to `ip -n NODE -d -s link`.
    public func links() throws -> [LinkInfo] { try socket.links() }

    /// One link by name. Equivalent to `ip -n NODE -d -s link show dev NAME`.
    public func link(_ name: String) throws -> LinkInfo {
        do { return try socket.link(named: name) } catch let e as NetlinkError where e.errno == .operationNotSupportedByDevice {
            let known = (try? links().map(\.name)) ?? []
            throw LabError.unknownInterface(name, node: self.name, known: known)
        }
    }

    /// Addresses. Equivalent to `ip -n NODE addr`.
    public func addresses(_ family: IPFamily? = nil) throws -> [AddressInfo] {
        try socket.addresses(family: family.map { $0 == .ipv4 ? AF.inet : AF.inet6 } ?? AF.unspec)
    }

    /// Routes of a table (default main). Equivalent to `ip -n NODE route show table T`.
    public func routes(_ family: IPFamily = .ipv4, table: UInt32? = RouteTable.main) throws -> [RouteInfo] {
        try socket.routes(family: family == .ipv4 ? AF.inet : AF.inet6, table: table)
    }

    /// Policy rules. Equivalent to `ip -n NODE rule`.
    public func rules(_ family: IPFamily = .ipv4) throws -> [RuleInfo] {
        try socket.rules(family: family == .ipv4 ? AF.inet : AF.inet6)
    }

    /// Neighbour entries. Equivalent to `ip -n NODE neigh`.
    public func neighbors() throws -> [NeighborInfo] { try socket.neighbors() }
    /// The neighbour entries of one family (`AF.inet` or `AF.inet6`).
    public func neighbors(family: UInt8) throws -> [NeighborInfo] { try socket.neighbors(family: family) }

    /// Queueing disciplines. Equivalent to `tc -n NODE qdisc`.
    public func qdiscs() throws -> [QdiscInfo] { try socket.qdiscs() }

    /// A route lookup, what `ip -n NODE route get TO [from F] [iif I] [oif O | vrf V] [mark M] [tos T] [uid U] [fibmatch]` answers.
    /// - Parameters:
    ///   - destination: the address looked up.
    ///   - source: the source address of the packet (`from`).
    ///   - inputInterface: the interface the packet arrives on (`iif`), as for a forwarded packet.
    ///   - outputInterface: the lookup's output interface; a VRF device looks up in its table.
    ///   - mark: the firewall mark (`mark`), for policy rules on `fwmark`.
    ///   - ipProtocol: the IP protocol number (`ipproto`), for rules and multipath hashing.
    ///   - sourcePort: the transport source port (`sport`).
    ///   - destinationPort: the transport destination port (`dport`).
    ///   - fibMatch: return the route entry that matched (`fibmatch`) rather than the resolved result.
    ///   - tos: the TOS byte (`tos`; a DSCP value shifted left by 2), for rules on `tos`.
    ///   - uid: the UID of the sending socket (`uid`), for rules on `uidrange`.
    /// - Throws: `NetlinkError` with ENETUNREACH and friends when there is no route.
    public func route(to destination: IPAddress, from source: IPAddress? = nil, inputInterface: String? = nil,
                      outputInterface: String? = nil, mark: UInt32? = nil, ipProtocol: UInt8? = nil, sourcePort: UInt16? = nil,
                      destinationPort: UInt16? = nil, fibMatch: Bool = false, tos: UInt8? = nil,
                      uid: UInt32? = nil) throws -> RouteInfo {
        var q = RouteQuery(destination: destination, source: source, mark: mark, ipProtocol: ipProtocol,
                           sourcePort: sourcePort, destinationPort: destinationPort, fibMatch: fibMatch, tos: tos, uid: uid)
        if let i = inputInterface { q.inputIndex = try link(i).index }
        if let o = outputInterface { q.outputIndex = try link(o).index }
        return try socket.lookupRoute(q)
    }

    /// The name of the interface with this index, if any.
    public func interfaceName(_ index: Int32?) -> String? {
        guard let index else { return nil }
        return try? socket.link(index: index).name
    }

    /// Reads a sysctl. Equivalent to `ip netns exec NODE sysctl -n KEY`.
    public func sysctl(_ key: String) throws -> String { try namespace.sysctl(key) }

    /// Writes a sysctl inside this node only.
    public func setSysctl(_ key: String, _ value: String) throws { try namespace.setSysctl(key, value) }

    // MARK: Commands

    /// Runs a command inside the node and waits for it. Equivalent to `ip netns exec NODE CMD…`.
    /// - Parameters:
    ///   - argv: the program (looked up on `PATH`) and its arguments.
    ///   - environment: `NAME=value` entries for the command's environment.
    ///   - stdin: bytes for the command's standard input (nil: `/dev/null`).
    ///   - timeout: seconds before the command (and its process group) is killed.
    public func run(_ argv: [String], environment: [String] = [], stdin: [UInt8]? = nil,
                    timeout: Double = 30) async throws -> ProcessResult {
        try await Spawner.run(argv, in: try namespace, environment: environment, stdin: stdin, timeout: timeout)
    }

    /// Runs a command inside the node, blocking the calling thread (for synchronous XCTest code).
    public func runBlocking(_ argv: [String], environment: [String] = [], stdin: [UInt8]? = nil,
                            timeout: Double = 30) throws -> ProcessResult {
        try Spawner.runBlocking(argv, in: try namespace, environment: environment, stdin: stdin, timeout: timeout)
    }

    /// Starts a long-running command inside the node (a daemon in the foreground, a server, a
    /// traffic generator) and returns at once. The lab stops it (SIGTERM, then SIGKILL) at
    /// ``Lab/down(waitUntilGone:)``; if the test process dies, the kernel kills it.
    ///
    /// ```swift
    /// let server = try lab["h2"].start(["python3", "-m", "http.server", "8080"])
    /// #expect(server.waitForOutput(containing: "Serving HTTP", timeout: 5))
    /// ```
    /// Equivalent to `ip netns exec NODE CMD… &`.
    public func start(_ argv: [String], environment: [String] = []) throws -> BackgroundProcess {
        let process = try BackgroundProcess.start(argv, in: try namespace, environment: environment)
        lab?.adopt(process)
        return process
    }

    // MARK: State as text

    /// The node's links, addresses, routes and rules as `ip`-like text, for failure messages.
    public func stateDump() -> String {
        var out = "── \(name) (\(kind.rawValue))\n"
        do {
            let links = try self.links().sorted { $0.index < $1.index }
            let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
            let addrs = try addresses()
            for l in links {
                var line = "  \(l.index): \(l.name)"
                if let k = l.kind { line += " (\(k))" }
                line += " \(l.isUp ? "UP" : "DOWN") mtu \(l.mtu ?? 0)"
                if let m = l.master { line += " master \(names[m] ?? "#\(m)")" }
                if let mac = l.mac, l.name != "lo" { line += " \(mac)" }
                out += line + "\n"
                for a in addrs where a.index == UInt32(bitPattern: l.index) && a.scope != RouteScope.link.rawValue {
                    out += "      inet\(a.prefix.address.isIPv6 ? "6" : "") \(a.prefix)\(a.isTentative ? " tentative" : "")\n"
                }
            }
            for fam in [IPFamily.ipv4, .ipv6] {
                let routes = try self.routes(fam, table: nil).filter {
                    $0.table != RouteTable.local && !($0.family == AF.inet6 && $0.destination?.address.bytes.first == 0xfe)
                        && $0.type != .multicast
                }
                for r in routes { out += "  route \(RouteText.describe(r, names: names))\n" }
            }
            for r in try rules() where ![0, 32766, 32767].contains(r.priority ?? 0) {
                out += "  rule \(r.summary)\n"
            }
        } catch {
            out += "  (state unavailable: \(error))\n"
        }
        return out
    }
}

/// Formats routes the way `ip route` prints them.
public enum RouteText {
    /// The route as one `ip route` line; `names` maps interface indexes to names for `dev`.
    public static func describe(_ r: RouteInfo, names: [Int32: String]) -> String {
        var s: [String] = []
        if r.type != .unicast { s.append(String(describing: r.type)) }
        s.append(r.destinationText)
        if let g = r.gateway { s.append("via \(g)") }
        if let o = r.outputIndex { s.append("dev \(names[o] ?? "#\(o)")") }
        for nh in r.nexthops {
            var n = "nexthop"
            if let g = nh.gateway { n += " via \(g)" }
            n += " dev \(names[nh.index] ?? "#\(nh.index)") weight \(nh.weight)"
            s.append(n)
        }
        if r.table != RouteTable.main { s.append("table \(r.table)") }
        if let m = r.metric, m != 0 { s.append("metric \(m)") }
        if let p = r.preferredSource { s.append("src \(p)") }
        return s.joined(separator: " ")
    }
}
