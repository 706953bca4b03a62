import NetnsKit
import NetnsModel
import Testing

/// The file forms of exchanges and counters: malformed values are problems at their line, and the
/// older `tcp`/`connect` forms still read as before.
@Suite struct ScenarioFileStateTests {
    static let head = """
        name: t
        nodes: [{name: h1, addresses: [10.0.0.1/24]}, {name: h2, addresses: [10.0.0.2/24]}]
        links: [{a: h1, b: h2}]
        expect:

        """

    @Test func malformedValuesAreProblemsAtTheirLine() {
        let entries = [
            ("{from: h1, connect: 10.0.0.2, port: 80, result: maybe}", "expect[0].result: unknown result \"maybe\""),
            ("{from: h1, connect: 10.0.0.2, port: 80, peer: 10.0.0.9}", "expect[1].peer: only the built-in listener"),
            ("{from: h1, tcp: 10.0.0.2, port: 80, peer: 10.0.0.300}", "expect[2].peer: not an IP address: \"10.0.0.300\""),
            ("{from: h1, udp: 10.0.0.2, port: 0}", "expect[3].port: port 0 is outside 1…65535"),
            ("{from: h1, connect: 10.0.0.2, port: 80, proto: sctp}", "expect[4].proto: unknown protocol \"sctp\""),
            ("{from: h1, tcp: 10.0.0.2, port: 80, open: true, result: ok}", "expect[5].open: give the outcome as result:"),
            ("{from: h1, connect: 10.0.0.2, port: 80, result: refused, reply: x}", "expect[6].reply: a reply comes only with result: ok"),
            ("{in: h1, nftCounter: c, table: t}", "expect[7].nftCounter: give at least one bound"),
            ("{in: h1, nftCounter: c, table: t, family: ipx, minPackets: 1}", "expect[8].family: unknown table family \"ipx\""),
            ("{in: h1, nftCounter: c, table: t, minPackets: 5, maxPackets: 2}", "expect[9].maxPackets: maxPackets 2 is below minPackets 5"),
            ("{in: h1, mibCounter: InNoRoutes, min: 1}", "expect[10].mibCounter: not a MIB counter: \"InNoRoutes\""),
            ("{in: h1, mibCounter: Ip.InNoRoutes, min: -1}", "expect[11].min"),
        ]
        let text = Self.head + entries.map { "  - \($0.0)\n" }.joined()
        do {
            _ = try Scenario.load(yaml: text, file: "t.yaml")
            Issue.record("the file loaded")
        } catch {
            #expect(error.problems.count == entries.count, "\(error)")
            for (i, (_, message)) in entries.enumerated() {
                #expect(error.problems.contains { "\($0)".contains("t.yaml:\(5 + i):") && "\($0)".contains(message) },
                        "line \(5 + i): \(message)\n\(error)")
            }
        }
    }

    @Test func theOlderFormsReadAsBefore() throws {
        let s = try Scenario.load(yaml: Self.head + """
              - {from: h1, tcp: 10.0.0.2, port: 80, open: false}
              - {from: h1, connect: 10.0.0.2, port: 80}
              - {from: h1, connect: 10.0.0.2, port: 80, result: ok}
              - {from: h1, tcp: 10.0.0.2, port: 80, result: ok}
            """)
        #expect(s.expectations == [
            .tcp(from: "h1", to: "10.0.0.2", port: 80, open: false),
            .tcpConnect(from: "h1", to: "10.0.0.2", port: 80, open: true),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 80)),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.0.0.2")!, port: 80, listener: true)),
        ])
        #expect(try Scenario.load(yaml: s.yaml()) == s)
    }

    @Test func mibCounterFilesParse() {
        let counters = Lab.mibCounters(snmp: """
            Ip: Forwarding DefaultTTL InNoRoutes
            Ip: 1 64 7
            Tcp: RtoAlgorithm MaxConn AttemptFails
            Tcp: 1 -1 3
            TcpExt: SyncookiesSent IPReversePathFilter
            TcpExt: 0 2
            """, snmp6: "Ip6InReceives                   \t12\nIp6InNoRoutes 4\nIcmp6InErrors 1\nUdp6NoPorts 9\n")
        #expect(counters["Ip.InNoRoutes"] == 7)
        #expect(counters["Tcp.AttemptFails"] == 3)
        #expect(counters["Tcp.MaxConn"] == nil)
        #expect(counters["TcpExt.IPReversePathFilter"] == 2)
        #expect(counters["Ip6.InNoRoutes"] == 4 && counters["Ip6.InReceives"] == 12)
        #expect(counters["Icmp6.InErrors"] == 1 && counters["Udp6.NoPorts"] == 9)
    }
}
