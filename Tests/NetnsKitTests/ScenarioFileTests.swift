import Foundation
import NetnsKit
import NetnsModel
import Scenarios
import Testing

/// Scenario files and Swift scenarios are two spellings of one value; files keep their lines.
@Suite struct ScenarioFileTests {
    /// One expectation of every kind; the switch in `kind(of:)` has no default, so a new kind
    /// without a file form here does not compile.
    static let everyKind: [LabExpectation] = [
        .reachable(from: "h1", to: "10.0.0.2"),
        .unreachable(from: "h1", to: "10.9.0.1", reason: .noRoute),
        .unreachable(from: "h1", to: "10.9.0.1", reason: .any),
        .pingSize(from: "h1", to: "10.0.0.2", size: 1400, succeeds: false),
        .pingSize(from: "h1", to: "10.0.0.2", size: 1000, succeeds: true),
        .rtt(from: "h1", to: "10.0.0.2", min: .milliseconds(40), max: .seconds(1)),
        .rtt(from: "h1", to: "10.0.0.2", min: .microseconds(250)),
        .tcp(from: "h1", to: "10.0.0.2", port: 80, open: true),
        .tcp(from: "h1", to: "10.0.0.2", port: 22, open: false),
        .route(in: "h1", to: "10.0.0.2", from: "10.0.0.1", iif: "eth0", via: "10.0.0.9", dev: "eth0"),
        .route(in: "h1", to: "fd00::2", dev: "eth0"),
        .route(in: "h1", to: "10.0.0.2", dev: "eth0", vrf: "blue"),
        .multipathSpread(in: "h1", to: "10.0.0.2", devices: ["eth0", "eth1"]),
        .link(in: "h1", name: "eth0", up: false, mtu: 9000),
        .link(in: "h1", name: "eth0"),
        .sysctl(in: "h1", key: "net.ipv4.ip_forward", value: "1"),
        .counters(in: "h1", name: "eth0", minRxPackets: 3, minTxPackets: 4),
        .address(in: "h1", prefix: "10.0.0.1/24", on: "eth0"),
        .master(in: "h1", name: "eth0", master: "br0"),
        .master(in: "h1", name: "eth0", master: nil),
        .rule(in: "h1", from: "10.0.0.0/24", table: 100, priority: 10),
        .rule(in: "h1", from: nil, table: 200),
        .neighbor(in: "h1", address: "10.0.0.2", states: ["REACHABLE", "PERMANENT"]),
        .tcpConnect(from: "h1", to: "10.0.0.2", port: 8080, open: false),
        .routes(in: "h1", protocol: "bird", atLeast: 4),
        .ping(from: "h1", to: IPAddress("10.0.0.2")!,
              options: PingOptions(count: 3, size: 1400, dontFragment: true, ttl: 2, source: IPAddress("10.0.0.1")!, interface: "eth0")),
        .ping(from: "h1", to: IPAddress("fe80::2")!, options: PingOptions(interface: "eth0"),
              failure: PingFailureExpectation(reason: .tooBig, reporter: IPAddress("fe80::1")!, icmpType: 2, icmpCode: 0, mtu: 1280)),
        .ping(from: "h1", to: IPAddress("10.9.0.1")!, failure: PingFailureExpectation()),
        .throughput(from: "h1", to: IPAddress("10.0.0.2")!, min: 5, max: 12),
        .throughput(from: "h1", to: IPAddress("fd00::2")!, port: 6000, bytes: 1000, timeLimit: .seconds(3), min: 0.5),
        .route(in: "h1", RouteLookup("10.0.0.2", from: "10.0.0.1", oif: "eth0", mark: 0x10, tos: 16, uid: 1000, ipproto: 6, sport: 1234,
                                     dport: 80, via: "fd00::1", dev: "eth0", prefsrc: "10.0.0.1", table: 100, type: .unicast, mtu: 1400)),
        .route(in: "h1", RouteLookup("10.0.0.2", vrf: "blue", error: .noRouteToHost)),
        .route(in: "h1", RouteLookup("10.0.0.2", iif: "eth0", type: .prohibit)),
        .multipath(in: "h1", MultipathCheck(to: IPAddress("10.0.0.2")!, devices: ["eth0"], mode: .stable, from: IPAddress("10.0.0.1")!,
                                            iif: "eth1", sports: 7...7, dport: 53, flows: 10)),
        .multipath(in: "h1", MultipathCheck(to: IPAddress("10.0.0.2")!, devices: ["eth0", "eth1"], mode: .split, flows: 100, sender: "h2")),
        .multipath(in: "h1", MultipathCheck(to: IPAddress("10.0.0.2")!, devices: ["eth0", "eth1"], from: IPAddress("10.0.0.1")!, sources: 8,
                                            sports: 100...200)),
        .routes(in: "h1", RouteFilter(family: .ipv6, table: 100, to: IPPrefix("fd00::/64")!, type: .unicast, proto: 4, metric: 1024,
                                      mtu: 1400, nexthops: 2, dev: "eth0", via: IPAddress("fe80::1")!), atLeast: 2, atMost: 5),
        .routes(in: "h1", RouteFilter(to: "default"), atLeast: 0, atMost: 0),
        .routes(in: "h1", RouteFilter(type: .blackhole), atMost: 3),
        .rule(in: "h1", Rule(family: .ipv6, priority: 5, from: "fd00::/64", to: "fd00:1::/64", iif: "eth0", oif: "eth1", fwmark: 1,
                             fwmask: 0xff, tos: 8, uidrange: 10...20, ipproto: 6, sport: PortRange(1000...2000), dport: 80,
                             suppressPrefixlength: 0, table: 100)),
        .rule(in: "h1", Rule(priority: 7, action: .goto(priority: 9))),
        .rule(in: "h1", Rule(l3mdev: true)),
        .rule(in: "h1", Rule(from: "10.0.0.0/8", action: .blackhole)),
        .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 80, listener: true)),
        .transport(TransportExpectation(from: "h1", to: IPAddress("fd00::2")!, port: 8080, listener: true, send: "hi\n",
                                        reply: "hi", peer: IPAddress("fd00::9")!)),
        .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 22, result: .timeout)),
        .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 53, proto: .udp, result: .refused)),
        .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 5353, proto: .udp, listener: true,
                                        send: "q", reply: "q")),
        .nftCounter(NftCounterExpectation(in: "h1", table: "t", name: "c", minPackets: 1, maxBytes: 9000)),
        .nftCounter(NftCounterExpectation(in: "h1", family: "ip6", table: "t", name: "c", maxPackets: 0)),
        .mibCounter(MIBCounterExpectation(in: "h1", counter: "Ip.InNoRoutes", min: 1)),
        .mibCounter(MIBCounterExpectation(in: "h1", counter: "Ip6.InNoRoutes", min: 1, max: 5)),
        .linkAttributes(LinkAttributesExpectation(in: "h1", name: "br0", up: false, mtu: 9000, master: "none", kind: "bridge",
                                                  ageing: .seconds(10), data: ["stp_state": "1"])),
        .linkAttributes(LinkAttributesExpectation(in: "h1", name: "vx0", ttl: 9, learning: false)),
        .linkAttributes(LinkAttributesExpectation(in: "h1", name: "bond0", bondMode: "active-backup")),
        .qdisc(QdiscExpectation(in: "h1", dev: "eth0", kind: "tbf", rate: .mbit(10), burst: 32768)),
        .refused(RefusedChangeExpectation(.addRoute(node: "h1", Route("fd00:9::/64", via: "fe80::1")), errno: .invalidArgument,
                                          extack: "Egress device not specified")),
        .refused(RefusedChangeExpectation(.setMTU(node: "h1", link: "eth0", mtu: 70000), errno: .invalidArgument)),
        .path(TrafficPathExpectation(in: "h1", through: ["eth0"], notThrough: ["eth1"], during: .reachable(from: "h1", to: "10.0.0.2"))),
        .addressCount(AddressCountExpectation(in: "h1", on: "eth0", family: .ipv6, scope: .link, count: 1)),
        .addressCount(AddressCountExpectation(in: "h1", count: 0)),
        .fdb(FDBExpectation(in: "h1", mac: .of(node: "h1", interface: "eth0"), port: "eth0", learned: true)),
        .fdb(FDBExpectation(in: "h1", mac: .address(MACAddress("02:00:00:00:00:01")!), dst: IPAddress("10.0.0.2")!, learned: false)),
        .fdb(FDBExpectation(in: "h1", mac: .address(MACAddress("02:00:00:00:00:02")!), present: false, port: "eth1")),
        .addressFlags(AddressFlagsExpectation(in: "h1", prefix: IPPrefix("fd00::2/64")!, on: "eth0", flags: [.nodad, .permanent],
                                              notFlags: [.tentative])),
        .path(TrafficPathExpectation(in: "h1", through: ["eth0"], minPackets: 4,
                                     during: .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 80)))),
        .qdisc(QdiscExpectation(in: "h1", dev: "eth0", kind: "netem", root: false, delay: .milliseconds(20))),
    ]

    static func kind(of e: LabExpectation) -> String {
        switch e {
        case .reachable: "reachable"
        case .unreachable: "unreachable"
        case .pingSize: "pingSize"
        case .rtt: "rtt"
        case .tcp: "tcp"
        case .tcpConnect: "tcpConnect"
        case .route(_, let l):
            if l.error != nil || [.blackhole, .unreachable, .prohibit].contains(l.type) { "routeError" }
            else if l.oif != nil || l.mark != nil || l.tos != nil || l.uid != nil || l.ipproto != nil || l.sport != nil
                || l.dport != nil || l.prefsrc != nil || l.table != nil || l.type != nil || l.mtu != nil { "routeSelectors" }
            else { "route" }
        case .multipath(_, let m):
            switch m.mode {
            case .spread: "multipathSpread"
            case .stable: "multipathStable"
            case .split: "multipathSplit"
            }
        case .link: "link"
        case .sysctl: "sysctl"
        case .counters: "counters"
        case .address: "address"
        case .master: "master"
        case .rule(_, let r):
            r == Rule(priority: r.priority, from: r.from?.description, table: { if case .lookup(let t) = r.action { t } else { 0 } }())
                ? "rule" : "ruleSelectors"
        case .neighbor: "neighbor"
        case .routes(_, let f, _, _): f == RouteFilter(proto: f.proto) && f.proto != nil ? "routes" : "routesFilter"
        case .ping: "ping"
        case .throughput: "throughput"
        case .transport: "transport"
        case .nftCounter: "nftCounter"
        case .mibCounter: "mibCounter"
        case .linkAttributes: "linkAttributes"
        case .qdisc: "qdisc"
        case .refused: "refused"
        case .path: "path"
        case .addressCount: "addressCount"
        case .addressFlags: "addressFlags"
        case .fdb: "fdb"
        }
    }

    static let twoNodes = Topology("t") {
        Host("h1") { Address("10.0.0.1/24") }
        Host("h2") { Address("10.0.0.2/24") }
        Link("h1:eth0", "h2:eth0")
    }

    @Test func everyKindIsCovered() {
        #expect(Set(Self.everyKind.map(Self.kind)).count == 34)
    }

    @Test func everyKindRoundTripsThroughYAMLAndJSON() throws {
        let s = Scenario(name: "t", summary: "s", description: "d", topology: Self.twoNodes, expectations: Self.everyKind,
                         setup: [SetupCommand(in: "h1", ["nft", "-f", "-"], stdin: "table inet x {}\n")],
                         verifications: [Verification(in: "h1", ["ip", "link"], outputContains: ["eth0", "lo"])],
                         processes: [.listener(in: "h2", .tcp, address: "10.0.0.2", ports: [80, 8080], reply: "hi\n"),
                                     .listener(in: "h2", .udp, ports: [53]),
                                     .command(in: "h2", ["sleep", "30"], ready: nil),
                                     .command(in: "h1", ["sh", "-c", "echo up; sleep 30"], ready: "up")],
                         requires: ["nftables"])
        let yaml = s.yaml()
        #expect(try Scenario.load(yaml: yaml) == s, "\(yaml)")
        #expect(try Scenario.load(yaml: s.json()) == s, "\(s.json())")
        // Equality sees the expectations: dropping one is noticed.
        var fewer = s
        fewer.expectations.removeLast()
        #expect(try Scenario.load(yaml: fewer.yaml()) != s)
    }

    /// Each built-in file is the scenario that used to be written in Swift: the same value,
    /// `repeat` blocks included (bridge, static-chain), and it survives export and load.
    @Test func theCatalogueFilesAreTheSwiftScenarios() throws {
        #expect(Catalogue.problems == [])
        #expect(Catalogue.names == SwiftCatalogue.all.map(\.name))
        for swift in SwiftCatalogue.all {
            let file = try #require(Catalogue.named(swift.name))
            #expect(file == swift, "\(swift.name): the file and the Swift declaration differ")
            #expect(file.checkCount == swift.checkCount && file.checkCount > 0)
            #expect(try Scenario.load(yaml: file.yaml(), file: "x.yaml") == file, "\(swift.name) YAML round trip")
            #expect(try Scenario.load(yaml: file.json(), file: "x.json") == file, "\(swift.name) JSON round trip")
        }
        // The directory holds exactly the catalogue.
        let dir = try #require(Catalogue.directory)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == Catalogue.order.map { "\($0).yaml" }.sorted())
    }

    /// JSON files (tab-indented too) load like YAML, with lines.
    @Test func jsonFilesHaveLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nk-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("t.json")
        try "{\n\t\"name\": \"t\",\n\t\"nodes\": [{\"name\": \"h1\"}],\n\t\"expect\": [\n\t\t{\"in\": \"h1\", \"link\": \"lo\"}\n\t]\n}\n"
            .write(to: good, atomically: true, encoding: .utf8)
        let s = try Scenario.load(path: good.path)
        #expect(s.expectations == [.link(in: "h1", name: "lo")])
        #expect(s.source.place(ofExpectation: 0) == "t.json:5")
        let bad = dir.appendingPathComponent("b.json")
        try "{\n\t\"name\": \"t\",\n\t\"nodes\": [{\"name\": \"h1\"}],\n\t\"expect\": [\n\t\t{\"in\": \"h1\", \"link\": 5, \"up\": \"maybe\"}\n\t]\n}\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        #expect(throws: FileProblems.self) { try Scenario.load(path: bad.path) }
        do { _ = try Scenario.load(path: bad.path) } catch {
            #expect(error.problems.map { "\($0.file ?? ""):\($0.line ?? 0)" } == ["b.json:5"], "\(error)")
        }
    }

    @Test func everyEntryRemembersItsLine() throws {
        let text = """
            name: t
            nodes:
              - {name: h1, addresses: [10.0.0.1/24]}
              - {name: h2, addresses: [10.0.0.2/24]}
            links: [{a: h1, b: h2}]
            setup:
              - {node: h1, run: [true]}
            processes:
              - {node: h2, listen: tcp, port: 80}
            expect:
              - {from: h1, reaches: 10.0.0.2}

              - from: h1
                tcp: 10.0.0.2
                port: 80
            verifications:
              - {node: h1, run: [ip, link], shows: [eth0]}
            """
        let s = try Scenario.load(yaml: text, file: "t.yaml")
        #expect(s.source.place(ofExpectation: 0) == "t.yaml:11")
        #expect(s.source.place(ofExpectation: 1) == "t.yaml:13")
        #expect(s.source.place(ofSetup: 0) == "t.yaml:7")
        #expect(s.source.place(ofProcess: 0) == "t.yaml:9")
        #expect(s.source.place(ofVerification: 0) == "t.yaml:17")
        #expect(s.source.text == text)
        // A Swift scenario has no places.
        #expect(Scenario(name: "t", topology: Self.twoNodes, expectations: [.reachable(from: "h1", to: "10.0.0.2")])
            .source.place(ofExpectation: 0) == nil)
    }

    /// Unknown keys, wrong types and bad values anywhere are all reported, each with key path and line.
    @Test func everyProblemIsReportedAtOnceWithItsLine() throws {
        let text = """
            name: t
            nodes:
              - {name: h1, addresses: [10.0.0.1/24], colour: red}
              - {name: h2, addresses: [10.0.0.2/24]}
            links: [{a: h1, b: h2}]
            processes:
              - {node: h2, listen: sctp, port: 80}
              - {node: h9, run: [sleep, "1"]}
              - {node: h2, listen: tcp}
            expect:
              - {from: h1, reaches: 10.0.0.999}
              - {from: h1, tcp: 10.0.0.2, port: eighty}
              - {from: h1, reachs: 10.0.0.2}
              - {in: h1, link: eth0, colour: blue}
              - {from: h1, cannotReach: 10.0.0.2, reason: sleepy}
              - {from: h7, reaches: 10.0.0.2}
            verifications:
              - {node: h1, run: [], shows: [x]}
            """
        do {
            _ = try Scenario.load(yaml: text, file: "bad.yaml")
            Issue.record("loaded a broken file")
        } catch {
            let found = error.problems.map { "\($0.line ?? 0) \($0.place)" }
            #expect(found == [
                "3 nodes[0].colour", "7 processes[0].listen", "8 processes[1].node", "9 processes[2]",
                "11 expect[0].reaches", "12 expect[1].port", "13 expect[2]", "14 expect[3].colour",
                "15 expect[4].reason", "16 expect[5].from", "18 verifications[0].run",
            ], "\(error)")
            let text = "\(error)"
            #expect(text.contains("bad.yaml:11: expect[0].reaches: not an IP address: \"10.0.0.999\""), "\(text)")
            #expect(text.contains("bad.yaml:13: expect[2]: an expectation needs one of:") && text.contains("did you mean \"reaches\""), "\(text)")
            #expect(text.contains("bad.yaml:16: expect[5].from: unknown node \"h7\""), "\(text)")
            #expect(text.contains("bad.yaml:12: expect[1].port: expected a whole number"), "\(text)")
        }
    }

    /// Problems of the topology (schema and validation) have lines too, in YAML and JSON.
    @Test func topologyProblemsHaveLines() throws {
        do {
            _ = try Topology.load(json: "{\"name\": \"t\",\n \"nodes\": [{\"name\": \"h1\"},\n  {\"name\": 5}]}")
            Issue.record("a number is not a name in JSON")
        } catch let e as TopologyFileError {
            #expect(e.place == "nodes[1].name" && e.line == 3, "\(e)")
        }
        let text = "name: t\nnodes:\n  - {name: h1}\n  - {name: h2, kind: hub}\nlinks:\n  - {a: h1, b: r9}\n"
        do {
            _ = try Topology.load(yaml: text, file: "t.yaml")
            Issue.record("loaded")
        } catch let e as TopologyFileError {
            #expect("\(e)".hasPrefix("t.yaml:4: nodes[1].kind:"), "\(e)")
        }
        do {
            _ = try Topology.load(yaml: "name: t\nnodes: [{name: h1}]\nlinks:\n  - {a: h1, b: r9}\n", file: "t.yaml")
            Issue.record("loaded")
        } catch let e as ValidationError {
            #expect(e.issues.map { $0.location?.line } == [4], "\(e)")
            #expect("\(e)".contains("t.yaml:4:"), "\(e)")
        }
        do {
            _ = try Scenario.load(yaml: "name: t\nnodes: [{name: h1}]\nlinks:\n  - {a: h1, b: r9}\n", file: "s.yaml")
            Issue.record("loaded")
        } catch {
            #expect(error.problems.map(\.description) == [
                #"s.yaml:4: links[0].b: unknown node "r9" (known: h1) — hint: add {name: r9} to nodes, or fix the endpoint"#,
            ])
        }
    }

    /// `repeat` builds what the DSL's `for` builds: a 200-host star is four entries, not 400.
    @Test func repeatIsTheDSLsForLoop() throws {
        let text = """
            name: star
            nodes:
              - {name: sw, kind: switch}
              - repeat: 200
                each: {name: "h{i}", addresses: ["10.100.{i/100}.{i}/16"]}
            links:
              - repeat: {from: 1, to: 200}
                each: {a: "h{i}:eth0", b: "sw:p{i}"}
            expect:
              - repeat: {count: 3, from: 2}
                as: n
                each:
                  - {from: h1, reaches: "10.100.0.{n}"}
                  - {in: "h{n}", link: eth0, mtu: "{n*500}"}
            """
        // {i/100} is not an operation the format has: it stays as written and the address is refused.
        #expect(throws: FileProblems.self) { try Scenario.load(yaml: text, file: "star.yaml") }
        let good = text.replacingOccurrences(of: "10.100.{i/100}.{i}/16", with: "10.100.{i}.1/16")
        let s = try Scenario.load(yaml: good, file: "star.yaml")
        let dsl = Topology("star") {
            Switch("sw")
            for i in 1...200 { Host("h\(i)") { Address("10.100.\(i).1/16") } }
            for i in 1...200 { Link("h\(i):eth0", "sw:p\(i)") }
        }
        #expect(s.topology == dsl)
        #expect(s.expectations == [2, 3, 4].flatMap { n -> [LabExpectation] in
            [.reachable(from: "h1", to: "10.100.0.\(n)"), .link(in: "h\(n)", name: "eth0", mtu: n * 500)]
        })
        // Entries made by a repeat point at the template's line.
        #expect(s.source.place(ofExpectation: 5) == "star.yaml:14")
        #expect(s.source.place(ofExpectation: 4) == "star.yaml:13")

        // Every malformed repeat block is reported, with the file's other problems.
        do {
            _ = try Scenario.load(yaml: "name: x\nnodes:\n  - {repeat: 0, each: {name: a}}\n  - {name: b, colour: red}\n"
                                  + "links:\n  - {repeat: -1, each: {a: a, b: b}}\n", file: "r.yaml")
            Issue.record("loaded")
        } catch {
            #expect(error.problems.map { $0.line ?? 0 } == [3, 4, 6], "\(error)")
        }
        for (bad, line, message) in [("repeat: 0", 3, "repeat takes a count"), ("repeat: {from: 5, to: 1}", 3, "repeat takes a count"),
                                     ("repeat: 20000", 3, "at most 10000"),
                                     ("repeat: 2\n    colour: red", 4, "unknown key \"colour\" in a repeat block")] {
            let t = "name: x\nnodes:\n  - \(bad)\n    each: {name: \"h{i}\"}\n"
            do {
                _ = try Scenario.load(yaml: t, file: "r.yaml")
                Issue.record("loaded \(bad)")
            } catch {
                #expect("\(error)".contains("r.yaml:\(line):") && "\(error)".contains(message), "\(error)")
            }
        }
    }
}

extension ScenarioFileTests {
    /// `serial: true` (a scenario that measures time, run alone by `nslab test`) is read, written
    /// back only when set, and anything but a boolean is a problem on its line.
    @Test func serialKeyRoundTrips() throws {
        let text = """
            name: t
            serial: true
            nodes:
              - {name: h1, addresses: [10.0.0.1/24]}
              - {name: h2, addresses: [10.0.0.2/24]}
            links: [{a: h1, b: h2}]
            """
        let s = try Scenario.load(yaml: text, file: "t.yaml")
        #expect(s.serial)
        #expect(s.yaml().contains("serial: true"))
        #expect(try Scenario.load(yaml: s.yaml()) == s)
        var plain = s
        plain.serial = false
        #expect(!plain.yaml().contains("serial"))
        #expect(plain != s)
        #expect(try !Scenario.load(yaml: text.replacingOccurrences(of: "serial: true\n", with: "")).serial)
        #expect {
            try Scenario.load(yaml: text.replacingOccurrences(of: "serial: true", with: "serial: sometimes"), file: "t.yaml")
        } throws: { error in
            "\(error)".contains("t.yaml:2")
        }
    }
}
