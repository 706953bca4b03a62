import Foundation
import NetnsKit
import NetnsTesting
import Testing
import XCTest

// A failed test's lab kept as a pinned lab (NETNSKIT_KEEP_FAILED=1, `keepOnFailure:`): the
// children below run in a process of their own, inside a private mount namespace whose
// /run/netns and /run/nslab are fresh tmpfs mounts, so no real lab is ever touched and
// whatever a child pins goes away with that namespace.

private var keepChild: String? { ProcessInfo.processInfo.environment["NK_KEEP_CHILD"] }
private let keepPair = Topology("keep") {
    Host("h1") { Address("10.77.0.1/24") }
    Host("h2") { Address("10.77.0.2/24") }
    Link("h1:eth0", "h2:eth0")
}

@Test(.enabled(if: keepChild == "variable"), .lab(keepPair)) func childKeptByTheVariable() async throws {
    #expect(Bool(false), "this child fails on purpose")
}

@Test(.enabled(if: keepChild == "option"), .lab(keepPair, keepOnFailure: true)) func childKeptByTheOption() async throws {
    _ = try #require(Lab.current)
    throw KeepChildError()
}

@Test(.enabled(if: keepChild == "passing"), .lab(keepPair, keepOnFailure: true)) func childPassesWithKeepSet() async throws {
    let lab = try #require(Lab.current)
    await lab["h1"].expectReachable("10.77.0.2")
}

private struct KeepChildError: Error {}

final class KeepChildXCTests: XCTestCase {
    func testChildKeptByMakeLab() throws {
        guard keepChild == "xctest" else { return }
        _ = try makeLab(keepPair, keepOnFailure: true)
        XCTFail("this child fails on purpose")
    }

    /// A failed assertion inside the closure: the closure returns normally, the test has failed.
    func testChildKeptByWithLab() async throws {
        guard keepChild == "withlab" else { return }
        try await withLab(keepPair, keepOnFailure: true) { lab in
            await XCTAssertReachable(lab["h1"], "10.77.9.9")
        }
    }

    func testChildWithLabThrows() async throws {
        guard keepChild == "withlab-throws" else { return }
        try await withLab(keepPair) { _ in throw KeepChildError() }
    }

    func testChildWithLabPasses() async throws {
        guard keepChild == "withlab-passing" else { return }
        try await withLab(keepPair, keepOnFailure: true) { lab in
            await XCTAssertReachable(lab["h1"], "10.77.0.2")
        }
    }
}

/// The `nslab` executable next to the test bundle.
private let nslab: String = {
    var dir = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/")
        .deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("nslab").path) {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("nslab").path
}()

/// What one child run left behind, seen from inside its private mount namespace.
private struct KeptRun {
    var sections: [String: String] = [:]
    var output: String
    subscript(_ name: String) -> String { sections[name] ?? "" }
    var lab: String { self["lab"].trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// Runs a child test in a private mount namespace, then, still inside it, looks at what the
/// child left: `/run/netns`, `nslab ls`, the address of h1 through `ip netns exec`, `nslab down`,
/// and what is left after it.
private func runKept(_ mode: String, filter: String, xctest: Bool = false, keepVariable: Bool,
                     netnsMount: String = "mode=0755") throws -> KeptRun {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let args = xctest ? "--testing-library xctest NetnsKitTests.KeepChildXCTests/\(filter)"
                      : "--testing-library swift-testing --filter \(filter)"
    let script = """
        mkdir -p -m 0700 /run/nslab && mkdir -p -m 0755 /run/netns \
          && mount -t tmpfs -o mode=0700 nkkeep /run/nslab && mount -t tmpfs -o \(netnsMount) nkkeep /run/netns || exit 90
        out=$(mktemp)
        "$0" \(args) >"$out" 2>&1; status=$?; echo "@@child-status"; echo $status
        echo "@@child"; cat "$out"; rm -f "$out"
        echo "@@netns"; ls -A /run/netns
        lab=$(ls -A /run/nslab | sed -n 's/\\.json$//p' | head -n 1)
        echo "@@lab"; echo "$lab"
        echo "@@ls"; "$1" ls
        if [ -n "$lab" ]; then
          echo "@@addr"; ip netns exec "$lab-h1" ip -j addr show dev eth0
          echo "@@down"; "$1" down "$lab" 2>&1; status=$?; echo "@@down-status"; echo $status
        fi
        echo "@@left"; ls -A /run/netns /run/nslab; echo "@@end"
        """
    var env = ["NK_KEEP_CHILD=\(mode)"]
    if keepVariable { env.append("NETNSKIT_KEEP_FAILED=1") }
    let r = try Spawner.runBlocking(["/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                                     "/bin/sh", "-c", script, exe, nslab], in: nil, environment: env, timeout: 180)
    var run = KeptRun(output: r.output)
    var current: String?
    for line in r.output.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("@@") { current = String(line.dropFirst(2)); run.sections[current!] = ""; continue }
        if let c = current { run.sections[c, default: ""] += line + "\n" }
    }
    return run
}

/// Checks that a failed child's lab was kept, is what nslab and ip see, and that `nslab down`
/// removes it, leaving nothing.
private func expectKept(_ r: KeptRun) {
    let out = "\(r.output.suffix(4000))"
    #expect(r["child-status"].hasPrefix("0") == false, "the child fails: \(out)")
    #expect(r.lab.hasPrefix("kf-"), "a state file kf-… was written: \(out)")
    #expect(Set(r["netns"].split(separator: "\n").map(String.init)) == ["\(r.lab)-h1", "\(r.lab)-h2"],
            "both namespaces are pinned: \(out)")
    #expect(r["child"].contains("── NetnsKit: kept the failed lab \(r.lab): nslab shell \(r.lab) h1, or ip netns exec \(r.lab)-h1 …; remove it with nslab down \(r.lab)"),
            "the child says how to enter it: \(out)")
    let ls = r["ls"].split(separator: "\n").filter { $0.hasPrefix(r.lab + " ") }
    #expect(ls.count == 1 && ls[0].contains(" up "), "nslab ls lists it as up: \(out)")
    #expect(r["addr"].contains("\"local\":\"10.77.0.1\""), "h1 keeps its address: \(out)")
    #expect(r["down-status"].hasPrefix("0"), "nslab down removes it: \(out)")
    #expect(r["left"].split(separator: "\n").allSatisfy { $0.hasSuffix(":") }, "nothing is left: \(out)")
    #expect(r["left"].contains("/run/netns:"), "nothing is left: \(out)")
}

@Suite(.netnsPrivileges, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs unshare"))
struct KeepFailedTests {
    @Test func theVariableKeepsAFailedLab() throws {
        expectKept(try runKept("variable", filter: "childKeptByTheVariable", keepVariable: true))
    }

    @Test func theOptionKeepsALabWhoseTestThrew() throws {
        expectKept(try runKept("option", filter: "childKeptByTheOption", keepVariable: false))
    }

    @Test func makeLabKeepsAFailedXCTestLab() throws {
        expectKept(try runKept("xctest", filter: "testChildKeptByMakeLab", xctest: true, keepVariable: false))
    }

    @Test func withLabKeepsAFailedLab() throws {
        let r = try runKept("withlab", filter: "testChildKeptByWithLab", xctest: true, keepVariable: false)
        expectKept(r)
        #expect(r["child"].contains("── NetnsKit: state of lab keep (the test failed: 1 failure(s))"), "\(r.output.suffix(3000))")
    }

    @Test func theVariableKeepsAWithLabWhoseBodyThrew() throws {
        expectKept(try runKept("withlab-throws", filter: "testChildWithLabThrows", xctest: true, keepVariable: true))
    }

    /// Without the option or the variable, withLab tears a failed lab down; a passing one goes too.
    @Test func withLabTearsDownOtherwise() throws {
        let thrown = try runKept("withlab-throws", filter: "testChildWithLabThrows", xctest: true, keepVariable: false)
        #expect(!thrown["child-status"].hasPrefix("0"), "\(thrown.output.suffix(3000))")
        #expect(thrown["netns"].isEmpty && thrown.lab.isEmpty, "\(thrown.output.suffix(3000))")
        let passed = try runKept("withlab-passing", filter: "testChildWithLabPasses", xctest: true, keepVariable: true)
        #expect(passed["child-status"].hasPrefix("0"), "the child passes: \(passed.output.suffix(3000))")
        #expect(passed["netns"].isEmpty && passed.lab.isEmpty, "\(passed.output.suffix(3000))")
        #expect(!passed["child"].contains("kept the failed lab") && !passed["child"].contains("state of lab"),
                "\(passed.output.suffix(3000))")
    }

    /// Without the variable or the option, a failed test's lab goes as before.
    @Test func aFailedLabGoesByDefault() throws {
        let r = try runKept("variable", filter: "childKeptByTheVariable", keepVariable: false)
        #expect(!r["child-status"].hasPrefix("0"), "\(r.output.suffix(3000))")
        #expect(r["netns"].isEmpty && r.lab.isEmpty, "\(r.output.suffix(3000))")
    }

    /// A lab that cannot be pinned (a read-only /run/netns) is torn down; the test still fails.
    @Test func aLabThatCannotBeKeptIsTornDown() throws {
        let r = try runKept("variable", filter: "childKeptByTheVariable", keepVariable: true, netnsMount: "ro,mode=0755")
        let out = "\(r.output.suffix(3000))"
        #expect(!r["child-status"].hasPrefix("0"), "the child still fails: \(out)")
        #expect(r["child"].contains("this child fails on purpose"), "its own failure is reported: \(out)")
        #expect(r["child"].contains("── NetnsKit: could not keep lab keep as kf-childkeptbytheva-1: ")
                && r["child"].contains("Read-only file system"), "why it was not kept: \(out)")
        #expect(r["netns"].isEmpty && r.lab.isEmpty, "no pin and no state file are left: \(out)")
        #expect(r["left"].split(separator: "\n").allSatisfy { $0.hasSuffix(":") }, "nothing is left: \(out)")
    }

    @Test func aPassingTestLeavesNothing() throws {
        let r = try runKept("passing", filter: "childPassesWithKeepSet", keepVariable: true)
        #expect(r["child-status"].hasPrefix("0"), "the child passes: \(r.output.suffix(3000))")
        #expect(r["netns"].isEmpty && r.lab.isEmpty, "\(r.output.suffix(3000))")
        #expect(!r["child"].contains("kept the failed lab"), "\(r.output.suffix(3000))")
    }
}
