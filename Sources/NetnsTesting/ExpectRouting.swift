import NetnsKit
import Testing
import XCTest

// The routing expectations (route lookups, route listings, multipath, rules) as Swift Testing
// `expect…` helpers and XCTest assertions, next to the others in Expect.swift and XCTestSupport.swift.

extension Node {
    private func recordRouting(_ e: LabExpectation, within: Double, _ loc: Testing.SourceLocation) async {
        guard let lab else {
            LabIssue("\(self) does not belong to a running lab").record(at: loc)
            return
        }
        if let f = await lab.verify(e, within: within) { recordFailure(f, loc) }
    }

    /// Expects a route lookup (`ip route get` with any selector) in this node to answer the
    /// lookup's expected fields or error; a failure lists the fields that differ.
    ///
    /// ```swift
    /// await lab["edge"].expectRoute(RouteLookup("10.0.9.9", mark: 0x1, dev: "eth1", table: 100))
    /// await lab["h1"].expectRoute(RouteLookup("10.9.0.1", error: .noRouteToHost))
    /// ```
    public func expectRoute(_ lookup: RouteLookup, within: Double = 0,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordRouting(.route(in: name, lookup), within: within, sourceLocation)
    }

    /// Expects the routes of a table matching `filter` to number at least `atLeast` (1: such a
    /// route exists) and at most `atMost` (0: no such route).
    public func expectRoutes(_ filter: RouteFilter, atLeast: Int = 1, atMost: Int? = nil, within: Double = 0,
                             sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordRouting(.routes(in: name, filter, atLeast: atLeast, atMost: atMost), within: within, sourceLocation)
    }

    /// Expects multipath flows from this node to spread, stay stable, or split real traffic (`MultipathCheck.Mode`).
    public func expectMultipath(_ check: MultipathCheck, within: Double = 0,
                                sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordRouting(.multipath(in: name, check), within: within, sourceLocation)
    }

    /// Expects a policy rule with exactly these selectors and this action (priority when given);
    /// a failure shows the closest rule field by field.
    public func expectRule(_ rule: Rule, within: Double = 0,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordRouting(.rule(in: name, rule), within: within, sourceLocation)
    }
}

/// Fails unless the route lookup in `node` answers the lookup's expected fields or error.
public func XCTAssertRoute(_ node: Node, _ lookup: RouteLookup, within: Double = 0,
                           file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .route(in: node.name, lookup), within: within, file: file, line: line)
}

/// Fails unless `node` has a policy rule with exactly these selectors and this action.
public func XCTAssertRule(_ node: Node, _ rule: Rule, within: Double = 0,
                          file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .rule(in: node.name, rule), within: within, file: file, line: line)
}

/// Fails unless the routes of `node` matching `filter` number between `atLeast` and `atMost`.
public func XCTAssertRoutes(_ node: Node, _ filter: RouteFilter, atLeast: Int = 1, atMost: Int? = nil, within: Double = 0,
                            file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .routes(in: node.name, filter, atLeast: atLeast, atMost: atMost), within: within,
                               file: file, line: line)
}

/// Fails unless the multipath check from `node` holds.
public func XCTAssertMultipath(_ node: Node, _ check: MultipathCheck, within: Double = 0,
                               file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .multipath(in: node.name, check), within: within, file: file, line: line)
}
