import Foundation
import Testing

/// `nslab export` prints a whole scenario; `nslab test` of that file makes the same checks with
/// the same verdicts as `nslab test` of the built-in, and a failure names the file's line.
/// Serialized: 13 scenarios × 3 runs of `nslab test` at once, next to the other suites' labs,
/// slowed the in-process TCP/UDP probe tests past their 10 s timeouts on a 2-core machine.
@Suite(.serialized, .enabled(if: isRoot, "needs root to build labs"))
struct ScenarioFileCLITests {
    static let catalogue = ["two-hosts", "bridge", "router", "static-chain", "ecmp", "policy-routing", "vxlan-overlay",
                            "dual-stack", "macvlan", "reject-routes", "mtu-mismatch", "firewall", "rate-limit",
                            "loopback-prefix", "gre-tunnel", "vrf", "bond", "vlan-trunk", "netem-delay", "link-flap", "ospf-bird"]

    struct Summary: Decodable {
        struct Failure: Decodable { var check: String; var observed: String }
        struct Result: Decodable {
            var name: String
            var status: String
            var passed: Int
            var total: Int
            var failures: [Failure]
        }
        var results: [Result]
        var passed: Int
        var failed: Int
        var skipped: Int
        var built: Int
    }

    static func summary(_ r: Run) throws -> Summary {
        try JSONDecoder().decode(Summary.self, from: Data(r.stdout.utf8))
    }

    @Test func theListIsTheCatalogue() throws {
        let r = try nslab("scenarios", "--json")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        #expect(list.compactMap { $0["name"] as? String } == Self.catalogue)
    }

    @Test(arguments: catalogue)
    func anExportedScenarioTestsLikeTheBuiltIn(_ name: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let builtIn = try Self.summary(try nslab("test", name, "--json"))
        for format in ["yaml", "json"] {
            let export = try nslab("export", name, "--format", format)
            #expect(export.status == 0, "\(export)")
            let file = dir.appendingPathComponent("\(name).\(format)")
            try export.stdout.write(to: file, atomically: true, encoding: .utf8)
            let fromFile = try Self.summary(try nslab("test", file.path, "--json"))
            let a = try #require(builtIn.results.first), b = try #require(fromFile.results.first)
            // A scenario this kernel cannot build is skipped from either form, for the same reason.
            #expect(a.status == "SKIP" || (a.total > 0 && a.total == b.total),
                    "\(name) \(format): \(a.total) checks built in, \(b.total) from the file")
            #expect(a.status == b.status && a.passed == b.passed, "\(name) \(format): \(a) vs \(b)")
            #expect(a.failures.count == b.failures.count)
            #expect(fromFile.built == 0 && builtIn.built == 0)
        }
        // The YAML export of a built-in is its catalogue file as written.
        let yaml = try nslab("export", name)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scenarios/catalogue/\(name).yaml")
        #expect(yaml.stdout == (try String(contentsOf: source, encoding: .utf8)), "\(name)")
    }

    /// A file whose check fails names the line in the table, KTAP and JSON; a file that does not
    /// load lists every problem with its line.
    @Test func failuresAndProblemsNameTheLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let export = try nslab("export", "router")
        let lines = export.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let n = try #require(lines.firstIndex { $0.contains("{from: h1, reaches: 10.12.2.2}") }) + 1
        let file = dir.appendingPathComponent("router.yaml")
        try export.stdout.replacingOccurrences(of: "{from: h1, reaches: 10.12.2.2}", with: "{from: h1, reaches: 10.12.7.7}")
            .write(to: file, atomically: true, encoding: .utf8)
        let table = try nslab("test", file.path)
        #expect(table.status == 1)
        #expect(table.stdout.contains("✘ router.yaml:\(n): h1 reaches 10.12.7.7\n      observed: "), "\(table)")
        #expect(table.stdout.contains("\n0 passed, 1 failed, 0 skipped\n"), "\(table)")
        let json = try Self.summary(try nslab("test", file.path, "--json"))
        #expect(json.results.first?.failures.map(\.check) == ["router.yaml:\(n): h1 reaches 10.12.7.7"])

        let broken = dir.appendingPathComponent("broken.yaml")
        try "name: b\nnodes: [{name: h1}]\nexpect:\n  - {from: h1, reaches: nowhere}\n  - {from: h2, reaches: 10.0.0.1}\n"
            .write(to: broken, atomically: true, encoding: .utf8)
        let r = try nslab("test", broken.path)
        #expect(r.status != 0)
        #expect(r.stderr.contains("broken.yaml:4: expect[0].reaches: not an IP address: \"nowhere\""), "\(r)")
        #expect(r.stderr.contains("broken.yaml:5: expect[1].from: unknown node \"h2\""), "\(r)")
    }

    /// Processes run with the scenario; a command is reported as the escape hatch, and a listener's peers show in JSON.
    @Test func processesAreReported() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-procs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("procs.yaml")
        try """
            name: procs
            nodes: [{name: h1, addresses: [10.0.0.1/24]}, {name: h2, addresses: [10.0.0.2/24]}]
            links: [{a: h1, b: h2}]
            processes:
              - {node: h2, listen: tcp, port: 7000}
              - {node: h2, run: [sleep, "30"]}
            expect:
              - {from: h1, tcp: 10.0.0.2, port: 7000}
            """.write(to: file, atomically: true, encoding: .utf8)
        let table = try nslab("test", file.path)
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("⚠ procs: procs.yaml:6: runs a command, the escape hatch: command in h2: sleep 30"), "\(table)")
        let json = try nslab("test", file.path, "--json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        let processes = try #require(results.first?["processes"] as? [[String: Any]])
        #expect(processes.map { $0["peers"] as? [String] } == [["10.0.0.1"], []], "\(json)")
        #expect(processes.map { $0["kind"] as? String } == ["listener", "command (escape hatch)"], "\(json)")
    }
}
