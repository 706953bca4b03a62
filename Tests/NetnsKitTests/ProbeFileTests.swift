import Foundation
import NetnsKit
import Testing

/// The file forms of pings with options, throughput and traffic steps: typed values, each
/// malformed one a problem at its line, all at once. No kernel.
@Suite struct ProbeFileTests {
    static let head = """
        name: t
        nodes:
          - {name: h1, addresses: [10.0.0.1/24, "fd00::1/64"]}
          - {name: h2, addresses: [10.0.0.2/24]}
        links: [{a: h1:eth0, b: h2:eth0}]

        """

    @Test func theFileFormsAreTheSwiftValues() throws {
        let s = try Scenario.load(yaml: Self.head + """
            expect:
              - {from: h1, reaches: "fe80::2%eth0"}
              - {from: h1, cannotReach: 10.0.0.2, ttl: 1, reporter: 10.0.0.2, icmpType: 11}
              - {from: h1, cannotReach: 10.0.0.2, size: 1400, df: true, reason: tooBig, mtu: 1280}
              - {from: h1, throughput: 10.0.0.2, maxMbit: 12.5, timeLimit: 2s}
            steps:
              - {node: h1, send: 10.0.0.2, packets: 3, proto: icmp}
            """, file: "t.yaml")
        #expect(s.expectations == [
            .ping(from: "h1", to: IPAddress("fe80::2")!, options: PingOptions(interface: "eth0")),
            .ping(from: "h1", to: IPAddress("10.0.0.2")!, options: PingOptions(ttl: 1),
                  failure: PingFailureExpectation(reporter: IPAddress("10.0.0.2")!, icmpType: 11)),
            .ping(from: "h1", to: IPAddress("10.0.0.2")!, options: PingOptions(size: 1400, dontFragment: true),
                  failure: PingFailureExpectation(reason: .tooBig, mtu: 1280)),
            .throughput(from: "h1", to: IPAddress("10.0.0.2")!, timeLimit: .seconds(2), max: 12.5),
        ])
        #expect(s.steps == [.change(.send(node: "h1", TrafficBurst(to: IPAddress("10.0.0.2")!, proto: .icmp, count: 3)))])
        #expect(try Scenario.load(yaml: s.yaml()) == s, "\(s.yaml())")
        // The older forms stay what they were.
        let old = try Scenario.load(yaml: Self.head + "expect:\n  - {from: h1, reaches: 10.0.0.2, size: 1000}\n")
        #expect(old.expectations == [.pingSize(from: "h1", to: "10.0.0.2", size: 1000, succeeds: true)])
    }

    @Test func malformedValuesAreProblemsAtTheirLines() throws {
        let text = Self.head + """
            expect:
              - {from: h1, reaches: "fe80::2"}
              - {from: h1, reaches: "10.0.0.2%eth0"}
              - {from: h1, reaches: 10.0.0.2, count: 0}
              - {from: h1, reaches: 10.0.0.2, ttl: 300}
              - {from: h1, reaches: 10.0.0.2, source: "fd00::1"}
              - {from: h1, reaches: 10.0.0.2, count: 2, reporter: 10.0.0.9}
              - {from: h1, cannotReach: 10.0.0.2, ttl: 1, reporter: 10.0.0.999}
              - {from: h1, cannotReach: 10.0.0.2, ttl: 1, icmpType: 256}
              - {from: h1, cannotReach: 10.0.0.2, ttl: 1, reason: gone}
              - {from: h1, throughput: 10.0.0.2}
              - {from: h1, throughput: 10.0.0.2, minMbit: 12, maxMbit: 5}
              - {from: h1, throughput: 10.0.0.2, minMbit: 1, timeLimit: 1h}
              - {from: h1, reaches: "fe80::2%eth0", dev: eth1}
            steps:
              - {node: h1, send: 10.0.0.2, packets: 0}
              - {node: h1, send: 10.0.0.2, proto: icmp, port: 9}
              - {node: h1, send: 10.0.0.2, proto: tcp}
              - {node: h1, send: 10.0.0.300}
            """
        do {
            _ = try Scenario.load(yaml: text, file: "t.yaml")
            Issue.record("a file with broken entries loaded")
        } catch {
            let byLine = Dictionary(grouping: error.problems, by: { $0.line ?? 0 }).mapValues { $0.map(\.description).joined(separator: " | ") }
            #expect(error.problems.count == 17, "\(error)")
            let want: [Int: String] = [
                7: "needs its interface", 8: "only a link-local", 9: "count 0 is outside", 10: "ttl 300 is outside",
                11: "different families", 12: "unknown key \"reporter\"", 13: "not an IP address", 14: "icmpType 256",
                15: "unknown reason \"gone\"", 16: "minMbit, maxMbit or both", 17: "below minMbit", 18: "timeLimit",
                19: "differs from the destination's scope", 21: "packets 0 is outside", 22: "ICMP has no port",
                23: "unknown protocol \"tcp\"", 24: "not an IP address",
            ]
            for (line, text) in want {
                #expect(byLine[line]?.contains(text) == true, "line \(line): \(byLine[line] ?? "no problem")")
            }
        }
    }
}
