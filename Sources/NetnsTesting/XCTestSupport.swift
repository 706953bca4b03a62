import NetnsKit
import XCTest

/// Builds a lab, runs `body` with it, and tears it down (even when `body` throws).
///
/// When the test fails while `body` runs (it throws, or an `XCTAssert…`/`XCTFail` fails), the
/// lab's state is printed once; with `keepOnFailure` (or `NETNSKIT_KEEP_FAILED=1`) the lab is then
/// kept as a pinned lab that `nslab ls` lists and `nslab down` removes, and how to enter it is
/// printed, as ``XCTest/XCTestCase/makeLab(_:mode:keepOnFailure:file:line:)`` does.
/// Teardown problems fail the test at the caller's line. Skips (`XCTSkip`, at the caller's
/// line) when the process cannot build labs or the kernel lacks a feature the topology needs;
/// `NETNSKIT_REQUIRE_PRIVILEGES=1` / `NETNSKIT_REQUIRE_FEATURES=1` make those skips failures.
/// - Parameters:
///   - topology: the topology to build.
///   - mode: how the lab is built (`LabMode`); `.fixture` by default.
///   - keepOnFailure: keep the lab of a failed test as a pinned lab instead of tearing it down.
///   - test: the name the kept lab is named after (`kf-<test>-<n>`); the calling function's by default.
///   - file: the file a skip or a failure points at; the caller's by default.
///   - line: the line a skip or a failure points at; the caller's by default.
///   - body: the test's work with the lab.
/// - Returns: what `body` returns.
public func withLab<T>(_ topology: Topology, mode: LabMode = .fixture, keepOnFailure: Bool = false,
                       test: String = #function, file: StaticString = #filePath, line: UInt = #line,
                       _ body: (Lab) async throws -> T) async throws -> T {
    let lab = try await upOrSkip(topology, mode: mode, file: file, line: line)
    let failuresBefore = XCTestFailures.shared.count
    ManagedLabs.add(lab)
    defer { ManagedLabs.remove(lab) }
    let outcome: Result<T, any Error>
    do { outcome = .success(try await body(lab)) } catch { outcome = .failure(error) }
    for f in lab.threadAudit() { XCTFail("thread audit: \(f)", file: file, line: line) }
    let failures = XCTestFailures.shared.count - failuresBefore
    var why: String?
    if case .failure(let error) = outcome { why = "the test threw: \(error)" }
    else if failures > 0 { why = "the test failed: \(failures) failure(s)" }
    if let why {
        print("── NetnsKit: state of lab \(lab.name) (\(why))\n" + lab.stateDump())
        if keepOnFailure || KeepFailed.isRequested {
            do { print(try lab.keepFailed(test: test).message) } catch { print("── NetnsKit: \(error)") }
            return try outcome.get()
        }
    }
    let report = lab.down()
    if !report.ok, case .success = outcome { XCTFail("teardown of lab \(lab.name): \(report)", file: file, line: line) }
    return try outcome.get()
}

/// Counts the XCTest failures of this process (`XCTFail`, a failed `XCTAssert…`, a thrown
/// error), so ``withLab(_:mode:keepOnFailure:test:file:line:_:)`` knows whether its test failed
/// while its body ran. XCTest runs one test at a time.
private final class XCTestFailures: NSObject, XCTestObservation, @unchecked Sendable {
    static let shared: XCTestFailures = {
        let o = XCTestFailures()
        XCTestObservationCenter.shared.addTestObserver(o)
        return o
    }()
    private let lock = NSLockLite()
    private var n = 0
    var count: Int { lock.withLock { n } }

    func testCase(_ testCase: XCTestCase, didFailWithDescription description: String, inFile filePath: String?,
                  atLine lineNumber: Int) {
        lock.withLock { n += 1 }
    }
}

/// The labs of `makeLab` and `withLab`, which print their state once when the test fails, so a
/// failed `XCTAssert…` on them does not repeat it.
enum ManagedLabs {
    private static let lock = NSLockLite()
    nonisolated(unsafe) private static var labs: Set<ObjectIdentifier> = []
    static func add(_ lab: Lab) { _ = lock.withLock { labs.insert(ObjectIdentifier(lab)) } }
    static func remove(_ lab: Lab) { _ = lock.withLock { labs.remove(ObjectIdentifier(lab)) } }
    static func contains(_ lab: Lab) -> Bool { lock.withLock { labs.contains(ObjectIdentifier(lab)) } }
}

/// Builds the lab, or throws the skip (or, when the requirement is enforced, fails the test
/// and throws ``RequirementError``), pointing at the caller's line.
private func upOrSkip(_ topology: Topology, mode: LabMode, file: StaticString, line: UInt) async throws -> Lab {
    if let reason = NetnsTestEnvironment.missingPrivileges { throw skip(reason, .privileges, file, line) }
    do {
        return try await Lab.up(topology, options: LabOptions(mode: mode))
    } catch let e as BuildError where e.unsupportedFeature != nil {
        throw skip("this kernel has no \(e.unsupportedFeature!) support", .features, file, line)
    }
}

/// ``upOrSkip(_:mode:file:line:)`` for a synchronous test.
private func upOrSkipBlocking(_ topology: Topology, mode: LabMode, file: StaticString, line: UInt) throws -> Lab {
    if let reason = NetnsTestEnvironment.missingPrivileges { throw skip(reason, .privileges, file, line) }
    do {
        return try Lab.up(topology, options: LabOptions(mode: mode))
    } catch let e as BuildError where e.unsupportedFeature != nil {
        throw skip("this kernel has no \(e.unsupportedFeature!) support", .features, file, line)
    }
}

private func skip(_ reason: String, _ requirement: NetnsTestEnvironment.Requirement,
                  _ file: StaticString, _ line: UInt) -> any Error {
    guard requirement.isRequired else { return XCTSkip(reason, file: file, line: line) }
    let e = RequirementError(reason: reason, requirement: requirement)
    XCTFail(e.description, file: file, line: line)
    return e
}

extension XCTestCase {
    /// Builds a lab that is torn down in this test's tearDown; skips the test (at the caller's
    /// line) when the process cannot build labs or the kernel lacks a feature the topology
    /// needs (failures with `NETNSKIT_REQUIRE_PRIVILEGES=1` / `NETNSKIT_REQUIRE_FEATURES=1`).
    /// When the test fails in any way, the lab's state is printed once before the teardown;
    /// with `keepOnFailure` (or `NETNSKIT_KEEP_FAILED=1`) the lab is then kept as a pinned lab
    /// that `nslab ls` lists and `nslab down` removes, and how to enter it is printed.
    public func makeLab(_ topology: Topology, mode: LabMode = .fixture, keepOnFailure: Bool = false,
                        file: StaticString = #filePath, line: UInt = #line) throws -> Lab {
        let lab = try upOrSkipBlocking(topology, mode: mode, file: file, line: line)
        ManagedLabs.add(lab)
        addTeardownBlock { [weak self] in
            defer { ManagedLabs.remove(lab) }
            for f in lab.threadAudit() { XCTFail("thread audit: \(f)", file: file, line: line) }
            if let run = self?.testRun, !run.hasSucceeded {
                print("── NetnsKit: state of lab \(lab.name) (the test failed: \(run.totalFailureCount) failure(s))\n"
                    + lab.stateDump())
                if keepOnFailure || KeepFailed.isRequested {
                    do { print(try lab.keepFailed(test: run.test.name).message) } catch { print("── NetnsKit: \(error)") }
                    return
                }
            }
            let report = lab.down()
            if !report.ok { XCTFail("teardown of lab \(lab.name): \(report)", file: file, line: line) }
        }
        return lab
    }
}

/// Fails the test at the caller's line unless the expectation holds (within `within` seconds).
///
/// The failure's first line is the expectation and the observation (`h1 reaches 10.0.2.2 —
/// observed: …`), then the path hop by hop for a path check, then the node's state unless the lab
/// came from `makeLab` or `withLab` (which print the whole lab's state once when the test fails).
public func XCTAssertExpectation(_ lab: Lab, _ e: LabExpectation, within: Double = 0,
                                 file: StaticString = #filePath, line: UInt = #line) async {
    if let f = await lab.verify(e, within: within) {
        XCTFail(LabIssue(f, withState: !ManagedLabs.contains(lab)).message, file: file, line: line)
    }
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
