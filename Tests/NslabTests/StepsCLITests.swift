import Foundation
import Testing

/// `nslab test` runs a scenario's fault timeline (`steps:`) and reports each check's convergence
/// time in every output: the table, `--json`, `--ktap` and `--junit`; a check that cannot hold on
/// a broken lab fails the run in all of them.
@Suite(.serialized, .enabled(if: isRoot, "needs root to build labs"))
struct StepsCLITests {
    /// The catalogue's link-flap file with r1's backup route removed: the reroute cannot happen.
    static func brokenLinkFlap(in dir: URL) throws -> URL {
        let export = try nslab("export", "link-flap")
        #expect(export.status == 0, "\(export)")
        let backup = "      - {to: 10.29.2.0/24, via: 10.29.21.2, metric: 20}\n"
        #expect(export.stdout.contains(backup))
        let text = export.stdout.replacingOccurrences(of: backup, with: "")
            .replacingOccurrences(of: "{within: 3s, in: r1, route: 10.29.2.2, via: 10.29.21.2",
                                  with: "{within: 1s, in: r1, route: 10.29.2.2, via: 10.29.21.2")
        let file = dir.appendingPathComponent("flap-broken.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-steps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func theTimelineAndItsConvergenceTimesAreInEveryOutput() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let junit = dir.appendingPathComponent("report.xml")

        let r = try nslab("test", "link-flap", "--json", "--junit", junit.path)
        #expect(r.status == 0, "\(r)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        let result = try #require((json["results"] as? [[String: Any]])?.first)
        #expect(result["status"] as? String == "PASS", "\(r.stdout)")
        let steps = try #require(result["steps"] as? [[String: Any]], "\(r.stdout)")
        #expect(steps.count == 9)
        #expect(steps.map { $0["kind"] as? String ?? "" }.filter { $0 == "check" }.count == 6)
        for s in steps {
            #expect(s["outcome"] as? String == "passed", "\(s)")
            #expect((s["place"] as? String)?.hasPrefix("link-flap.yaml:") == true, "\(s)")
            if s["kind"] as? String == "check" {
                let took = try #require(s["convergenceMs"] as? Double, "\(s)")
                let bound = try #require(s["withinMs"] as? Double, "\(s)")
                // An attempt that began within the bound counts (under load it may end after it).
                #expect(took >= 0 && bound == 3000, "\(s)")
            }
        }
        #expect((steps.first?["atMs"] as? Double ?? 0) >= 500, "\(steps)")
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains("<system-out>fault timeline:"), "\(xml)")
        #expect(xml.contains("held after") && xml.contains("ip link set eth1 down"), "\(xml)")

        let table = try nslab("test", "link-flap")
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("⏱ link-flap: fault timeline"), "\(table)")
        #expect(table.stdout.components(separatedBy: "— held after").count - 1 == 6, "\(table)")

        let ktap = try nslab("test", "link-flap", "--ktap")
        #expect(ktap.status == 0, "\(ktap)")
        let diagnostics = ktap.stdout.split(separator: "\n").filter { $0.hasPrefix("# ✔ +") }
        #expect(diagnostics.count == 9, "\(ktap)")
        #expect(ktap.stdout.contains("\nok 1 link-flap\n"), "\(ktap)")
    }

    @Test func aCheckThatCannotHoldFailsTheRunInEveryOutput() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try Self.brokenLinkFlap(in: dir)
        let junit = dir.appendingPathComponent("report.xml")

        let r = try nslab("test", file.path, "--json", "--junit", junit.path)
        #expect(r.status == 1, "\(r)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        let result = try #require((json["results"] as? [[String: Any]])?.first)
        #expect(result["status"] as? String == "FAIL")
        let steps = try #require(result["steps"] as? [[String: Any]])
        #expect(steps.map { $0["outcome"] as? String ?? "" } == ["passed", "failed"] + Array(repeating: "skipped", count: 7))
        #expect((steps[1]["observed"] as? String)?.contains("did not hold within 1.0 s") == true, "\(steps[1])")
        // The reroute check, and the expectation counting r1's static routes (the backup is gone).
        let failures = try #require(result["failures"] as? [[String: Any]])
        #expect(failures.count == 2 && failures.allSatisfy { ($0["check"] as? String)?.hasPrefix("flap-broken.yaml:") == true }, "\(failures)")
        let xml = try String(contentsOf: junit, encoding: .utf8)
        #expect(xml.contains("<failure message=\"2 of 11 checks failed, 5 did not run\""), "\(xml)")
        #expect(xml.contains("did not hold within 1.0 s"), "\(xml)")

        let ktap = try nslab("test", file.path, "--ktap")
        #expect(ktap.status == 1, "\(ktap)")
        #expect(ktap.stdout.contains("\nnot ok 1 link-flap (\(file.path))\n"), "\(ktap)")
        #expect(ktap.stdout.contains("# fault timeline:") && ktap.stdout.contains("#   ✘ +"), "\(ktap)")

        let table = try nslab("test", file.path)
        #expect(table.status == 1)
        #expect(table.stdout.contains("did not hold within 1.0 s"), "\(table)")
        #expect(table.stdout.contains("(skipped after an earlier failure)"), "\(table)")
    }

    @Test func aBrokenStepIsAProblemAtItsLine() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("typo.yaml")
        try """
            name: typo
            nodes: [{name: h1}]
            steps:
              - {at: 1s, node: h1, linkDwn: lo}
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try nslab("test", file.path)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("typo.yaml:4:") && r.stderr.contains("did you mean \"linkDown\"?"), "\(r)")
    }
}
