import NetnsModel
import Testing

@Suite struct GraphTests {
    /// Each node is a table with a row per interface (addresses included), and links join rows:
    /// no edge-end labels, which pile up around a switch with many ports.
    @Test func dotHasANodeTableWithARowPerInterface() {
        let dot = Fixtures.overlay.dot()
        #expect(dot.hasPrefix("graph \"overlay\" {\n  rankdir=LR;"))
        #expect(dot.contains(##""a" [label=<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3"><TR><TD BGCOLOR="#ffffff"><B>a</B> host</TD></TR>"##
                             + #"<TR><TD PORT="i0" ALIGN="LEFT">eth0 192.168.1.2/24</TD></TR><TR><TD PORT="i1" ALIGN="LEFT">vx0</TD></TR>"#
                             + #"<TR><TD PORT="i2" ALIGN="LEFT">br0 10.10.0.1/24</TD></TR></TABLE>>];"#))
        #expect(dot.contains(##"STYLE="ROUNDED"><TR><TD BGCOLOR="#e8f0fe"><B>r</B> router</TD></TR>"##))
        #expect(dot.contains(#""a":"i0" -- "r":"i0";"#) && dot.contains(#""r":"i1" -- "b":"i0";"#))
        #expect(dot.contains(#""a":"i1" -- "b":"i1" [style=dashed, label="vxlan vx0"];"#))
        #expect(!dot.contains("taillabel") && !dot.contains("headlabel"))
        #expect(Fixtures.star(2).dot().contains(#"<B>sw</B> switch"#))
    }

    @Test func dotEscapesHTMLInLabels() {
        let topo = Topology("esc") { Host("a&b") }
        #expect(topo.dot().contains("<B>a&amp;b</B> host"))
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
        #expect(topo.dot().contains(#""h1":"i0" -- "ghost";"#))
        #expect(topo.mermaid().contains("unknown_ghost"))
    }
}
