import NetnsKit
import Testing

/// Swift Testing expectations about the kernel state of a node. Each records an issue at
/// the caller's line with what was expected, what the kernel says, and the node's state.
/// `within:` re-checks until the expectation holds or the time passes.
extension Node {
    private func record(_ e: LabExpectation, within: Double, _ loc: Testing.SourceLocation) async {
        guard let lab else {
            LabIssue("\(self) does not belong to a running lab").record(at: loc)
            return
        }
        if let f = await lab.verify(e, within: within) { recordFailure(f, loc) }
    }

    /// Expects an ICMP echo from this node to `address` to be answered.
    public func expectReachable(_ address: String, within: Double = 0,
                                sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.reachable(from: name, to: address), within: within, sourceLocation)
    }

    /// Expects `address` to be unreachable from this node, for `reason` (`.any` by default).
    public func expectUnreachable(_ address: String, reason: UnreachableReason = .any, within: Double = 0,
                                  sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.unreachable(from: name, to: address, reason: reason), within: within, sourceLocation)
    }

    /// Expects a TCP connection from this node to `address:port` to be accepted by the server
    /// the test runs there (or not). Nothing is started for the check: a dead server fails.
    public func expectTCP(_ address: String, port: UInt16, open: Bool = true, within: Double = 0,
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.tcpConnect(from: name, to: address, port: port, open: open), within: within, sourceLocation)
    }

    /// Expects TCP from this node to `address:port` to get through the network (or be blocked):
    /// a path check that starts an echo listener on the node owning `address` for the check
    /// (unless something there already listens). It proves nothing about the test's own server.
    public func expectTCPPath(_ address: String, port: UInt16, open: Bool = true, within: Double = 0,
                              sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.tcp(from: name, to: address, port: port, open: open), within: within, sourceLocation)
    }

    /// Expects `ip route get ADDRESS [from F]` in this node to go via `via` and/or out of `dev`.
    public func expectRoute(to address: String, from: String? = nil, iif: String? = nil, via: String? = nil,
                            dev: String? = nil, within: Double = 0,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.route(in: name, to: address, from: from, iif: iif, via: via, dev: dev), within: within, sourceLocation)
    }

    /// Expects a link to be up (or down), optionally with an MTU.
    public func expectLink(_ ifname: String, up: Bool = true, mtu: Int? = nil, within: Double = 0,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.link(in: name, name: ifname, up: up, mtu: mtu), within: within, sourceLocation)
    }

    /// Expects a sysctl of this node to have a value.
    public func expectSysctl(_ key: String, _ value: String, within: Double = 0,
                             sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.sysctl(in: name, key: key, value: value), within: within, sourceLocation)
    }

    /// Expects an interface's counters to have reached at least these packet counts.
    public func expectCounters(_ ifname: String, rxPackets: UInt64 = 0, txPackets: UInt64 = 0, within: Double = 0,
                               sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.counters(in: name, name: ifname, minRxPackets: rxPackets, minTxPackets: txPackets),
                     within: within, sourceLocation)
    }
}

extension Node {
    /// Expects an address on an interface, usable (not tentative).
    public func expectAddress(_ prefix: String, on ifname: String, within: Double = 0,
                              sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.address(in: name, prefix: prefix, on: ifname), within: within, sourceLocation)
    }

    /// Expects a link to be a port of `master` (nil: of no master).
    public func expectMaster(_ ifname: String, _ master: String?, within: Double = 0,
                             sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.master(in: name, name: ifname, master: master), within: within, sourceLocation)
    }

    /// Expects a policy rule from `from` (nil: all) that looks up `table`.
    public func expectRule(from: String?, table: UInt32, priority: UInt32? = nil, within: Double = 0,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.rule(in: name, from: from, table: table, priority: priority), within: within, sourceLocation)
    }

    /// Expects the neighbour entry of `address` to be in one of `states` (e.g. `["REACHABLE", "STALE"]`).
    public func expectNeighbor(_ address: String, states: [String], within: Double = 0,
                               sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await record(.neighbor(in: name, address: address, states: states), within: within, sourceLocation)
    }
}

extension Lab {
    /// Expects every pair of the matrix to be reachable (true) or not (false); on failure the
    /// issue shows the expected and the observed tables.
    public func expectReachability(_ expected: [String: [String: Bool]],
                                   sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        if let f = await verifyReachability(expected) {
            // The tables span lines: the headline names the first pair that differs, the tables follow.
            let pairs = f.observed.split(separator: "\n").filter { $0.contains(": expected ") }
            let more = pairs.count > 1 ? " (and \(pairs.count - 1) more)" : ""
            LabIssue(headline: "reachability matrix differs: " + (pairs.first.map(String.init) ?? "see the tables") + more,
                     details: f.description).record(at: sourceLocation)
        }
    }

    /// Expects every listed expectation to hold (a scenario's expectations, say).
    public func expect(_ expectations: [LabExpectation], within: Double = 0,
                       sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        for e in expectations {
            if let f = await verify(e, within: within) { recordFailure(f, sourceLocation) }
        }
    }
}

extension Lab {
    /// Expects no thread to be left in this lab's namespaces but the namespace workers and
    /// the nodes' own event-loop or executor threads; names each stray thread at the caller's
    /// line (`threadAudit()`). The `.lab` trait runs the same audit after every test.
    public func expectNoStrayThreads(sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for f in threadAudit() {
            LabIssue("thread audit: \(f)").record(at: sourceLocation)
        }
    }
}

/// A failed NetnsKit check as a Swift Testing issue. Its description is the issue's headline,
/// one line with the expectation and the observation, so `swift test` prints
/// `Caught error: h1 reaches 10.0.2.2 — observed: …` and the details (the path hop by hop,
/// the tables of a reachability matrix, a node's state) as the issue's comment below it.
///
/// A known-issue test reads the headline as `issue.error` and the details as `issue.comments`.
public struct LabIssue: Error, Sendable, CustomStringConvertible {
    /// One line: what was expected and what the kernel did instead.
    public var headline: String
    /// The lines under the headline, or empty.
    public var details: String

    /// The headline and its details.
    public init(headline: String, details: String = "") {
        self.headline = headline
        self.details = details
    }

    /// A text's first line as the headline and the rest as details.
    public init(_ text: String) {
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        self.init(headline: String(parts[0]), details: parts.count > 1 ? String(parts[1]) : "")
    }

    /// The headline.
    public var description: String { headline }

    /// The headline, then the details on the following lines (an XCTest failure's message).
    var message: String { details.isEmpty ? headline : headline + "\n" + details }

    /// Records this as an issue at `location`, with the details as its comment.
    func record(at location: Testing.SourceLocation = #_sourceLocation) {
        Issue.record(self, details.isEmpty ? nil : Comment(rawValue: details), sourceLocation: location)
    }

    /// The issue of a failed expectation: the headline, then the path hop by hop (a path
    /// check) and, when `withState`, the node's state.
    init(_ f: ExpectationFailure, withState: Bool) {
        var details: [String] = []
        if !f.explanation.isEmpty {
            details.append("why, hop by hop:\n" + f.explanation.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))
        }
        if withState && !f.state.isEmpty { details.append("kernel state:\n" + f.state) }
        let headline = LabIssue(f.headline)
        if !headline.details.isEmpty { details.insert(headline.details, at: 0) }
        self.init(headline: headline.headline, details: details.joined(separator: "\n"))
    }
}

/// Records a failed expectation with the expectation and the observation as the issue's headline.
/// Under the ``LabTrait`` the lab's state is printed once when the test ends; elsewhere the node's
/// state follows in the issue's details.
func recordFailure(_ f: ExpectationFailure, _ location: Testing.SourceLocation) {
    LabIssue(f, withState: FailureCounter.current == nil).record(at: location)
}
