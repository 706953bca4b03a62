import NetnsModel
import Testing

@Suite struct GraphTests {
    @Test func dotHasShapedNodesAndLabelledEdges() {
        let dot = Fixtures.overlay.dot()
        #expect(dot.hasPrefix("graph \"overlay\" {"))
        #expect(dot.contains(#""a" [shape=box, label="a\nhost"];"#))
        #expect(dot.contains(#""r" [shape=ellipse, label="r\nrouter"];"#))
        #expect(dot.contains(#""a" -- "r" [taillabel="eth0 192.168.1.2/24", headlabel="eth0 192.168.1.1/24"];"#))
        #expect(dot.contains(#""a" -- "b" [style=dashed, label="vxlan vx0", taillabel="vx0", headlabel="vx0"];"#))
        #expect(Fixtures.star(2).dot().contains(#""sw" [shape=diamond"#))
    }

    @Test func mermaidHasShapedNodesAndLabelledEdges() {
        let mermaid = Fixtures.routed.mermaid()
        #expect(mermaid == """
            flowchart LR
              n0["h1 (host)"]
              n1("r1 (router)")
              n2["h2 (host)"]
              n0 ---|"eth0 10.0.1.2/24 2001:db8:1::2/64 — eth0 10.0.1.1/24 2001:db8:1::1/64"| n1
              n1 ---|"eth1 10.0.2.1/24 — eth0 10.0.2.2/24"| n2

            """)
        let overlay = Fixtures.overlay.mermaid()
        #expect(overlay.contains(#"n0 -.-|"vxlan vx0 — vx0"| n2"#))
        #expect(Fixtures.star(2).mermaid().contains(#"n0{"sw (switch)"}"#))
    }

    @Test func graphsOfInvalidTopologiesStillRender() {
        let topo = Topology("broken") { Host("h1"); Link("h1", "ghost") }
        #expect(topo.dot().contains(#""h1" -- "ghost""#))
        #expect(topo.mermaid().contains("unknown_ghost"))
    }
}
