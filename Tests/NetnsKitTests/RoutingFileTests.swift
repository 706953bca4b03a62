import NetnsKit
import Testing

/// The routing expectations' file keys are typed: each malformed value is a problem at its line,
/// all of them at once, and the short forms read as the Swift values.
@Suite struct RoutingFileTests {
    static let head = """
        name: t
        nodes:
          - {name: h1, addresses: [10.0.0.1/24]}
          - {name: h2, addresses: [10.0.0.2/24]}
        links: [{a: h1, b: h2}]
        expect:

        """

    @Test func malformedRoutingValuesAreProblemsAtTheirLines() throws {
        let text = Self.head + """
              - {in: h1, route: 10.0.0.2, mark: lots}
              - {in: h1, route: 10.0.0.2, error: Oops}
              - {in: h1, route: 10.0.0.2, dscp: 70}
              - {in: h1, route: 10.0.0.2, error: No route to host, dev: eth0}
              - {in: h1, route: 10.0.0.2, type: sideways}
              - {in: h1, route: 10.0.0.2, prefsrc: 10.0.0.300}
              - {in: h1, multipath: 10.0.0.2, devices: [eth0], sports: 9-1}
              - {in: h1, multipath: 10.0.0.2, devices: [eth0], mode: zigzag}
              - {in: h1, multipath: 10.0.0.2, devices: [eth0], sources: 4}
              - {in: h1, routes: {to: 10.0.0.300/24}}
              - {in: h1, routes: {type: blackhole}, atLeast: 3, atMost: 1}
              - {in: h1, routes: {type: blackhole}, atLeast: 0}
              - {in: h1, rule: {dport: 99999, table: 100}}
              - {in: h1, rule: {fwmark: "0x1/zz"}}
              - {in: h1, routes: {protocol: birb}}
              - {in: h1, multipath: 10.0.0.2, devices: [eth0], mode: split, sender: h9}
            """
        do {
            _ = try Scenario.load(yaml: text, file: "r.yaml")
            Issue.record("loaded a broken file")
        } catch {
            let lines = error.problems.map { $0.line ?? 0 }
            #expect(lines == Array(7...22), "\(error)")
            let all = "\(error)"
            for want in ["r.yaml:7: expect[0].mark:", "r.yaml:8: expect[1].error: unknown error \"Oops\"",
                         "r.yaml:9: expect[2].dscp: dscp 70 is outside 0…63",
                         "r.yaml:10: expect[3].error: a lookup that fails answers no via, dev",
                         "r.yaml:11: expect[4].type: unknown type \"sideways\"",
                         "r.yaml:12: expect[5].prefsrc: not an IP address",
                         "r.yaml:13: expect[6].sports:", "r.yaml:14: expect[7].mode: unknown mode \"zigzag\"",
                         "r.yaml:15: expect[8].sources: more than one source needs the first one",
                         "r.yaml:16: expect[9].routes.to: not a prefix", "r.yaml:17: expect[10].atMost: atMost 1 is below atLeast 3",
                         "r.yaml:18: expect[11].atLeast: atLeast 0 without atMost checks nothing",
                         "r.yaml:19: expect[12].rule.dport:", "r.yaml:20: expect[13].rule.fwmark:",
                         "r.yaml:21: expect[14].routes.protocol: \"birb\" is not a route protocol",
                         "r.yaml:22: expect[15].sender: unknown node \"h9\""] {
                #expect(all.contains(want), "\(want) in \(all)")
            }
        }
    }

    @Test func theShortFormsAreTheSwiftValues() throws {
        let text = Self.head + """
              - {in: h1, route: 10.0.0.2, mark: "0x10", dscp: 4, ipproto: udp, dport: 53, error: EHOSTUNREACH}
              - {in: h1, route: 10.0.0.2, table: local, type: local}
              - {in: h1, routes: static}
              - {in: h1, routes: {to: default, protocol: 4}, count: 0}
              - {in: h1, multipath: 10.0.0.2, devices: [eth0], sports: "100-103"}
              - {in: h1, rule: {table: 100}}
            """
        let s = try Scenario.load(yaml: text, file: "r.yaml")
        #expect(s.expectations == [
            .route(in: "h1", RouteLookup("10.0.0.2", mark: 16, tos: 16, ipproto: 17, dport: 53, error: .noRouteToHost)),
            .route(in: "h1", RouteLookup("10.0.0.2", table: 255, type: .local)),
            .routes(in: "h1", protocol: "static", atLeast: 1),
            .routes(in: "h1", RouteFilter(to: "default", protocol: "static"), atLeast: 0, atMost: 0),
            .multipath(in: "h1", MultipathCheck(to: IPAddress("10.0.0.2")!, devices: ["eth0"], sports: 100...103)),
            .rule(in: "h1", from: nil, table: 100),
        ])
        #expect(try Scenario.load(yaml: s.yaml()) == s, "\(s.yaml())")
    }
}
