import Foundation
import NetnsKit
import Testing

extension Lab {
    /// The lab of the running test, set by the ``LabTrait`` (`@Test(.lab(topology))`).
    @TaskLocal public static var current: Lab?
}

/// Builds a fresh lab for each test (or one shared lab for a whole suite) and tears it down after.
///
/// ```swift
/// @Test(.lab(routed)) func forwards() async throws {
///     let lab = try #require(Lab.current)
///     await lab["h1"].expectReachable("10.0.2.2")
/// }
/// ```
/// On a `@Suite`, one lab is built before the suite's first test and torn down after its
/// last; its tests share it (so they should not change it). On a `@Test` (including a
/// parameterized one), every test case gets its own lab: tests that declare the same
/// node names run in parallel in separate namespaces.
///
/// After the test, and before the teardown, the trait audits the lab's threads: any thread
/// found in a node's namespace that is neither a namespace worker nor one of that node's own
/// event-loop or executor threads fails the test, by name (see `Lab.threadAudit()`).
/// Teardown problems become recorded issues. When the test fails in any way (it throws, one
/// of NetnsKit's expectations fails, or a plain `#expect`, `#require` or `Issue.record`
/// does), the state of every node is printed once, `captureOnFailure` keeps its captures,
/// and `keepOnFailure` (or `NETNSKIT_KEEP_FAILED=1`) keeps the lab itself as a pinned lab that
/// nslab knows instead of tearing it down.
/// The trait skips the test (with the reason) when the process cannot create namespaces or
/// the kernel lacks a feature the topology needs; `NETNSKIT_REQUIRE_PRIVILEGES=1` and
/// `NETNSKIT_REQUIRE_FEATURES=1` make those skips failures.
public struct LabTrait: TestTrait, SuiteTrait, TestScoping {
    /// The topology built for each test (or once for the suite).
    public let topology: Topology
    /// How the lab is built (see `LabOptions`).
    public let options: LabOptions
    /// Capture on every interface of every node while the test runs, and keep the captures
    /// (pcap files, with a state dump) only when the test fails.
    public var captureOnFailure = false
    /// When the test fails, keep its lab as a pinned lab (`ip netns`, `nslab ls`, `nslab shell`,
    /// `nslab down`) instead of tearing it down; `NETNSKIT_KEEP_FAILED=1` does so for every test.
    public var keepOnFailure = false
    /// Record every rtnetlink event of the lab (links, addresses, routes, neighbours, rules) while
    /// the test runs and, when it fails, save them as `events.jsonl` (with `timeline.txt`, the
    /// events and the lab's changes interleaved) in the failure directory;
    /// `NETNSKIT_RECORD_EVENTS=1` does so for every test. Off by default: it costs a socket per node.
    public var recordEvents = false
    /// `false`: on a suite, the trait builds one lab for the suite itself; its tests use that lab
    /// rather than each getting a trait of their own.
    public var isRecursive: Bool { false }

    /// Builds the lab, runs the test (or suite) with it as `Lab.current`, audits its threads and
    /// tears it down; on failure prints the lab's state once, keeps the captures and, with
    /// ``keepOnFailure``, keeps the lab pinned instead of tearing it down.
    /// Skips (or, when required, fails) the test when the machine cannot build the lab.
    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        // A test inside a suite that has the trait: use the suite's lab (already in scope).
        if !test.isSuite, testCase == nil, Lab.current != nil { try await function(); return }
        if let reason = NetnsTestEnvironment.missingPrivileges {
            try Self.skip(reason, .privileges)
            return
        }
        let lab: Lab
        do {
            lab = try await Lab.up(topology, options: options)
        } catch let e as BuildError where e.unsupportedFeature != nil {
            // The kernel lacks a feature the topology needs: this is a skip, not a pass.
            try Self.skip("this kernel has no \(e.unsupportedFeature!) support", .features)
            return
        }
        let failures = FailureCounter()
        let captures = captureOnFailure ? FailureCaptures.start(lab) : nil
        let recording = recordEvents || EventRecordingRequest.isRequested
        if recording {
            do { try lab.recordEvents() } catch {
                // Recording is a diagnostic: the test runs without it, and says why.
                print("── NetnsKit: cannot record the events of lab \(lab.name): \(error)")
            }
        }
        func saveFailure() {
            guard captures != nil || recording else { return }
            let dir = FailureCaptures.newDirectory(test: test.name)
            captures?.save(in: dir)
            if recording { FailureCaptures.saveEvents(of: lab, in: dir) }
        }
        // Every failing issue of the test, NetnsKit's or not, passes through this handler.
        let observer = IssueHandlingTrait.compactMapIssues { issue in
            if issue.isFailure { failures.increment() }
            return issue
        }
        do {
            try await Lab.$current.withValue(lab) {
                try await FailureCounter.$current.withValue(failures) {
                    try await observer.provideScope(for: test, testCase: testCase, performing: function)
                }
            }
        } catch {
            Self.recordThreadAudit(of: lab)
            Self.attachState(of: lab, because: "the test threw: \(error)")
            saveFailure()
            tearDown(lab, failed: true, test: test.name)
            throw error
        }
        if Self.recordThreadAudit(of: lab) { failures.increment() }
        if failures.count > 0 {
            Self.attachState(of: lab, because: "the test failed (\(failures.count) issue(s))")
            saveFailure()
        } else {
            captures?.discard()
        }
        tearDown(lab, failed: failures.count > 0, test: test.name)
    }

    /// Tears the lab down, or, when the test failed and `keepOnFailure` or `NETNSKIT_KEEP_FAILED`
    /// asks for it, keeps it as a pinned lab that nslab knows, and prints how to enter it.
    private func tearDown(_ lab: Lab, failed: Bool, test: String) {
        if failed && (keepOnFailure || KeepFailed.isRequested) {
            do {
                print(try lab.keepFailed(test: test).message)
            } catch {
                // The test has failed already; not keeping its lab is a second problem, not a new verdict.
                print("── NetnsKit: \(error)")
            }
            return
        }
        let report = lab.down()
        if !report.ok { LabIssue("teardown of lab \(lab.name): \(report)").record() }
    }

    /// Records an issue for every thread left in one of the lab's namespaces that is neither
    /// a namespace worker nor one of the node's own event-loop or executor threads
    /// (`Lab.threadAudit()`). Returns whether it found any.
    @discardableResult
    static func recordThreadAudit(of lab: Lab) -> Bool {
        let findings = lab.threadAudit()
        for f in findings { LabIssue("thread audit: \(f)").record() }
        return !findings.isEmpty
    }

    /// Skips the test with the reason, or fails it when the requirement is enforced
    /// (``NetnsTestEnvironment/Requirement/isRequired``).
    static func skip(_ reason: String, _ requirement: NetnsTestEnvironment.Requirement) throws {
        if requirement.isRequired {
            Issue.record(RequirementError(reason: reason, requirement: requirement))
            return
        }
        try Test.cancel(Comment(rawValue: "skipped: \(reason)"))
    }

    static func attachState(of lab: Lab, because why: String) {
        print("── NetnsKit: state of lab \(lab.name) (\(why))\n" + lab.stateDump())
    }
}

extension Trait where Self == LabTrait {
    /// A fresh lab built from `topology` for each test (or one for a whole suite).
    /// - Parameters:
    ///   - topology: the topology to build.
    ///   - mode: how the lab is built (`LabMode`); `.fixture` by default.
    ///   - captureOnFailure: capture every interface during the test and, when it fails,
    ///     save the captures as pcap files next to a state dump and print where.
    ///   - keepOnFailure: when the test fails, keep the lab as a pinned lab that
    ///     `nslab ls` lists and `nslab down` removes, and print how to enter it (as
    ///     `NETNSKIT_KEEP_FAILED=1` does for every test).
    ///   - recordEvents: record every rtnetlink event of the lab while the test runs and, when
    ///     it fails, save them as `events.jsonl` and `timeline.txt` (as `NETNSKIT_RECORD_EVENTS=1`
    ///     does for every test).
    public static func lab(_ topology: Topology, mode: LabMode = .fixture, captureOnFailure: Bool = false,
                           keepOnFailure: Bool = false, recordEvents: Bool = false) -> Self {
        var t = LabTrait(topology: topology, options: LabOptions(mode: mode))
        t.captureOnFailure = captureOnFailure
        t.keepOnFailure = keepOnFailure
        t.recordEvents = recordEvents
        return t
    }
}

/// The captures of a test that asked for `captureOnFailure`.
package final class FailureCaptures: @unchecked Sendable {
    private let lab: Lab
    private var running: [(node: String, ifname: String, capture: Capture)] = []

    private init(lab: Lab) { self.lab = lab }

    static func start(_ lab: Lab) -> FailureCaptures {
        let f = FailureCaptures(lab: lab)
        for node in lab.nodes {
            guard let ns = try? node.namespace, let links = try? node.links() else { continue }
            for l in links where l.name != "lo" {
                if let c = try? Capture.start(on: l.name, in: ns, maxPackets: 10_000) { f.running.append((node.name, l.name, c)) }
            }
        }
        return f
    }

    /// A directory for this task's failures, ahead of the environment: a test of the trait
    /// sets it here, since `setenv` while other tests spawn processes races their copy of the
    /// environment (Foundation's `Process.run` crashed in `memcpy` so).
    @TaskLocal package static var directoryOverride: String?

    /// The directory failures are saved in: `$NETNSKIT_FAILURE_DIR`, or `$TMPDIR/netnskit-failures`.
    static var directory: String {
        if let d = directoryOverride { return d }
        let env = ProcessInfo.processInfo.environment
        return env["NETNSKIT_FAILURE_DIR"] ?? ((env["TMPDIR"] ?? "/tmp") + "/netnskit-failures")
    }

    /// The directory for one failed test: `<dir>/<test>-<time>` (created when something is saved).
    static func newDirectory(test: String) -> String {
        let safe = String(test.map { $0.isLetter || $0.isNumber ? $0 : "-" })
        return "\(Self.directory)/\(safe)-\(Int(Date().timeIntervalSince1970 * 1000))"
    }

    /// Stops the lab's event recording and writes `events.jsonl` (one ``LabEvent`` per line),
    /// `timeline.txt` (events and the lab's changes interleaved by time) and `state.txt` in `dir`,
    /// and prints where.
    static func saveEvents(of lab: Lab, in dir: String) {
        let events = lab.stopRecordingEvents()
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try events.map { $0.jsonLine + "\n" }.joined().write(toFile: "\(dir)/events.jsonl", atomically: true, encoding: .utf8)
            try lab.timeline().write(toFile: "\(dir)/timeline.txt", atomically: true, encoding: .utf8)
            if !FileManager.default.fileExists(atPath: "\(dir)/state.txt") {
                try lab.stateDump().write(toFile: "\(dir)/state.txt", atomically: true, encoding: .utf8)
            }
            print("── NetnsKit: \(events.count) rtnetlink events of the failed test saved in \(dir)/events.jsonl "
                  + "(with the lab's \(lab.changes.count) changes interleaved in \(dir)/timeline.txt)")
        } catch {
            print("── NetnsKit: could not save the events of the failed test: \(error)")
        }
    }

    /// Writes `<dir>/<node>-<ifname>.pcap` and `state.txt`, and prints where.
    func save(in dir: String) {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (node, ifname, c) in running {
                try c.stop().writePcap(path: "\(dir)/\(node)-\(ifname).pcap")
            }
            try lab.stateDump().write(toFile: "\(dir)/state.txt", atomically: true, encoding: .utf8)
            print("── NetnsKit: captures and state of the failed test saved in \(dir)")
        } catch {
            print("── NetnsKit: could not save the captures of the failed test: \(error)")
        }
        running = []
    }

    func discard() {
        for r in running { _ = r.capture.stop() }
        running = []
    }
}

extension Trait where Self == ConditionTrait {
    /// Skips unless this process can build labs (root, a container with NET_ADMIN and SYS_ADMIN, or a user namespace).
    /// `NETNSKIT_REQUIRE_PRIVILEGES=1` makes the skip a failure with the reason.
    public static var netnsPrivileges: Self {
        let missing = NetnsTestEnvironment.missingPrivileges
        return .enabled(Comment(rawValue: missing ?? "can build labs")) {
            try NetnsTestEnvironment.permits(missing: missing, .privileges)
        }
    }

    /// Skips unless the kernel has this qdisc (`"netem"`, `"tbf"`, `"htb"`).
    /// `NETNSKIT_REQUIRE_FEATURES=1` makes the skip a failure.
    public static func kernelHas(qdisc kind: String) -> Self {
        feature(KernelFeatures.shared.qdisc(kind).supported, "this kernel has no \(kind) qdisc")
    }

    /// Skips unless bridges can filter VLANs. `NETNSKIT_REQUIRE_FEATURES=1` makes the skip a failure.
    public static var kernelHasBridgeVLANFiltering: Self {
        feature(KernelFeatures.shared.bridgeVLANFiltering().supported,
                "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)")
    }

    /// Skips unless the kernel can create links of this kind (`"vxlan"`, `"dummy"`, `"vlan"`, …).
    /// `NETNSKIT_REQUIRE_FEATURES=1` makes the skip a failure.
    public static func kernelHas(linkKind kind: String) -> Self {
        feature(KernelFeatures.shared.link(kind).supported, "this kernel has no \(kind) support")
    }

    /// A skip for a missing feature, or for missing privileges first (without them nothing is probed).
    private static func feature(_ supported: @autoclosure () -> Bool, _ what: String) -> Self {
        let missing = NetnsTestEnvironment.missing(feature: NetnsTestEnvironment.missingPrivileges == nil && supported(), what)
        return .enabled(Comment(rawValue: missing?.0 ?? what)) {
            try NetnsTestEnvironment.permits(missing: missing?.0, missing?.1 ?? .features)
        }
    }
}

/// Counts the failing issues of the current test (any kind), to decide on dumping state.
final class FailureCounter: @unchecked Sendable {
    @TaskLocal static var current: FailureCounter?
    private let lock = NSLockLite()
    private var n = 0
    var count: Int { lock.withLock { n } }
    func increment() { lock.withLock { n += 1 } }
}
