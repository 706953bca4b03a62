import Foundation
import NetnsModel
import Testing

@Suite struct FileTests {
    static let fixtures = [Fixtures.routed, Fixtures.policy, Fixtures.overlay, Fixtures.interfaces, Fixtures.star(5)]

    @Test(arguments: fixtures) func yamlRoundTrip(_ topology: Topology) throws {
        let loaded = try Topology.load(yaml: topology.yaml())
        #expect(loaded == topology)
        #expect(loaded.yaml() == topology.yaml())
    }

    @Test(arguments: fixtures) func jsonRoundTrip(_ topology: Topology) throws {
        let loaded = try Topology.load(json: topology.json())
        #expect(loaded == topology)
        #expect(loaded.json() == topology.json())
    }

    @Test func resolvedTopologiesRoundTripToo() throws {
        let resolved = try Fixtures.interfaces.resolved()
        #expect(try Topology.load(yaml: resolved.yaml()) == resolved)
    }

    @Test func readsTheHumanSchema() throws {
        let topology = try Topology.load(yaml: """
            name: routed
            nodes:
              - name: h1
                addresses: [10.0.1.2/24, {address: "2001:db8::2/64", on: eth0, nodad: false}]
                routes:
                  - {to: default, via: 10.0.1.1}
                  - {to: 10.66.0.0/16, type: blackhole}
              - name: r1
                kind: router
                sysctls: {net.ipv4.conf.all.rp_filter: "0"}
            links:
              - a: h1:eth0
                b: {endpoint: r1, addresses: [10.0.1.1/24]}
            """)
        let expected = Topology("routed") {
            Host("h1") {
                Address("10.0.1.2/24")
                Address("2001:db8::2/64", on: "eth0", nodad: false)
                Route(.default, via: "10.0.1.1")
                Route("10.66.0.0/16", type: .blackhole)
            }
            Router("r1") { Sysctl("net.ipv4.conf.all.rp_filter", "0") }
            Link("h1:eth0", "r1", bAddress: "10.0.1.1/24")
        }
        #expect(topology == expected)
    }

    @Test func loadsByExtension() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netnsmodel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = directory.appendingPathComponent("t.yaml"), json = directory.appendingPathComponent("t.json")
        try Fixtures.routed.yaml().write(to: yaml, atomically: true, encoding: .utf8)
        try Fixtures.routed.json().write(to: json, atomically: true, encoding: .utf8)
        #expect(try Topology.load(path: yaml.path) == Fixtures.routed)
        #expect(try Topology.load(path: json.path) == Fixtures.routed)
        let binary = directory.appendingPathComponent("b.yml")
        try Data([0xff, 0xfe, 0x00, 0x9c, 0x80]).write(to: binary)
        #expect(throws: TopologyFileError.self) { try Topology.load(path: binary.path) }
        #expect(throws: TopologyFileError.self) { try Topology.load(path: directory.appendingPathComponent("none.yaml").path) }
    }

    /// Malformed YAML, and the place and message each error must name.
    static let malformedYAML: [(yaml: String, place: String, message: String)] = [
        ("", "top level", "the file is empty"),
        ("  \n\n", "top level", "the file is empty"),
        ("just a string", "top level", "expected"),
        ("name: [unclosed\n", "line 2, column 1", "not valid YAML"),
        ("- just\n- a list\n", "top level", "expected"),
        ("name: t\nnodes: 5\n", "nodes", "expected"),
        ("nodes: [{name: h1}]\n", "top level", "missing key \"name\""),
        ("name: t\nnodes: [{kind: host}]\n", "nodes[0]", "missing key \"name\""),
        ("name: t\nnodes: [{name: h1, kind: hub}]\n", "nodes[0].kind", "hub"),
        ("name: t\nnodes: [{name: h1, adresses: [10.0.0.1/24]}]\n", "nodes[0].adresses", "unknown key \"adresses\""),
        ("name: t\nnodes: [{name: h1, addresses: [10.0.0.300/24]}]\n", "nodes[0].addresses[0]", "not an address/prefix"),
        ("name: t\nnodes: [{name: h1, routes: [{to: somewhere}]}]\n", "nodes[0].routes[0].to", "not a destination"),
        ("name: t\nnodes: [{name: h1, routes: [{via: 10.0.0.1}]}]\n", "nodes[0].routes[0]", "missing key \"to\""),
        ("name: t\nnodes: [{name: h1, routes: [{to: default, via: 10.0.0.1.1}]}]\n", "nodes[0].routes[0].via", "not an IP address"),
        ("name: t\ntunnels: [{name: x, kind: ppp, a: h1, b: h2}]\n", "tunnels[0].kind", "unknown tunnel kind \"ppp\""),
        ("name: t\ntunnels: [{name: x, kind: vxlan, vni: abc, a: h1, b: h2}]\n", "tunnels[0].vni", "expected a whole number"),
        ("name: t\nnodes: [{name: h1, qdiscs: [{tbf: {rate: fast, burst: 1, latency: 1ms}}]}]\n",
         "nodes[0].qdiscs[0].tbf.rate", "not a rate"),
        ("name: t\nnodes: [{name: h1, qdiscs: [{tbf: {rate: 1mbit, burst: 1, limit: 9}, netem: {}}]}]\n",
         "nodes[0].qdiscs[0]", "exactly one of tbf, htb or netem"),
        ("name: t\nname: u\n", "line 1, column 1", "duplicate key name in the mapping that starts here"),
    ]

    @Test(arguments: 0..<malformedYAML.count) func malformedYAMLNamesThePlace(_ i: Int) {
        let (yaml, place, message) = Self.malformedYAML[i]
        do {
            _ = try Topology.load(yaml: yaml)
            Issue.record("no error for \(yaml.debugDescription)")
        } catch let error as TopologyFileError {
            #expect(error.place == place, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func semanticErrorsInFilesNameTheKeyPath() {
        let yaml = "name: t\nnodes: [{name: h1}, {name: h2}, {name: r1}]\nlinks:\n  - {a: h1, b: r1}\n  - {a: h2, b: r9}\n"
        do {
            _ = try Topology.load(yaml: yaml)
            Issue.record("no error")
        } catch let error as ValidationError {
            #expect(error.issues.map(\.description) == [
                #"links[1].b: unknown node "r9" (known: h1, h2, r1) — hint: add {name: r9} to nodes, or fix the endpoint"#
            ])
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [
        "", "{", "[1, 2]", #"{"name": 5}"#, #"{"name": "t", "nodes": [{"name": "h1", "addresses": ["10.0.0.1/99"]}]}"#,
        #"{"name": "t", "links": [{"a": "h1"}]}"#, "\u{0}\u{1}\u{2}",
    ]) func malformedJSONThrows(_ json: String) {
        #expect(throws: (any Error).self) { try Topology.load(json: json) }
    }

    @Test func binaryJSONThrowsAFileError() {
        #expect(throws: TopologyFileError.self) { try Topology.load(json: Data([0xff, 0x00, 0xfe, 0x12])) }
    }
}

@Test func theDocumentedExampleLoads() throws {
    let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/NetnsModel/FileFormat.md")
    let text = try String(contentsOf: doc, encoding: .utf8)
    let yaml = try #require(text.components(separatedBy: "```yaml\n").dropFirst().first?.components(separatedBy: "```").first)
    let topology = try Topology.load(yaml: yaml)
    #expect(topology.nodes.count == 4)
    #expect(try topology.plan().steps.count > 50)
}

/// The loader takes arbitrary (mutated) text without crashing or hanging: every input either
/// loads or throws an error with a place.
@Test func mutatedFilesNeverCrashTheLoader() throws {
    var rng = SystemRandomNumberGenerator()
    let seeds = [try Fixtures.routed.yaml(), try Fixtures.policy.yaml(), try Fixtures.overlay.yaml(),
                 try Fixtures.interfaces.json(), try Fixtures.star(3).yaml()]
    let alphabet = Array(":-{}[]\n #'\"&*!|>%@`,?0123456789abcdefxyz./\t\\".utf8)
    var loaded = 0, rejected = 0
    for i in 0..<5_000 {
        var b = Array(seeds[i % seeds.count].utf8)
        for _ in 0..<Int.random(in: 1...6, using: &rng) where !b.isEmpty {
            let at = Int.random(in: 0..<b.count, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: b[at] = alphabet.randomElement(using: &rng)!
            case 1: b.remove(at: at)
            case 2: b.insert(alphabet.randomElement(using: &rng)!, at: at)
            default: b.insert(UInt8.random(in: 0...255, using: &rng), at: at)
            }
        }
        let text = String(decoding: b, as: UTF8.self)
        do {
            _ = i % seeds.count == 3 ? try Topology.load(json: text) : try Topology.load(yaml: text)
            loaded += 1
        } catch {
            #expect(!"\(error)".isEmpty)
            rejected += 1
        }
    }
    #expect(loaded > 0 && rejected > 0, "loaded \(loaded), rejected \(rejected)")
}
