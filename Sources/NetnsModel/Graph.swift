extension Topology {
    /// The topology as a Graphviz DOT graph: hosts as boxes, routers as ellipses, switches as diamonds;
    /// links labelled with interface names and addresses, tunnels dashed.
    public func dot() -> String {
        let t = (try? resolved()) ?? self
        var lines = ["graph \(quoted(t.name)) {", "  node [fontname=\"Helvetica\"];", "  edge [fontname=\"Helvetica\", fontsize=10];"]
        for node in t.nodes {
            let shape = switch node.kind {
            case .host: "box"
            case .router: "ellipse"
            case .switch: "diamond"
            }
            lines.append("  \(quoted(node.name)) [shape=\(shape), label=\(quoted("\(node.name)\\n\(node.kind)"))];")
        }
        for link in t.links {
            lines.append("  \(quoted(link.a.node)) -- \(quoted(link.b.node)) [taillabel=\(quoted(label(link.a))), headlabel=\(quoted(label(link.b)))];")
        }
        for tunnel in t.tunnels {
            lines.append("  \(quoted(tunnel.a.node)) -- \(quoted(tunnel.b.node)) [style=dashed, label=\(quoted("\(tunnel.kind.name) \(tunnel.name)")), taillabel=\(quoted(label(tunnel.a, tunnel))), headlabel=\(quoted(label(tunnel.b, tunnel)))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The topology as a Mermaid flowchart: hosts as rectangles, routers as rounded boxes, switches as
    /// rhombi; links labelled with interface names and addresses, tunnels dotted.
    public func mermaid() -> String {
        let t = (try? resolved()) ?? self
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
            lines.append("  \(id(link.a.node)) ---|\(text("\(label(link.a)) — \(label(link.b))"))| \(id(link.b.node))")
        }
        for tunnel in t.tunnels {
            let l = "\(tunnel.kind.name) \(label(tunnel.a, tunnel)) — \(label(tunnel.b, tunnel))"
            lines.append("  \(id(tunnel.a.node)) -.-|\(text(l))| \(id(tunnel.b.node))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func quoted(_ s: String) -> String { "\"" + s.replacingAll("\"", with: "\\\"") + "\"" }

    private func label(_ end: LinkEnd) -> String {
        ([end.endpoint.interface ?? "?"] + end.addresses.map(\.description)).joined(separator: " ")
    }

    private func label(_ end: TunnelEnd, _ tunnel: Tunnel) -> String {
        ([end.interface ?? tunnel.name] + end.addresses.map(\.description)).joined(separator: " ")
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        reduce(into: "") { $0 += $1 == target ? replacement : String($1) }
    }
}
