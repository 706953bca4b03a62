extension Topology {
    /// The topology as a Graphviz DOT graph: hosts as boxes, routers as ellipses, switches as diamonds;
    /// links labelled with interface names and all their addresses, tunnels dashed.
    ///
    /// The graph is drawn even when the topology does not validate, with what could be resolved.
    public func dot() -> String {
        let graph = GraphLabels(self)
        let t = graph.topology
        var lines = ["graph \(dotQuoted(t.name)) {", "  node [fontname=\"Helvetica\"];",
                     "  edge [fontname=\"Helvetica\", fontsize=10];"]
        for node in t.nodes {
            let shape = switch node.kind {
            case .host: "box"
            case .router: "ellipse"
            case .switch: "diamond"
            }
            lines.append("  \(dotQuoted(node.name)) [shape=\(shape), label=\(dotQuoted("\(node.name)\\n\(node.kind)"))];")
        }
        for link in t.links {
            let (a, b) = (graph.label(link.a), graph.label(link.b))
            lines.append("  \(dotQuoted(link.a.node)) -- \(dotQuoted(link.b.node)) [taillabel=\(dotQuoted(a)), headlabel=\(dotQuoted(b))];")
        }
        for tunnel in t.tunnels {
            let (a, b) = (graph.label(tunnel.a, of: tunnel), graph.label(tunnel.b, of: tunnel))
            let name = dotQuoted("\(tunnel.kind.name) \(tunnel.name)")
            lines.append("  \(dotQuoted(tunnel.a.node)) -- \(dotQuoted(tunnel.b.node)) [style=dashed, label=\(name), taillabel=\(dotQuoted(a)), headlabel=\(dotQuoted(b))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The topology as a Mermaid flowchart: hosts as rectangles, routers as rounded boxes, switches as
    /// rhombi; links labelled with interface names and all their addresses, tunnels dotted.
    public func mermaid() -> String {
        let graph = GraphLabels(self)
        let t = graph.topology
        var ids: [String: String] = [:]
        for (i, node) in t.nodes.enumerated() where ids[node.name] == nil { ids[node.name] = "n\(i)" }
        func id(_ name: String) -> String { ids[name] ?? "unknown_\(name.filter { $0.isLetter || $0.isNumber })" }
        func text(_ s: String) -> String { "\"" + s.replacingAll("\"", with: "#quot;") + "\"" }
        var lines = ["flowchart LR"]
        for node in t.nodes {
            let label = text("\(node.name) (\(node.kind))")
            let shape = switch node.kind {
            case .host: "[\(label)]"
            case .router: "(\(label))"
            case .switch: "{\(label)}"
            }
            lines.append("  \(id(node.name))\(shape)")
        }
        for link in t.links {
            let label = text("\(graph.label(link.a)) — \(graph.label(link.b))")
            lines.append("  \(id(link.a.node)) ---|\(label)| \(id(link.b.node))")
        }
        for tunnel in t.tunnels {
            let label = text("\(tunnel.kind.name) \(graph.label(tunnel.a, of: tunnel)) — \(graph.label(tunnel.b, of: tunnel))")
            lines.append("  \(id(tunnel.a.node)) -.-|\(label)| \(id(tunnel.b.node))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func dotQuoted(_ s: String) -> String { "\"" + s.replacingAll("\"", with: "\\\"") + "\"" }
}

/// Edge labels of a graph: interface names with every address that ends up on them.
private struct GraphLabels {
    let resolution: Resolution
    var topology: Topology { resolution.topology }

    init(_ topology: Topology) { resolution = Resolution(topology) }

    func label(_ end: LinkEnd) -> String { label(end.node, end.endpoint.interface) }

    func label(_ end: TunnelEnd, of tunnel: Tunnel) -> String { label(end.node, end.interface ?? tunnel.name) }

    /// `eth0 10.0.1.2/24 2001:db8::2/64`, or `?` for an end whose name could not be resolved.
    private func label(_ node: String, _ ifname: String?) -> String {
        guard let ifname else { return "?" }
        let prefixes = (resolution.addresses[node] ?? []).filter { $0.interface == ifname }.map(\.prefix.description)
        return ([ifname] + prefixes).joined(separator: " ")
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        reduce(into: "") { $0 += $1 == target ? replacement : String($1) }
    }
}
