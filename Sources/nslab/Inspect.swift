import ArgumentParser
import Foundation
import NetnsKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a lab's nodes, interfaces, states and addresses, read from the kernel now.",
        discussion: """
            The table `nslab up` prints, at any time later: each node's interfaces (kind, bridge \
            master), whether they are up, their MTU and addresses, as the kernel has them at this \
            moment (what `ip -n <LAB>-<node> -d addr` shows). A node whose namespace cannot be \
            entered is listed as such.
            """)

    @Argument(help: "The lab.") var lab: String
    @Flag(help: "Print JSON: one entry per node, with its interfaces.") var json = false

    func run() throws {
        try requirePrivileges("nslab inspect")
        try validateLabName(lab)
        let state = try StateStore.read(lab)
        let kinds = Dictionary(state.topology.nodes.map { ($0.name, $0.kind.rawValue) }, uniquingKeysWith: { a, _ in a })
        let views = state.namespaces.map { record -> NodeView in
            let kind = kinds[record.node] ?? "?"
            do {
                let ns = try openNode(lab: lab, node: record.node)
                defer { ns.close() }
                return try NodeView(node: record.node, kind: kind, links: ns.socket.links(), addresses: ns.socket.addresses())
            } catch {
                return NodeView(node: record.node, kind: kind, problem: describe(error))
            }
        }
        if json {
            print(try jsonText(views))
        } else {
            print("lab \(lab) (\(state.source), \(views.count) nodes, up \(ageText(Date().timeIntervalSince1970 - state.created)))")
            print(nodeTable(views), terminator: "")
        }
        if views.contains(where: { $0.problem != nil }) { throw ExitCode(1) }
    }
}

/// One node's interfaces as the kernel reports them: what `up` and `inspect` print.
struct NodeView: Encodable {
    struct Interface: Encodable {
        var name: String
        var kind: String?
        /// The bridge (or other master) the interface is a port of.
        var master: String?
        /// Administratively up (`ip link set … up`).
        var up: Bool
        /// The operational state as `ip` prints it (UP, DOWN, LOWERLAYERDOWN, UNKNOWN, …).
        var operState: String
        var mtu: UInt32?
        var mac: String?
        /// Addresses other than link-local ones, as `prefix/length`.
        var addresses: [String]
    }

    var node: String
    var kind: String
    var interfaces: [Interface] = []
    /// Why the node could not be read, or nil.
    var problem: String?

    init(node: String, kind: String, problem: String) {
        self.node = node; self.kind = kind; self.problem = problem
    }

    init(node: String, kind: String, links: [LinkInfo], addresses: [AddressInfo]) {
        self.node = node
        self.kind = kind
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        interfaces = links.sorted { $0.index < $1.index }.filter { $0.name != "lo" }.map { l in
            Interface(name: l.name, kind: l.kind, master: l.master.map { names[$0] ?? "#\($0)" }, up: l.isUp,
                      operState: l.operStateName, mtu: l.mtu, mac: l.mac.map { "\($0)" },
                      addresses: addresses.filter { $0.index == UInt32(bitPattern: l.index) && $0.scope != RouteScope.link.rawValue }
                          .map { "\($0.prefix)" })
        }
    }
}

/// NODE / KIND / INTERFACE / STATE / MTU / ADDRESSES, one line per interface.
func nodeTable(_ views: [NodeView]) -> String {
    var t = TextTable("NODE", "KIND", "INTERFACE", "STATE", "MTU", "ADDRESSES")
    for v in views {
        if let problem = v.problem {
            t.add([v.node, v.kind, "?", "?", "?", "(cannot read: \(problem))"])
            continue
        }
        for (i, l) in v.interfaces.enumerated() {
            var iface = l.name
            if let k = l.kind { iface += " (\(k))" }
            if let m = l.master { iface += " → \(m)" }
            t.add([i == 0 ? v.node : "", i == 0 ? v.kind : "", iface, l.up ? "UP" : "DOWN", "\(l.mtu ?? 0)",
                   l.addresses.joined(separator: " ")])
        }
        if v.interfaces.isEmpty { t.add([v.node, v.kind, "-", "", "", ""]) }
    }
    return t.text
}

/// The table of a lab this process has just built.
func labTable(_ lab: Lab) -> String {
    nodeTable(lab.nodes.map { node in
        do {
            return try NodeView(node: node.name, kind: node.kind.rawValue, links: node.links(), addresses: node.addresses())
        } catch {
            return NodeView(node: node.name, kind: node.kind.rawValue, problem: describe(error))
        }
    })
}
