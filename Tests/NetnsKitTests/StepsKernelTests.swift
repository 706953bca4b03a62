import Foundation
import NetnsKit
import NetnsTesting
import Scenarios
import Testing

/// Fault timelines of scenario files, run for real: the link-flap catalogue scenario reroutes
/// and comes back, each check reports how long it took to hold, and a check that cannot hold on
/// a broken lab fails after its bound (the steps after it are skipped).
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct StepsKernelTests {
    static func linkFlapText() throws -> String {
        let dir = try #require(Catalogue.directory)
        return try String(contentsOf: dir.appendingPathComponent("link-flap.yaml"), encoding: .utf8)
    }

    @Test(.timeLimit(.minutes(10))) func theLinkFlapTimelineReroutesAndComesBack() async throws {
        let scenario = try #require(Catalogue.named("link-flap"))
        let report = await scenario.test()
        #expect(report.status == .pass, "\(report.reason ?? "") \(report.failures) \(report.steps)")
        #expect(report.steps.count == scenario.steps.count)
        #expect(report.steps.allSatisfy { $0.result.outcome == .passed }, "\(report.steps)")
        #expect(report.passed == report.total && report.total == scenario.checkCount)
        // The link went down half a second into the timeline, not before (how much later
        // depends on the machine's load: no upper bound here).
        let down = try #require(report.steps.first?.result)
        #expect(down.startedAt >= 0.5, "\(down)")
        // Every check of the timeline held and says how long it took. (An attempt that began
        // within the bound counts; on a loaded machine it can end after it, so no upper bound here.)
        let timed = report.checks.filter { $0.within != nil }
        #expect(timed.count == 6)
        for c in timed {
            let took = try #require(c.convergence, "\(c)")
            #expect(took >= 0 && c.within == 3, "\(c)")
            #expect(c.place?.hasPrefix("link-flap.yaml:") == true)
        }
        print("link-flap convergence: " + timed.map { "\($0.expected): \(Int(($0.convergence ?? 0) * 1000)) ms" }.joined(separator: "; "))
    }

    /// Without r1's backup route the reroute cannot happen: the check fails once its bound has
    /// passed (not before), names its line, and the steps after it do not run.
    @Test(.timeLimit(.minutes(10))) func aRerouteCheckFailsOnABrokenLab() async throws {
        let backup = "      - {to: 10.29.2.0/24, via: 10.29.21.2, metric: 20}\n"
        let check = "{within: 3s, in: r1, route: 10.29.2.2, via: 10.29.21.2, dev: eth2}"
        var text = try Self.linkFlapText()
        #expect(text.contains(backup) && text.contains(check))
        text = text.replacingOccurrences(of: backup, with: "")
            .replacingOccurrences(of: check, with: check.replacingOccurrences(of: "3s", with: "1s"))
        let broken = try Scenario.load(yaml: text, file: "link-flap.yaml")
        let report = await broken.test()
        #expect(report.status == .fail)
        // Without the backup route the expectation that counts r1's static routes fails too;
        // of the timeline's checks, exactly the reroute fails.
        let timed = report.failures.filter { $0.within != nil }
        let failure = try #require(timed.first, "\(report.steps)")
        #expect(timed.count == 1)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("route: 10.29.2.2, via: 10.29.21.2") }.map { $0 + 1 }
        #expect(failure.place == "link-flap.yaml:\(line ?? 0)", "\(failure)")
        #expect(failure.observed.contains("did not hold within 1.0 s"), "\(failure)")
        #expect(failure.convergence == nil && failure.seconds >= 1.0, "\(failure)")
        let outcomes = report.steps.map(\.result.outcome)
        #expect(outcomes == [.passed, .failed] + Array(repeating: .skipped, count: broken.steps.count - 2), "\(report.steps)")
        // The state dump shows the change that was made.
        #expect(report.stateDump?.contains("ip link set eth1 down") == true, "\(report.stateDump ?? "")")
        #expect(report.total == broken.checkCount)
    }

    /// FileFormat.md's timeline example runs as it says.
    @Test(.timeLimit(.minutes(10))) func theDocumentedTimelinePasses() async throws {
        let blocks = try DocumentedScenarioTests.yamlBlocks("Sources/NetnsModel/FileFormat.md")
        let text = try #require(blocks.first { $0.hasPrefix("name: flap") })
        let report = await (try Scenario.load(yaml: text, file: "flap.yaml")).test()
        #expect(report.status == .pass, "\(report.reason ?? "") \(report.failures) \(report.steps)")
        #expect(report.checks.count == 4 && report.checks.allSatisfy { $0.convergence != nil })
    }

    /// A config template is filled from the node's kernel state and written into its private
    /// /run (a missing directory made); the host's /run never sees it.
    @Test(.timeLimit(.minutes(10))) func aConfigFileIsWrittenIntoTheNodesPrivateRun() async throws {
        let dir = "/run/nk-steps-\(getpid())"
        let text = """
            name: cfg
            nodes:
              - {name: r1, kind: router, isolation: full}
              - {name: h1}
            links:
              - {a: {endpoint: r1:eth0, addresses: [10.0.0.1/24]}, b: {endpoint: h1:eth0, addresses: [10.0.0.2/24]}}
              - {a: {endpoint: r1:eth1, addresses: [10.0.1.1/24]}, b: {endpoint: h1:eth1, addresses: [10.0.1.2/24]}}
            processes:
              - node: r1
                run: [cat, \(dir)/sub/x.conf]
                ready: "if eth1;"
                config:
                  path: \(dir)/sub/x.conf
                  text: |
                    id {routerId} on {node}
                      if {interface};
            expect:
              - {in: r1, link: eth1}
            """
        let report = await (try Scenario.load(yaml: text, file: "cfg.yaml")).test()
        #expect(report.status == .pass, "\(report.reason ?? "") \(report.failures)")
        #expect(access(dir, F_OK) != 0, "the host's /run has \(dir)")
        // The file as the node's command read it: the ready text came from it.
        let broken = text.replacingOccurrences(of: "if {interface};", with: "if {node};")
        let failed = await (try Scenario.load(yaml: broken, file: "cfg.yaml")).test()
        #expect(failed.status == .fail && failed.reason?.contains("\"if eth1;\" did not appear") == true, "\(failed.reason ?? "")")
    }

    /// A change the kernel refuses (no such interface) fails the scenario, naming its line, and
    /// the steps after it are skipped.
    @Test(.timeLimit(.minutes(10))) func aFailedChangeFailsTheScenario() async throws {
        let text = """
            name: bad-change
            nodes:
              - {name: h1, addresses: [10.0.0.1/24]}
              - {name: h2, addresses: [10.0.0.2/24]}
            links: [{a: h1:eth0, b: h2:eth0}]
            steps:
              - {within: 1s, from: h1, reaches: 10.0.0.2}
              - {node: h1, linkDown: eth7}
              - {within: 1s, in: h1, link: eth0, up: false}
            """
        let report = await (try Scenario.load(yaml: text, file: "bad.yaml")).test()
        #expect(report.status == .fail)
        #expect(report.reason?.hasPrefix("step failed: bad.yaml:8: h1: ip link set eth7 down: ") == true, "\(report.reason ?? "")")
        #expect(report.reason?.contains("the 1 later steps did not run") == true, "\(report.reason ?? "")")
        #expect(report.steps.map(\.result.outcome) == [.passed, .failed, .skipped])
        #expect(report.checks.count == 1 && report.total == 2)
    }

    /// The daemon scenario: BIRD 2 with a config generated per router, the routes learned, a
    /// link failure rerouted within its bound. With BIRD on r1 alone (no neighbours), the wait
    /// for its routes fails once its bound has passed.
    @Test(.timeLimit(.minutes(10))) func theOSPFScenarioLearnsRoutesAndReroutes() async throws {
        guard Spawner.locate("bird", along: "/usr/sbin:/usr/bin:/sbin:/bin") != nil else {
            try Test.cancel("bird is not installed: apt-get install bird2")
        }
        let scenario = try #require(Catalogue.named("ospf-bird"))
        let report = await scenario.test()
        #expect(report.status == .pass, "\(report.reason ?? "") \(report.failures) \(report.steps)")
        #expect(report.steps.allSatisfy { $0.result.outcome == .passed }, "\(report.steps)")
        let reroute = try #require(report.checks.first { $0.expected.contains("via 10.30.12.2 dev eth0") })
        #expect(reroute.convergence != nil && reroute.within == 10, "\(reroute)")
        print("ospf-bird convergence: " + report.checks.map { "\($0.expected): \(Int(($0.convergence ?? 0) * 1000)) ms" }
            .joined(separator: "; "))

        let dir = try #require(Catalogue.directory)
        let text = try String(contentsOf: dir.appendingPathComponent("ospf-bird.yaml"), encoding: .utf8)
        let lonely = text.replacingOccurrences(of: "  - repeat: 3\n", with: "  - repeat: 1\n")
            .replacingOccurrences(of: "{within: 30s, in: r1, routes: bird", with: "{within: 8s, in: r1, routes: bird")
        #expect(lonely != text)
        let broken = await (try Scenario.load(yaml: lonely, file: "ospf-bird.yaml")).test()
        #expect(broken.status == .fail)
        #expect(broken.processes.count == 1)
        let failure = try #require(broken.failures.first, "\(broken.steps)")
        #expect(failure.expected == "in r1, at least 4 bird routes")
        #expect(failure.observed.contains("did not hold within 8.0 s"), "\(failure)")
    }
}

