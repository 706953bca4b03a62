extension Topology {
    /// The topology as a Graphviz DOT graph: hosts as boxes, routers as ellipses, switches as diamonds;
    /// links labelled with interface names and all their addresses, tunnels dashed.
    ///
    /// The graph is drawn even when the topology does not validate, with what could be resolved.
    public func dot() -> String {
        let graph = GraphLabels(self)
        let t = graph.topology
        // Each node is a table with one row (a port) per interface and its addresses, and links join
        // ports. Edge-end labels (`taillabel`) pile up around a switch with many ports until none can
        // be read; rows of a table cannot overlap, however many there are.
        var lines = ["graph \(dotQuoted(t.name)) {", "  rankdir=LR;", "  nodesep=0.15;",
                     "  node [fontname=\"Helvetica\", fontsize=11, shape=plain];",
                     "  edge [fontname=\"Helvetica\", fontsize=10];"]
        let declared = Set(t.nodes.map(\.name))
        for node in t.nodes {
            let (style, colour) = switch node.kind {
            case .host: ("", "#ffffff")
            case .router: (" STYLE=\"ROUNDED\"", "#e8f0fe")
            case .switch: ("", "#fef7e0")
            }
            var rows = ["<TR><TD BGCOLOR=\"\(colour)\"><B>\(html(node.name))</B> \(node.kind)</TD></TR>"]
            for (i, ifname) in graph.interfaces(of: node.name).enumerated() {
                rows.append("<TR><TD PORT=\"i\(i)\" ALIGN=\"LEFT\">\(html(graph.label(node.name, ifname)))</TD></TR>")
            }
            lines.append("  \(dotQuoted(node.name)) [label=<<TABLE BORDER=\"1\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
                         + "CELLPADDING=\"3\"\(style)>\(rows.joined())</TABLE>>];")
        }
        func end(_ node: String, _ ifname: String?) -> String {
            guard declared.contains(node), let ifname, let i = graph.interfaces(of: node).firstIndex(of: ifname) else {
                return dotQuoted(node)
            }
            return "\(dotQuoted(node)):\"i\(i)\""
        }
        for link in t.links {
            lines.append("  \(end(link.a.node, link.a.endpoint.interface)) -- \(end(link.b.node, link.b.endpoint.interface));")
        }
        for tunnel in t.tunnels {
            let name = dotQuoted("\(tunnel.kind.name) \(tunnel.name)")
            lines.append("  \(end(tunnel.a.node, tunnel.a.interface ?? tunnel.name)) -- "
                         + "\(end(tunnel.b.node, tunnel.b.interface ?? tunnel.name)) [style=dashed, label=\(name)];")
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

    /// Text for a Graphviz HTML-like label.
    private func html(_ s: String) -> String {
        s.reduce(into: "") { out, c in
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
    }
}

/// Edge labels of a graph: interface names with every address that ends up on them.
private struct GraphLabels {
    let resolution: Resolution
    var topology: Topology { resolution.topology }

    init(_ topology: Topology) { resolution = Resolution(topology) }

    func label(_ end: LinkEnd) -> String { label(end.node, end.endpoint.interface) }

    func label(_ end: TunnelEnd, of tunnel: Tunnel) -> String { label(end.node, end.interface ?? tunnel.name) }

    /// A node's interfaces: its link ends in link order, then its tunnel ends, then any other
    /// interface that has an address (a bridge's, a dummy's).
    func interfaces(of node: String) -> [String] {
        var names: [String] = []
        func add(_ n: String?) { if let n, !names.contains(n) { names.append(n) } }
        for l in topology.links {
            if l.a.node == node { add(l.a.endpoint.interface) }
            if l.b.node == node { add(l.b.endpoint.interface) }
        }
        for t in topology.tunnels {
            if t.a.node == node { add(t.a.interface ?? t.name) }
            if t.b.node == node { add(t.b.interface ?? t.name) }
        }
        for a in resolution.addresses[node] ?? [] { add(a.interface) }
        return names
    }

    /// `eth0 10.0.1.2/24 2001:db8::2/64`, or `?` for an end whose name could not be resolved.
    func label(_ node: String, _ ifname: String?) -> String {
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
