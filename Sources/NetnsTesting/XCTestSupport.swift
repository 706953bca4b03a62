import NetnsKit
import XCTest

/// Builds a lab, runs `body` with it, and tears it down (even when `body` throws).
/// Teardown problems fail the test at the caller's line.
public func withLab<T>(_ topology: Topology, mode: LabMode = .fixture, file: StaticString = #filePath, line: UInt = #line,
                       _ body: (Lab) async throws -> T) async throws -> T {
    let lab = try await Lab.up(topology, options: LabOptions(mode: mode))
    do {
        let r = try await body(lab)
        for f in lab.threadAudit() { XCTFail("thread audit: \(f)", file: file, line: line) }
        let report = lab.down()
        if !report.ok { XCTFail("teardown of lab \(lab.name): \(report)", file: file, line: line) }
        return r
    } catch {
        print("── NetnsKit: state of lab \(lab.name) (the test threw: \(error))\n" + lab.stateDump())
        lab.down()
        throw error
    }
}

extension XCTestCase {
    /// Builds a lab that is torn down in this test's tearDown; skips the test when the
    /// process cannot build labs.
    public func makeLab(_ topology: Topology, mode: LabMode = .fixture, file: StaticString = #filePath,
                        line: UInt = #line) throws -> Lab {
        if let reason = NetnsTestEnvironment.missingPrivileges { throw XCTSkip(reason) }
        let lab = try Lab.up(topology, options: LabOptions(mode: mode))
        addTeardownBlock {
            for f in lab.threadAudit() { XCTFail("thread audit: \(f)", file: file, line: line) }
            let report = lab.down()
            if !report.ok { XCTFail("teardown of lab \(lab.name): \(report)", file: file, line: line) }
        }
        return lab
    }
}

/// Fails the test at the caller's line unless the expectation holds (within `within` seconds).
public func XCTAssertExpectation(_ lab: Lab, _ e: LabExpectation, within: Double = 0,
                                 file: StaticString = #filePath, line: UInt = #line) async {
    if let f = await lab.verify(e, within: within) { XCTFail(f.description, file: file, line: line) }
}

/// Fails unless `address` answers ICMP echo from `node`.
public func XCTAssertReachable(_ node: Node, _ address: String, within: Double = 0,
                               file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .reachable(from: node.name, to: address), within: within, file: file, line: line)
}

/// Fails unless `address` is unreachable from `node` (for `reason`).
public func XCTAssertUnreachable(_ node: Node, _ address: String, reason: UnreachableReason = .any,
                                 file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .unreachable(from: node.name, to: address, reason: reason), file: file, line: line)
}

/// Fails unless the route lookup in `node` goes via `via` / out of `dev`.
public func XCTAssertRoute(_ node: Node, to address: String, via: String? = nil, dev: String? = nil,
                           file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .route(in: node.name, to: address, via: via, dev: dev), file: file, line: line)
}
