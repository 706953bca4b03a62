import Foundation
import NetnsKit
import NetnsTesting
import Scenarios
import Testing

/// Scenario files run as tests: a broken declaration fails the check, and the failure names the file's line.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct ScenarioRunTests {
    /// For every expectation kind: one declaration changed in a catalogue file (a topology
    /// declaration where one breaks the check, else the expectation itself), and the entry that
    /// must now fail.
    static let mutations: [(kind: String, file: String, old: String, new: String, failing: String)] = [
        ("reachable", "router", "{from: h1, reaches: 10.12.2.2}", "{from: h1, reaches: 10.12.2.9}", "reaches: 10.12.2.9"),
        ("unreachable", "reject-routes", "{to: 10.19.101.0/24, type: blackhole}", "{to: 10.19.101.0/24, type: unreachable}",
         "cannotReach: 10.19.101.1, reason: blackholed"),
        ("pingSize", "mtu-mismatch", "    mtu: 1280\n", "    mtu: 1500\n", "cannotReach: 10.20.3.2, size: 1400"),
        ("tcp", "firewall", "tcp dport 22 drop", "tcp dport 23 drop", "port: 22, open: false"),
        ("tcpConnect", "firewall", "ports: [22, 80]", "ports: [22, 81]", "connect: 10.21.2.2, port: 80"),
        ("route", "router", "{in: h1, route: 10.12.2.2, via: 10.12.1.1, dev: eth0}",
         "{in: h1, route: 10.12.2.2, via: 10.12.1.1, dev: eth1}", "route: 10.12.2.2"),
        ("multipathSpread", "ecmp", "net.ipv4.fib_multipath_hash_policy: \"1\"", "net.ipv4.fib_multipath_hash_policy: \"0\"",
         "{in: r1, multipath:"),
        ("link", "two-hosts", "{a: h1:eth0, b: h2:eth0}", "{a: h1:eth0, b: h2:eth0, mtu: 9000}", "link: eth0, mtu: 1500"),
        ("sysctl", "router", "{name: r1, kind: router}", "{name: r1, kind: host}", "sysctl: net.ipv4.ip_forward"),
        ("counters", "two-hosts", "minRx: 1, minTx: 1}", "minRx: 1, minTx: 1000000}", "counters: eth0"),
        ("address", "dual-stack", "{in: h1, address: \"fd00:17:1::2/64\", on: eth0}",
         "{in: h1, address: \"fd00:17:1::3/64\", on: eth0}", "address: \"fd00:17:1::3/64\""),
        ("master", "bridge", "{in: sw, interface: p1, master: br0}", "{in: sw, interface: p1, master: none}",
         "interface: p1, master: none"),
        ("rule", "policy-routing", "rules: [{priority: 100, from: 10.15.2.0/24", "rules: [{priority: 101, from: 10.15.2.0/24",
         "rule: {from: 10.15.2.0/24"),
        ("neighbor", "two-hosts", "states: [REACHABLE, STALE, DELAY, PROBE]", "states: [PERMANENT]", "neighbor: 10.10.0.2"),
        ("rtt", "two-hosts", "{from: h1, reaches: 10.10.0.2}", "{from: h1, reaches: 10.10.0.2, minRtt: 10s}", "minRtt: 10s"),
        ("ping", "mtu-mismatch", "    mtu: 1280\n", "    mtu: 1400\n", "df: true, reason: tooBig, mtu: 1280"),
        ("throughput", "rate-limit", "rate: 10mbit", "rate: 100mbit", "throughput: 10.22.0.2, minMbit: 5"),
        ("transport", "firewall", "tcp dport 8080 masquerade", "tcp dport 8081 masquerade", "peer: 10.21.2.1"),
        ("nftCounter", "firewall", "tcp dport 22 counter name", "tcp dport 2222 counter name", "nftCounter: ssh_syns"),
        ("mibCounter", "firewall", "{in: h2, mibCounter: Udp.NoPorts, min: 1}", "{in: h2, mibCounter: Udp.NoPorts, min: 1000}",
         "mibCounter: Udp.NoPorts"),
        ("linkAttributes", "bridge", "kind: bridge, ageing: 300s", "kind: bridge, ageing: 10s", "linkAttributes: br0"),
        ("qdisc", "rate-limit", "tbf: {rate: 10mbit, burst: 32768", "tbf: {rate: 20mbit, burst: 32768", "qdisc: eth0, kind: tbf"),
        ("refused", "dual-stack", "via: \"fe80::1\"}}", "via: \"fd00:17:1::1\"}}", "refuses: {addRoute"),
        ("path", "link-flap", "{to: 10.29.2.0/24, via: 10.29.12.2, metric: 10}", "{to: 10.29.2.0/24, via: 10.29.12.2, metric: 30}",
         "{in: r1, through: [eth1]"),
        ("addressCount", "dual-stack", "addresses: [10.17.1.2/24, fd00:17:1::2/64]",
         "addresses: [10.17.1.2/24, fd00:17:1::2/64, fd00:17:1::3/64]", "addressCount: eth0"),
        ("addressFlags", "dual-stack", "flags: [nodad, permanent], notFlags: [tentative]}",
         "flags: [nodad, permanent, noprefixroute], notFlags: [tentative]}", "addressFlags: \"fd00:17:1::2/64\""),
        ("fdb", "bridge", "{in: sw, fdb: \"h1:eth0\", port: p1, learned: true}", "{in: sw, fdb: \"h1:eth0\", port: p1, learned: false}",
         "fdb: \"h1:eth0\", port: p1"),
        ("routes", "link-flap", "{in: r1, routes: static, atLeast: 2}", "{in: r1, routes: static, atLeast: 3}", "atLeast: 3"),
        ("routeSelectors", "policy-routing", "{priority: 200, fwmark: \"0x10/0xff\", ipproto: udp, dport: 5000-5010, table: 100},",
         "{priority: 200, fwmark: \"0x10/0xff\", ipproto: udp, dport: 5000-5004, table: 100},", "dport: 5005"),
        // (No uidrange rule in the catalogue: the kernel refuses uids the user namespace does not
        // map, and the unprivileged catalogue runs in one that maps only root.)
        ("ruleSelectors", "policy-routing", "tos: 16, table: 100},", "tos: 8, table: 100},",
         "rule: {from: 10.15.1.0/24, to: 10.15.100.0/24, tos: 16"),
        ("routeError", "reject-routes", "{to: 10.19.102.0/24, type: unreachable}", "{to: 10.19.102.0/24, type: prohibit}",
         "route: 10.19.102.1, error"),
        ("routesFilter", "reject-routes", "{to: 10.19.203.0/24, type: prohibit}", "{to: 10.19.203.0/24, type: blackhole}",
         "routes: {type: prohibit}"),
        ("multipathStable", "ecmp", "mode: stable, flows: 32}", "mode: stable, flows: 32, devices: [eth0]}", "mode: stable"),
        ("multipathSplit", "ecmp", "net.ipv4.fib_multipath_hash_policy: \"1\"", "net.ipv4.fib_multipath_hash_policy: \"0\"",
         "mode: split"),
    ]

    @Test func everyKindHasAMutation() {
        #expect(Set(Self.mutations.map(\.kind)) == Set(ScenarioFileTests.everyKind.map(ScenarioFileTests.kind)))
    }

    @Test(arguments: 0..<mutations.count)
    func aMutatedFileFailsNamingTheLine(_ i: Int) async throws {
        let m = Self.mutations[i]
        let dir = try #require(Catalogue.directory)
        let text = try String(contentsOf: dir.appendingPathComponent("\(m.file).yaml"), encoding: .utf8)
        let original = try Scenario.load(yaml: text, file: "\(m.file).yaml")
        for feature in original.requires {
            if let o = KernelFeatures.shared.probe(feature), !o.supported {
                try Test.cancel(Comment(rawValue: "this kernel has no \(o.feature)" + (o.detail.map { " (\($0))" } ?? "")))
            }
        }
        let before = await original.test()
        #expect(before.status == .pass, "\(m.file) must pass unchanged: \(before.failures) \(before.reason ?? "")")

        let range = try #require(text.range(of: m.new == m.old ? "" : m.old), "\(m.file) has no \(m.old)")
        let mutated = text.replacingCharacters(in: range, with: m.new)
        let line = try #require(mutated.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains(m.failing) }) + 1
        let scenario = try Scenario.load(yaml: mutated, file: "\(m.file).yaml")
        let report = await scenario.test()
        #expect(report.status == .fail, "\(m.kind): \(report.checks)")
        let failure = report.failures.first { $0.place == "\(m.file).yaml:\(line)" }
        #expect(failure != nil, "\(m.kind): no failure at \(m.file).yaml:\(line); failures: \(report.failures)")
        if let failure {
            #expect(failure.description.hasPrefix("\(m.file).yaml:\(line): "), "\(failure)")
            #expect(failure.description.contains(" — observed: "), "\(failure)")
        }
        #expect(report.total == original.checkCount)
    }

    /// A built-in listener answers with its reply and records the peer address; a `tcp`
    /// expectation probes it (instead of starting a listener of its own); a command's `ready` text
    /// is waited for; a command that never prints it fails the run, naming its line.
    @Test func processesRunFromSetupToTeardown() async throws {
        let text = """
            name: procs
            nodes:
              - {name: h1, addresses: [10.0.0.1/24]}
              - {name: h2, addresses: [10.0.0.2/24]}
            links: [{a: h1, b: h2}]
            processes:
              - {node: h2, listen: tcp, address: 10.0.0.2, ports: [8080, 8081], reply: "hello\\n"}
              - {node: h2, listen: udp, port: 5353}
              - {node: h1, run: [sh, -c, "echo ready; exec sleep 60"], ready: ready}
            expect:
              - {from: h1, tcp: 10.0.0.2, port: 8080}
              - {from: h1, tcp: 10.0.0.2, port: 8081}
            """
        let report = await (try Scenario.load(yaml: text, file: "procs.yaml")).test()
        #expect(report.status == .pass, "\(report.checks) \(report.reason ?? "")")
        #expect(report.processes.count == 3)
        #expect(report.processes.first?.peers == ["10.0.0.1"], "\(report.processes)")
        #expect(report.processes.last?.description.contains("escape hatch") == true)

        // A command whose ready text never comes fails the run before any check, naming its line.
        let never = text.replacingOccurrences(of: "ready: ready}", with: "ready: \"never printed\"}")
        let failed = await (try Scenario.load(yaml: never, file: "procs.yaml")).test()
        #expect(failed.status == .fail)
        #expect(failed.reason?.hasPrefix("process failed: procs.yaml:9: ") == true, "\(failed.reason ?? "")")
        #expect(failed.reason?.contains("did not appear") == true, "\(failed.reason ?? "")")

        // A listener's reply is what a client reads.
        let lab = try await Lab.up(try Scenario.load(yaml: text).topology)
        defer { lab.down() }
        let server = try EchoServer.start(in: try lab["h2"].namespace, port: 9090, address: IPAddress("10.0.0.2"),
                                          lifetime: 10, reply: Array("hi there\n".utf8))
        defer { server.stop() }
        let r = try await lab["h1"].run(["bash", "-c", "exec 3<>/dev/tcp/10.0.0.2/9090 && head -c 9 <&3"], timeout: 5)
        #expect(r.output.contains("hi there"), "\(r)")
        #expect(server.peers.map(\.description) == ["10.0.0.1"])
    }

    /// In a Swift test, a scenario file's failed check is an issue at the file's line.
    @Test func expectScenarioRecordsIssuesAtTheFileLine() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nk-expect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: try #require(Catalogue.directory).appendingPathComponent("router.yaml"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("{from: h2, reaches: 10.12.1.2}") }) + 1
        let file = dir.appendingPathComponent("router.yaml")
        try text.replacingOccurrences(of: "{from: h2, reaches: 10.12.1.2}", with: "{from: h2, reaches: 10.12.1.3}")
            .write(to: file, atomically: true, encoding: .utf8)
        try await withKnownIssue {
            let report = try await expectScenario(path: file.path)
            #expect(report.failures.count == 1)
        } matching: { issue in
            issue.sourceLocation?.line == line && issue.sourceLocation?.fileName == "router.yaml"
                && issueText(issue).hasPrefix("router.yaml:\(line): h2 reaches 10.12.1.3 — observed: ")
        }
        // Unchanged, the file passes and records nothing.
        let report = try await expectScenario(path: try #require(Catalogue.directory).appendingPathComponent("router.yaml").path)
        #expect(report.status == .pass)
    }

    /// A file without checks builds, and is reported as such: never a pass.
    @Test func aFileWithoutChecksIsNeverPassed() async throws {
        let s = try Scenario.load(yaml: "name: plain\nnodes: [{name: a}, {name: b}]\nlinks: [{a: a, b: b}]\n", file: "plain.yaml")
        let report = await s.test()
        #expect(report.status == .built)
        #expect(report.total == 0 && report.checks.isEmpty)
    }
}
