import NetnsKit
import Testing

/// Swift Testing expectations about the kernel state of a node. Each records an issue at
/// the caller's line with what was expected, what the kernel says, and the node's state.
/// `within:` re-checks until the expectation holds or the time passes.
extension Node {
    private func record(_ e: LabExpectation, within: Double, _ loc: Testing.SourceLocation) async {
        guard let lab else {
            Issue.record(Comment(rawValue: "\(self) does not belong to a running lab"), sourceLocation: loc)
            return
        }
        if let f = await lab.verify(e, within: within) {
            FailureCounter.current?.increment()
            Issue.record(Comment(rawValue: f.description), sourceLocation: loc)
        }
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

    /// Expects a TCP connection from this node to `address:port` to be accepted (or not).
    public func expectTCP(_ address: String, port: UInt16, open: Bool = true, within: Double = 0,
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
            FailureCounter.current?.increment()
            Issue.record(Comment(rawValue: f.description), sourceLocation: sourceLocation)
        }
    }

    /// Expects every listed expectation to hold (a scenario's expectations, say).
    public func expect(_ expectations: [LabExpectation], within: Double = 0,
                       sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        for e in expectations {
            if let f = await verify(e, within: within) {
                FailureCounter.current?.increment()
                Issue.record(Comment(rawValue: f.description), sourceLocation: sourceLocation)
            }
        }
    }
}

extension Lab {
    /// Expects no thread to be left in this lab's namespaces but the namespace workers and
    /// the nodes' own event-loop or executor threads; names each stray thread at the caller's
    /// line (``threadAudit()``). The `.lab` trait runs the same audit after every test.
    public func expectNoStrayThreads(sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for f in threadAudit() {
            FailureCounter.current?.increment()
            Issue.record(Comment(rawValue: "thread audit: \(f)"), sourceLocation: sourceLocation)
        }
    }
}
