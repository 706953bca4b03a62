import NetnsModel
import Testing

/// What a file means does not depend on how it is decoded: merge keys, quoting and YAML's
/// scalar forms, as Yams reads them.
@Suite struct YAMLMeaningTests {
    @Test func mergeKeysFillInWhatAMappingLeavesOut() throws {
        let t = try Topology.load(yaml: """
            name: m
            nodes:
              - &router {name: r1, kind: router}
              - &host {name: h1, kind: host}
              - {<<: *router, name: r2}
              - {<<: [*host, *router], name: h2}
              - {<<: *router, name: h3, kind: host}
            """)
        let kinds = Dictionary(uniqueKeysWithValues: t.nodes.map { ($0.name, $0.kind) })
        #expect(kinds["r2"] == .router)
        // In a list of merged mappings, the earlier one wins; the mapping's own key beats both.
        #expect(kinds["h2"] == .host)
        #expect(kinds["h3"] == .host)
    }

    @Test func scalarsMeanWhatYAMLSays() throws {
        let t = try Topology.load(yaml: """
            name: s
            nodes:
              - name: h1
                addresses: [{address: 10.0.0.1/24, nodad: no}]
                sysctls: {net.ipv4.ip_forward: 0x1}
              - {name: h2}
            links: [{a: h1, b: h2}]
            """)
        let a = try #require(t.nodes.first?.addresses.first)
        #expect(a.nodad == false)
        #expect(t.nodes.first?.sysctls["net.ipv4.ip_forward"] == "0x1")
        // A quoted word is a string, not the boolean or null it spells.
        #expect(throws: (any Error).self) {
            try Topology.load(yaml: "name: q\nnodes:\n  - name: h1\n    addresses: [{address: 10.0.0.1/24, nodad: \"no\"}]\n  - {name: h2}\nlinks: [{a: h1, b: h2}]\n")
        }
    }
}
