import Foundation
import Testing

/// A corpus of malformed topology files: each gets one clear `nslab: error:` message, a
/// non-zero exit, no crash, and creates nothing (no namespace, no state file).
@Suite(.serialized, .enabled(if: isRoot, "needs root to prove that nothing is created"))
struct MalformedFileTests {
    static let corpus: [(name: String, ext: String, text: String, mentions: String)] = [
        ("empty", "yaml", "", ""),
        ("only-comment", "yaml", "# nothing\n", ""),
        ("not-yaml", "yaml", "name: [unclosed\nnodes: {", "line"),
        ("tabs", "yaml", "name: x\nnodes:\n\t- name: h1\n", ""),
        ("binary", "yaml", "\u{0}\u{1}\u{2}\u{FFFD}\u{7F}name", ""),
        ("list-at-top", "yaml", "- a\n- b\n", ""),
        ("scalar-at-top", "yaml", "just text\n", ""),
        ("no-name", "yaml", "nodes: [{name: h1}]\n", "name"),
        ("name-wrong-type", "yaml", "name: [1, 2]\n", "name"),
        ("unknown-key", "yaml", "name: x\nnodez: []\n", "nodez"),
        ("node-unknown-key", "yaml", "name: x\nnodes: [{name: h1, colour: red}]\n", "colour"),
        ("node-no-name", "yaml", "name: x\nnodes: [{kind: host}]\n", "name"),
        ("bad-kind", "yaml", "name: x\nnodes: [{name: h1, kind: toaster}]\n", "toaster"),
        ("bad-cidr", "yaml", "name: x\nnodes: [{name: h1, addresses: [10.0.0.300/24]}]\nlinks: [{a: h1, b: h2}]\n", "10.0.0.300"),
        ("bad-prefix-len", "yaml", "name: x\nnodes: [{name: h1, addresses: [10.0.0.1/33]}]\n", "10.0.0.1/33"),
        ("unknown-node-in-link", "yaml", "name: x\nnodes: [{name: h1}]\nlinks: [{a: h1, b: r9}]\n", "r9"),
        ("duplicate-node", "yaml", "name: x\nnodes: [{name: h1}, {name: h1}]\n", "h1"),
        ("long-ifname", "yaml", "name: x\nnodes: [{name: a}, {name: b}]\nlinks: [{a: a:averyveryverylongname, b: b}]\n", "averyveryverylongname"),
        ("bad-node-name", "yaml", "name: x\nnodes: [{name: 'h 1'}]\n", "h 1"),
        ("gateway-off-subnet", "yaml", "name: x\nnodes: [{name: h1, addresses: [10.0.0.2/24], routes: [{to: default, via: 10.9.9.9}]}, {name: h2}]\nlinks: [{a: h1, b: h2}]\n", "10.9.9.9"),
        ("bad-route-to", "yaml", "name: x\nnodes: [{name: h1, routes: [{to: nowhere, via: 10.0.0.1}]}]\n", "nowhere"),
        ("bad-mtu", "yaml", "name: x\nnodes: [{name: a}, {name: b}]\nlinks: [{a: a, b: b, mtu: 20}]\n", "mtu"),
        ("bad-mac", "yaml", "name: x\nnodes: [{name: a}, {name: b}]\nlinks: [{a: {endpoint: a, mac: 'zz:zz'}, b: b}]\n", "zz:zz"),
        ("duplicate-address", "yaml", "name: x\nnodes: [{name: a, addresses: [10.0.0.1/24]}, {name: b, addresses: [10.0.0.1/24]}]\nlinks: [{a: a, b: b}]\n", "10.0.0.1"),
        ("rule-empty-table", "yaml", "name: x\nnodes: [{name: a, rules: [{from: 10.0.0.0/8, table: 100}]}]\n", "100"),
        ("vxlan-no-underlay", "yaml", "name: x\nnodes: [{name: a}, {name: b}]\ntunnels: [{name: vx0, kind: vxlan, vni: 1, a: {node: a}, b: {node: b}}]\n", "underlay"),
        ("bad-vlan-id", "yaml", "name: x\nnodes: [{name: a, vlans: [{parent: eth0, id: 5000}]}, {name: b}]\nlinks: [{a: a, b: b}]\n", "5000"),
        ("bad-weight", "yaml", "name: x\nnodes: [{name: a, addresses: [10.0.0.1/24], routes: [{to: 10.9.0.0/16, nexthops: [{via: 10.0.0.2, weight: 0}]}]}, {name: b}]\nlinks: [{a: a, b: b}]\n", "weight"),
        ("bad-rate", "yaml", "name: x\nnodes: [{name: a, qdiscs: [{on: eth0, tbf: {rate: fast, burst: 1, latency: 1ms}}]}, {name: b}]\nlinks: [{a: a, b: b}]\n", "fast"),
        ("unknown-bridge-port", "yaml", "name: x\nnodes: [{name: sw, kind: switch, bridges: [{name: br0, ports: [ghost0]}]}]\n", "ghost0"),
        ("json-garbage", "json", "{\"name\": ", ""),
        ("json-wrong-type", "json", "{\"name\": \"x\", \"nodes\": 5}", "nodes"),
        ("json-array", "json", "[1, 2, 3]", ""),
        ("json-unknown-node", "json", "{\"name\": \"x\", \"nodes\": [{\"name\": \"a\"}], \"links\": [{\"a\": \"a\", \"b\": \"zz\"}]}", "zz"),
    ]

    @Test func corpusHasAtLeastThirtyFiles() { #expect(Self.corpus.count >= 30) }

    @Test(arguments: 0..<corpus.count) func malformedFileIsRefusedCleanly(_ i: Int) throws {
        let c = Self.corpus[i]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-malformed-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("\(c.name).\(c.ext)")
        try Data(c.text.utf8).write(to: file)
        let lab = uniqueLab("t-mal")
        defer { cleanUp(lab) }
        for args in [["up", file.path, "--name", lab], ["test", file.path]] {
            let r = try nslab(args)
            #expect(!looksLikeCrash(r), "\(c.name): \(r)")
            #expect(r.status != 0, "\(c.name): \(args[0]) accepted it: \(r)")
            #expect(r.stderr.hasPrefix("nslab: error:") || r.stdout.contains("FAIL") || r.stderr.contains("nslab: error:"),
                    "\(c.name): \(r)")
            if !c.mentions.isEmpty {
                #expect((r.stderr + r.stdout).contains(c.mentions), "\(c.name): the message should mention \(c.mentions): \(r)")
            }
        }
        // Other suites build labs at the same time: look only at this lab's names.
        #expect(try names(withPrefix: lab).isEmpty, "\(c.name) created namespaces")
        #expect(!stateFileExists(lab))
    }
}
