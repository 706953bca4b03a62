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
/// event-loop or executor threads fails the test, by name (see ``Lab/threadAudit()``).
/// Teardown problems become recorded issues. When the test throws or one of NetnsKit's
/// expectations fails, the state of every node is attached to the test's output.
/// The trait skips the test (with the reason) when the process cannot create namespaces.
public struct LabTrait: TestTrait, SuiteTrait, TestScoping {
    public let topology: Topology
    public let options: LabOptions
    /// Capture on every interface of every node while the test runs, and keep the captures
    /// (pcap files, with a state dump) only when the test fails.
    public var captureOnFailure = false
    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        // A test inside a suite that has the trait: use the suite's lab (already in scope).
        if !test.isSuite, testCase == nil, Lab.current != nil { try await function(); return }
        if let reason = NetnsTestEnvironment.missingPrivileges {
            try Test.cancel(Comment(rawValue: "skipped: \(reason)"))
            return
        }
        let lab: Lab
        do {
            lab = try await Lab.up(topology, options: options)
        } catch let e as BuildError where e.unsupportedFeature != nil {
            // The kernel lacks a feature the topology needs: this is a skip, not a pass.
            try Test.cancel("this kernel has no \(e.unsupportedFeature!) support")
            return
        }
        let failures = FailureCounter()
        let captures = captureOnFailure ? FailureCaptures.start(lab) : nil
        do {
            try await Lab.$current.withValue(lab) {
                try await FailureCounter.$current.withValue(failures) { try await function() }
            }
        } catch {
            Self.recordThreadAudit(of: lab)
            Self.attachState(of: lab, because: "the test threw: \(error)")
            captures?.save(test: test.name)
            let report = lab.down()
            if !report.ok { Issue.record(Comment(rawValue: "teardown of lab \(lab.name): \(report)")) }
            throw error
        }
        if Self.recordThreadAudit(of: lab) { failures.increment() }
        if failures.count > 0 {
            Self.attachState(of: lab, because: "\(failures.count) NetnsKit expectation(s) failed")
            captures?.save(test: test.name)
        } else {
            captures?.discard()
        }
        let report = lab.down()
        if !report.ok { Issue.record(Comment(rawValue: "teardown of lab \(lab.name): \(report)")) }
    }

    /// Records an issue for every thread left in one of the lab's namespaces that is neither
    /// a namespace worker nor one of the node's own event-loop or executor threads
    /// (``Lab/threadAudit()``). Returns whether it found any.
    @discardableResult
    static func recordThreadAudit(of lab: Lab) -> Bool {
        let findings = lab.threadAudit()
        for f in findings { Issue.record(Comment(rawValue: "thread audit: \(f)")) }
        return !findings.isEmpty
    }

    static func attachState(of lab: Lab, because why: String) {
        print("── NetnsKit: state of lab \(lab.name) (\(why))\n" + lab.stateDump())
    }
}

extension Trait where Self == LabTrait {
    /// A fresh lab built from `topology` for each test (or one for a whole suite).
    /// - Parameter captureOnFailure: capture every interface during the test and, when it fails,
    ///   save the captures as pcap files next to a state dump and print where.
    public static func lab(_ topology: Topology, mode: LabMode = .fixture, captureOnFailure: Bool = false) -> Self {
        var t = LabTrait(topology: topology, options: LabOptions(mode: mode))
        t.captureOnFailure = captureOnFailure
        return t
    }
}

/// The captures of a test that asked for `captureOnFailure`.
final class FailureCaptures: @unchecked Sendable {
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

    /// The directory failures are saved in: `$NETNSKIT_FAILURE_DIR`, or `$TMPDIR/netnskit-failures`.
    static var directory: String {
        let env = ProcessInfo.processInfo.environment
        return env["NETNSKIT_FAILURE_DIR"] ?? ((env["TMPDIR"] ?? "/tmp") + "/netnskit-failures")
    }

    /// Writes `<dir>/<test>-<time>/<node>-<ifname>.pcap` and `state.txt`, and prints where.
    func save(test: String) {
        let safe = String(test.map { $0.isLetter || $0.isNumber ? $0 : "-" })
        let dir = "\(Self.directory)/\(safe)-\(Int(Date().timeIntervalSince1970 * 1000))"
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
    public static var netnsPrivileges: Self {
        .enabled(if: NetnsTestEnvironment.missingPrivileges == nil,
                 Comment(rawValue: NetnsTestEnvironment.missingPrivileges ?? "can build labs"))
    }

    /// Skips unless the kernel has this qdisc (`"netem"`, `"tbf"`, `"htb"`).
    public static func kernelHas(qdisc kind: String) -> Self {
        .enabled(if: NetnsTestEnvironment.kernelHas(qdisc: kind), Comment(rawValue: "this kernel has no \(kind) qdisc"))
    }

    /// Skips unless bridges can filter VLANs.
    public static var kernelHasBridgeVLANFiltering: Self {
        .enabled(if: NetnsTestEnvironment.kernelHasBridgeVLANFiltering,
                 Comment(rawValue: "this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)"))
    }

    /// Skips unless the kernel can create links of this kind (`"vxlan"`, `"dummy"`, `"vlan"`, …).
    public static func kernelHas(linkKind kind: String) -> Self {
        .enabled(if: NetnsTestEnvironment.kernelHas(linkKind: kind),
                 Comment(rawValue: "this kernel has no \(kind) support"))
    }
}

/// Counts NetnsKit expectation failures in the current test, to decide on dumping state.
final class FailureCounter: @unchecked Sendable {
    @TaskLocal static var current: FailureCounter?
    private let lock = NSLockLite()
    private var n = 0
    var count: Int { lock.withLock { n } }
    func increment() { lock.withLock { n += 1 } }
}
