import Foundation
import NetnsKit
import NetnsModel
import Testing

/// A scenario file's `steps:` (a fault timeline) is the Swift ``TimelineStep`` list: decoded with
/// lines, every problem at once with did-you-mean, and written back as it was read. No kernel.
@Suite struct StepsFileTests {
    static let head = """
        name: t
        nodes:
          - {name: h1, addresses: [10.0.0.1/24]}
          - {name: r1, kind: router, addresses: [10.0.0.2/24]}
        links: [{a: h1:eth0, b: r1:eth0}]

        """

    /// Every change kind and a check, with each way of saying when.
    static let everyKind: [TimelineStep] = [
        .change(.at(.milliseconds(500)), .linkDown(node: "r1", link: "eth0")),
        .expect(.route(in: "h1", to: "10.0.0.2", dev: "eth0"), within: .seconds(3)),
        .expect(.after(.milliseconds(250)), .reachable(from: "h1", to: "10.0.0.2"), within: .milliseconds(1500)),
        .change(.after(.seconds(1)), .linkUp(node: "r1", link: "eth0")),
        .change(.setMTU(node: "r1", link: "eth0", mtu: 1400)),
        .change(.replaceQdisc(node: "r1", link: "eth0", .tbf(rate: Rate(bitsPerSecond: 1_000_000), burst: 32768, limit: .latency(.milliseconds(50))))),
        .change(.removeQdisc(node: "r1", link: "eth0")),
        .change(.addRoute(node: "h1", Route("10.9.0.0/16", via: "10.0.0.2", metric: 10))),
        .change(.removeRoute(node: "h1", Route("10.9.0.0/16", via: "10.0.0.2", metric: 10))),
        .expect(.at(.seconds(5)), .link(in: "r1", name: "eth0", up: true, mtu: 1400), within: .seconds(1)),
        .change(.send(node: "h1", TrafficBurst(to: IPAddress("10.0.0.2")!, proto: .icmp, count: 5, source: IPAddress("10.0.0.1")!))),
        .change(.after(.milliseconds(100)), .send(node: "h1", TrafficBurst(to: IPAddress("10.0.0.2")!, proto: .udp(port: 5000),
                                                                             count: 100, size: 200))),
    ]

    @Test func theFileFormIsTheSwiftTimeline() throws {
        let text = Self.head + """
            steps:
              - {at: 500ms, node: r1, linkDown: eth0}
              - {within: 3s, in: h1, route: 10.0.0.2, dev: eth0}
              - {after: 250ms, within: 1500ms, from: h1, reaches: 10.0.0.2}
              - {after: 1s, node: r1, linkUp: eth0}
              - {node: r1, setMTU: eth0, mtu: 1400}
              - {node: r1, replaceQdisc: {on: eth0, tbf: {rate: 1mbit, burst: 32K, latency: 50ms}}}
              - {node: r1, removeQdisc: eth0}
              - {node: h1, addRoute: {to: 10.9.0.0/16, via: 10.0.0.2, metric: 10}}
              - {node: h1, removeRoute: {to: 10.9.0.0/16, via: 10.0.0.2, metric: 10}}
              - {at: 5s, within: 1s, in: r1, link: eth0, up: true, mtu: 1400}
              - {node: h1, send: 10.0.0.2, packets: 5, proto: icmp, source: 10.0.0.1}
              - {after: 100ms, node: h1, send: 10.0.0.2, packets: 100, port: 5000, size: 200}
            """
        let s = try Scenario.load(yaml: text, file: "t.yaml")
        #expect(s.steps == Self.everyKind, "\(s.steps)")
        // Each step keeps its line; the checks among them count as the scenario's checks.
        #expect(s.source.place(ofStep: 0) == "t.yaml:7")
        #expect(s.source.place(ofStep: 9) == "t.yaml:16")
        #expect(s.checkCount == 3)
        // Written back (YAML and JSON) and read again, it is the same scenario; a dropped or
        // changed step is noticed.
        #expect(try Scenario.load(yaml: s.yaml()) == s, "\(s.yaml())")
        #expect(try Scenario.load(yaml: s.json()) == s, "\(s.json())")
        var other = s
        other.steps[0] = .change(.at(.milliseconds(600)), .linkDown(node: "r1", link: "eth0"))
        #expect(try Scenario.load(yaml: other.yaml()) != s)
        other.steps = Array(s.steps.dropLast())
        #expect(try Scenario.load(yaml: other.yaml()) != s)
    }

    /// Every broken step is reported at once, each at its line, with the closest key when one is near.
    @Test func brokenStepsAreEachReportedAtTheirLine() throws {
        let text = Self.head + """
            steps:
              - {at: 500ms, node: r1, linkDwn: eth0}
              - {from: h1, reaches: 10.0.0.2}
              - {at: 500, node: r1, linkDown: eth0}
              - {at: 1s, after: 1s, node: r1, linkDown: eth0}
              - {within: 3s, node: r1, linkDown: eth0}
              - {node: r9, linkUp: eth0}
              - {within: 3s, from: h7, reaches: 10.0.0.2}
              - {node: r1, linkDown: eth0, mtu: 1400}
              - {node: r1, setMTU: eth0, mtu: 20}
              - {within: 2s, from: h1, reachs: 10.0.0.2}
              - {node: r1, replaceQdisc: {on: eth0, parent: "1:10", tbf: {rate: 1mbit, burst: 32K, latency: 50ms}}}
              - {node: h1, addRoute: {to: 10.9.0.0/16, via: 10.0.0.2, metrc: 10}}
              - {within: 0s, from: h1, reaches: 10.0.0.2}
            """
        do {
            _ = try Scenario.load(yaml: text, file: "t.yaml")
            Issue.record("a file with broken steps loaded")
        } catch {
            let byLine = Dictionary(grouping: error.problems, by: { $0.line ?? 0 }).mapValues { $0.map(\.description).joined(separator: " | ") }
            #expect(error.problems.count == 13, "\(error)")
            #expect(byLine[7]?.contains("did you mean \"linkDown\"") == true, "\(error)")
            #expect(byLine[8]?.contains("needs within:") == true, "\(error)")
            #expect(byLine[9]?.contains("with its unit") == true, "\(error)")
            #expect(byLine[10]?.contains("not both") == true, "\(error)")
            #expect(byLine[11]?.contains("a change (linkDown) or a check") == true, "\(error)")
            #expect(byLine[12]?.contains("unknown node \"r9\"") == true, "\(error)")
            #expect(byLine[13]?.contains("unknown node \"h7\"") == true, "\(error)")
            #expect(byLine[14]?.contains("unknown key \"mtu\"") == true, "\(error)")
            #expect(byLine[15]?.contains("outside 68…65535") == true, "\(error)")
            #expect(byLine[16]?.contains("did you mean \"reaches\"") == true, "\(error)")
            #expect(byLine[17]?.contains("takes no parent") == true, "\(error)")
            #expect(byLine[18]?.contains("did you mean \"metric\"") == true, "\(error)")
            #expect(byLine[19]?.contains("more than 0") == true, "\(error)")
            #expect(error.problems.allSatisfy { $0.file == "t.yaml" })
        }
    }

    @Test func stepsMustBeAList() throws {
        #expect(throws: FileProblems.self) { try Scenario.load(yaml: Self.head + "steps: {at: 1s}\n") }
    }
}

/// A daemon's file form: a command process with a `config` template and an `install` line, and
/// the `routes` expectation. No kernel.
@Suite struct DaemonFileTests {
    static let head = """
        name: d
        nodes:
          - {name: r1, kind: router, isolation: full}
          - {name: h1}
        links:
          - {a: {endpoint: r1:eth0, addresses: [10.0.0.1/24]}, b: {endpoint: h1:eth0, addresses: [10.0.0.2/24]}}
          - {a: {endpoint: r1:eth1, addresses: [10.0.1.1/24]}, b: {endpoint: h1:eth1, addresses: [10.0.1.2/24]}}

        """

    @Test func aConfigTemplateIsFilledFromTheNode() throws {
        let config = ProcessConfig(path: "/tmp/d.conf", template: """
            router id {routerId}; # {node}
            protocol device { scan time 10; }
              interface "{interface}" { type ptp; };
            end
            """)
        #expect(config.unknownPlaceholders.isEmpty)
        let text = try config.render(node: "r1", routerId: "10.0.0.1", interfaces: ["eth0", "eth1"])
        #expect(text == """
            router id 10.0.0.1; # r1
            protocol device { scan time 10; }
              interface "eth0" { type ptp; };
              interface "eth1" { type ptp; };
            end
            """)
        #expect(throws: InvalidChangeError.self) { try config.render(node: "r1", routerId: nil, interfaces: []) }
    }

    @Test func theFileFormIsTheSwiftProcess() throws {
        let text = Self.head + """
            processes:
              - node: r1
                run: [bird, -f, -c, /tmp/bird.conf]
                install: apt-get install bird2
                config:
                  path: /tmp/bird.conf
                  text: |
                    router id {routerId};
                    interface "{interface}";
            steps:
              - {within: 30s, in: r1, routes: bird, atLeast: 4}
            """
        let s = try Scenario.load(yaml: text, file: "d.yaml")
        let want = ScenarioProcess.command(in: "r1", ["bird", "-f", "-c", "/tmp/bird.conf"],
                                           config: ProcessConfig(path: "/tmp/bird.conf",
                                                                 template: "router id {routerId};\ninterface \"{interface}\";\n"),
                                           install: "apt-get install bird2")
        #expect(s.processes == [want])
        #expect(s.steps == [.expect(.routes(in: "r1", protocol: "bird", atLeast: 4), within: .seconds(30))])
        #expect(try Scenario.load(yaml: s.yaml()) == s, "\(s.yaml())")
        #expect(try Scenario.load(yaml: s.json()) == s, "\(s.json())")
    }

    @Test func brokenDaemonEntriesAreProblemsAtTheirLines() throws {
        let text = Self.head + """
            processes:
              - {node: r1, run: [bird], config: {path: /etc/bird/bird.conf, text: x}}
              - {node: r1, run: [bird], config: {path: /tmp/b.conf, text: "router id {routerID};"}}
              - {node: h1, run: [bird], config: {path: /tmp/b.conf, text: x}}
              - {node: r1, run: [bird], config: {path: /tmp/../etc/passwd, text: x}}
            expect:
              - {in: r1, routes: birb, atLeast: 4}
              - {in: r1, routes: bird, atLeast: 0}
            """
        do {
            _ = try Scenario.load(yaml: text, file: "d.yaml")
            Issue.record("a file with broken daemon entries loaded")
        } catch {
            let byLine = Dictionary(grouping: error.problems, by: { $0.line ?? 0 }).mapValues { $0.map(\.description).joined(separator: " | ") }
            #expect(error.problems.count == 6, "\(error)")
            #expect(byLine[9]?.contains("private /tmp or /run") == true, "\(error)")
            #expect(byLine[10]?.contains("unknown placeholder {routerID}") == true && byLine[10]?.contains("did you mean {routerId}?") == true, "\(error)")
            #expect(byLine[11]?.contains("node h1 needs isolation: full") == true, "\(error)")
            #expect(byLine[12]?.contains("not a plain file path") == true, "\(error)")
            #expect(byLine[14]?.contains("not a route protocol") == true, "\(error)")
            #expect(byLine[15]?.contains("1 or more") == true, "\(error)")
        }
    }

    /// A program that is not installed, with an install line, skips the scenario before anything
    /// is built, the install line as the reason; never a pass.
    @Test func aMissingProgramWithAnInstallLineIsASkip() async throws {
        let text = Self.head + """
            processes:
              - {node: r1, run: [no-such-daemon-nk, -f], install: apt-get install no-such-daemon}
            expect:
              - {in: r1, link: eth0}
            """
        let report = await (try Scenario.load(yaml: text, file: "d.yaml")).test()
        #expect(report.status == .skip)
        #expect(report.reason == "no-such-daemon-nk is not installed: apt-get install no-such-daemon", "\(report.reason ?? "")")
        #expect(report.buildSeconds == nil && report.checks.isEmpty)
    }
}
