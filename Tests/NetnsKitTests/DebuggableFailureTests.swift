import Foundation
import Synchronization
import NetnsKit
import NetnsTesting
import Testing
import XCTest

// Issue 18, library and testing-library side: each test here failed before its fix.

// MARK: Readiness

/// Two hundred hosts on one bridge: right after `up`, every bridge port forwards, every host end
/// has carrier, and a single ping with a short timeout gets through from several hosts.
@Test(.netnsPrivileges) func aLargeStarIsReadyWhenUpReturns() async throws {
    let n = 200
    let star = Topology("star200") {
        Switch("sw")
        for i in 1...n {
            Host("h\(i)") { Address("10.61.\(i / 200).\(i % 200 + 1)/16") }
            Link("h\(i)", "sw")
        }
    }
    let lab = try await Lab.up(star)
    defer { lab.down() }
    // Read before any probe: the state the build left, as `bridge -j link` prints it.
    let sw = try lab["sw"].namespace
    let bridgeLinks = try Spawner.runBlocking(["bridge", "-j", "link", "show"], in: sw).output
    let ports = try #require(try JSONSerialization.jsonObject(with: Data(bridgeLinks.utf8)) as? [[String: Any]])
    #expect(ports.count == n)
    let notForwarding = ports.filter { ($0["state"] as? String) != "forwarding" }.map { "\($0["ifname"] ?? "?"): \($0["state"] ?? "?")" }
    #expect(notForwarding.isEmpty, "bridge ports not forwarding after up: \(notForwarding)")
    for i in [1, 17, 33, 60, 120, 200] {
        let links = try Spawner.runBlocking(["ip", "-j", "link", "show", "eth0"], in: try lab["h\(i)"].namespace).output
        #expect(links.contains("\"LOWER_UP\""), "h\(i) eth0 without carrier after up: \(links)")
    }
    // Immediately, one ping each, 300 ms: a port still disabled or a missing carrier loses it.
    for (from, to) in [(1, 200), (17, 2), (33, 148), (160, 5), (199, 21), (77, 130)] {
        let r = try await ping("10.61.\(to / 200).\(to % 200 + 1)", in: try lab["h\(from)"].namespace, count: 1, timeout: 0.3)
        #expect(r.succeeded, "h\(from) → h\(to) right after up: \(r.failure.map { "\($0)" } ?? "?")")
    }
}

/// Where a node runs DAD (`accept_dad` 1), `up` returns once its IPv6 addresses have left tentative.
@Test(.netnsPrivileges) func ipv6AddressesAreNotTentativeWhenUpReturns() async throws {
    let dad = Topology("dad") {
        Host("a") { Address("fd61::1/64"); Sysctl("net.ipv6.conf.all.accept_dad", "1"); Sysctl("net.ipv6.conf.default.accept_dad", "1") }
        Host("b") { Address("fd61::2/64"); Sysctl("net.ipv6.conf.all.accept_dad", "1"); Sysctl("net.ipv6.conf.default.accept_dad", "1") }
        Link("a:eth0", "b:eth0")
    }
    let lab = try await Lab.up(dad)
    defer { lab.down() }
    for node in ["a", "b"] {
        let out = try Spawner.runBlocking(["ip", "-j", "-6", "addr", "show", "dev", "eth0"], in: try lab[node].namespace).output
        #expect(out.contains("fd61::"), "\(node): \(out)")
        #expect(!out.contains("\"tentative\":true"), "\(node) still has a tentative address after up: \(out)")
    }
}

// MARK: The most telling observation

/// r1 answers the first probe with "net unreachable" and then falls silent, the way its ICMP
/// rate limit silences it, but by count rather than by time: an nftables quota on r1's output
/// lets one ICMP error (about 112 bytes) through and drops the rest. (A blackhole route added
/// 300 ms in did the same by time, but under a loaded suite the route came late.)
private let deadEnd = Topology("deadend") {
    Host("h1") { Address("10.62.1.2/24"); Route(.default, via: "10.62.1.1") }
    Router("r1") {
        Firewall("table ip nkquiet { chain out { type filter hook output priority 0; icmp type destination-unreachable quota over 150 bytes drop; }; }")
    }
    Link("h1:eth0", "r1:eth0", bAddress: "10.62.1.1/24")
}

/// Re-checked for up to 30 seconds (and at least twice: `verify` re-checks even when one check
/// took longer than the window on a loaded machine), the report keeps r1's "net unreachable"
/// over the later timeouts.
@Test(.lab(deadEnd)) func aRepeatedCheckReportsTheICMPErrorOverLaterTimeouts() async throws {
    let lab = try #require(Lab.current)
    // Long enough for several checks (two seconds each when silent) on a loaded machine.
    let f = try #require(await lab.verify(.reachable(from: "h1", to: "10.62.9.9"), within: 30))
    #expect(f.observed.hasPrefix("destination unreachable: net unreachable (code 0) from 10.62.1.1"), "\(f.observed)")
    #expect(f.observed.contains("later attempts: timeout (no reply)"), "\(f.observed)")
}

private let localnet = Topology("localnet") {
    Host("a") { Address("10.63.0.1/24") }
    Host("b") { Address("10.63.0.2/24") }
    Link("a:eth0", "b:eth0")
}

/// `EINVAL` from a local send names what the routes say: a loopback destination sent out of
/// eth0 is a `route_localnet` refusal, not a blackhole; a blackhole route still is one.
@Test(.lab(localnet)) func invalidSendNamesTheRouteFound() async throws {
    let lab = try #require(Lab.current)
    let a = lab["a"]
    // 127.25/16 on eth0: its connected route is longer than the local table's 127/8, so
    // 127.25.3.14 leaves through eth0, which the kernel refuses while route_localnet is 0.
    _ = try a.runBlocking(["ip", "addr", "add", "127.25.3.1/16", "dev", "eth0"])
    let loop = try await ping("127.25.3.14", in: try a.namespace, count: 1, timeout: 0.5)
    let text = "\(loop.failure.map { "\($0)" } ?? "no failure")"
    #expect(text.contains("net.ipv4.conf.eth0.route_localnet is 0") && text.contains("127.25.0.0/16 dev eth0"), "\(text)")
    #expect(!text.contains("blackhole"), "\(text)")
    _ = try a.runBlocking(["ip", "route", "add", "blackhole", "10.63.7.0/24"])
    let hole = try await ping("10.63.7.1", in: try a.namespace, count: 1, timeout: 0.5)
    #expect(hole.failure == .blackholed)
}

// MARK: Bad arguments throw

@Test(.lab(localnet)) func badArgumentsThrowInsteadOfCrashing() async throws {
    let lab = try #require(Lab.current)
    let ns = try lab["a"].namespace
    #expect(throws: ArgumentError.self) { try ns.addTunTap(name: "averyveryverylongname", mode: .tap) }
    #expect(throws: ArgumentError.self) { try ns.addTunTap(name: "", mode: .tun) }
    await #expect(throws: ArgumentError.self) { _ = try await ping("10.63.0.2", in: ns, count: 0) }
    await #expect(throws: ArgumentError.self) { _ = try await ping("10.63.0.2", in: ns, count: 10_001) }
    await #expect(throws: ArgumentError.self) { _ = try await ping("10.63.0.2", in: ns, timeout: -1) }
    await #expect(throws: ArgumentError.self) { _ = try await ping("10.63.0.2", in: ns, interval: 61) }
    await #expect(throws: ArgumentError.self) { _ = try await ping("10.63.0.2", in: ns, size: 65_001) }
    await #expect(throws: ArgumentError.self) { _ = try await ping("10.63.0.2", in: ns, ttl: 0) }
    #expect(throws: ArgumentError.self) { _ = try Capture.start(on: "eth0", in: ns, maxPackets: 0) }
    #expect(throws: ArgumentError.self) { _ = try Capture.start(on: "eth0", in: ns, snapLength: 10) }
    #expect(throws: ArgumentError.self) { _ = try EchoServer.start(in: ns, port: 0, lifetime: 0) }
    // In range, they still work.
    let r = try await ping("10.63.0.2", in: ns, count: 1, timeout: 1)
    #expect(r.succeeded)
}

// MARK: Children run in a process of their own by the tests below

private var childMode: String? { ProcessInfo.processInfo.environment["NK_FAILURE_CHILD"] }
private let childPair = Topology("child") {
    Host("a") { Address("10.64.0.1/24") }
    Host("b") { Address("10.64.0.2/24") }
    Link("a:eth0", "b:eth0")
}

@Test(.enabled(if: childMode == "privileges"), .lab(childPair)) func childNeedsALab() async throws {}
@Test(.enabled(if: childMode == "privileges"), .netnsPrivileges) func childNeedsPrivileges() {}
@Test(.enabled(if: childMode == "features"), .kernelHas(linkKind: "nk-no-such-kind")) func childNeedsAFeature() {}

/// Two NetnsKit failures and a plain `#expect`: one headline each, one state dump, captures kept.
@Test(.enabled(if: childMode == "failures"), .lab(childPair, captureOnFailure: true))
func childFailsInSeveralWays() async throws {
    let lab = try #require(Lab.current)
    await lab["a"].expectReachable("10.64.9.9")
    await lab["a"].expectLink("eth0", up: false)
}

@Test(.enabled(if: childMode == "plain"), .lab(childPair, captureOnFailure: true))
func childFailsWithAPlainExpect() async throws {
    _ = try await ping("10.64.0.2", in: try #require(Lab.current)["a"].namespace)
    #expect(1 + 1 == 3)
}

final class ChildXCTests: XCTestCase {
    func testChildMakeLab() throws {
        guard childMode == "xctest" else { return }
        _ = try makeLab(childPair) // the line the skip must name
    }

    func testChildFailsPlainly() throws {
        guard childMode == "xctest-fail" else { return }
        _ = try makeLab(childPair)
        XCTFail("a plain XCTest failure")
    }
    func testChildFailsAnAssertion() async throws {
        guard childMode == "xctest-assert" else { return }
        let lab = try makeLab(childPair)
        await XCTAssertReachable(lab["a"], "10.64.9.9")
    }
}

/// Runs this test binary again with `env`, under `capsh --drop=…` when `drop` is given.
private func runChild(_ env: [String], filter: String, xctest: Bool = false, drop: String? = nil,
                      extra: String = "") throws -> ProcessResult {
    let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let args = (xctest ? "--testing-library xctest NetnsKitTests.ChildXCTests/\(filter.isEmpty ? "testChildMakeLab" : filter)"
                       : "--testing-library swift-testing --filter \(filter)") + (extra.isEmpty ? "" : " \(extra)")
    let command = ["/bin/sh", "-c", "exec \"$0\" \(args) 2>&1", exe]
    let argv = drop.map { ["/usr/sbin/capsh", "--drop=\($0)", "--", "-c", "exec \"$@\"", "sh"] + command } ?? command
    return try Spawner.runBlocking(argv, in: nil, environment: env, timeout: 120)
}

private let hasCapsh = FileManager.default.isExecutableFile(atPath: "/usr/sbin/capsh")

@Suite(.netnsPrivileges, .enabled(if: hasCapsh, "needs capsh (libcap2-bin)")) struct RequirementTests {
    /// Without privileges, a lab test is skipped (exit 0); with NETNSKIT_REQUIRE_PRIVILEGES=1 it fails with the reason.
    @Test func missingPrivilegesFailWhenRequired() throws {
        let drop = "cap_net_admin,cap_sys_admin"
        let skipped = try runChild(["NK_FAILURE_CHILD=privileges"], filter: "childNeeds", drop: drop)
        #expect(skipped.status == 0, "\(skipped.output.suffix(1500))")
        let failed = try runChild(["NK_FAILURE_CHILD=privileges", "NETNSKIT_REQUIRE_PRIVILEGES=1"], filter: "childNeeds", drop: drop)
        #expect(failed.status != 0, "\(failed.output.suffix(1500))")
        #expect(failed.output.contains("NETNSKIT_REQUIRE_PRIVILEGES is set"), "\(failed.output.suffix(1500))")
        #expect(failed.output.contains("CAP_NET_ADMIN"), "the reason names what is missing: \(failed.output.suffix(1500))")
    }

    @Test func missingFeaturesFailWhenRequired() throws {
        let skipped = try runChild(["NK_FAILURE_CHILD=features"], filter: "childNeedsAFeature")
        #expect(skipped.status == 0, "\(skipped.output.suffix(1500))")
        let failed = try runChild(["NK_FAILURE_CHILD=features", "NETNSKIT_REQUIRE_FEATURES=1"], filter: "childNeedsAFeature")
        #expect(failed.status != 0, "\(failed.output.suffix(1500))")
        #expect(failed.output.contains("this kernel has no nk-no-such-kind support"), "\(failed.output.suffix(1500))")
    }

    /// The XCTest skip names the test's own file and line; required, it fails there.
    @Test func xctestSkipPointsAtTheTest() throws {
        let drop = "cap_net_admin,cap_sys_admin"
        let skipped = try runChild(["NK_FAILURE_CHILD=xctest"], filter: "", xctest: true, drop: drop)
        #expect(skipped.status == 0, "\(skipped.output.suffix(1500))")
        #expect(skipped.output.contains("DebuggableFailureTests.swift:\(Self.makeLabLine)"), "\(skipped.output.suffix(1500))")
        #expect(!skipped.output.contains("XCTestSupport.swift"), "\(skipped.output.suffix(1500))")
        let failed = try runChild(["NK_FAILURE_CHILD=xctest", "NETNSKIT_REQUIRE_PRIVILEGES=1"], filter: "", xctest: true, drop: drop)
        #expect(failed.status != 0, "\(failed.output.suffix(1500))")
        #expect(failed.output.contains("DebuggableFailureTests.swift:\(Self.makeLabLine)"), "\(failed.output.suffix(1500))")
    }

    /// The line of `makeLab` in ``ChildXCTests``, found in this file's source.
    static var makeLabLine: Int {
        let source = (try? String(contentsOfFile: #filePath, encoding: .utf8)) ?? ""
        return (source.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("the line the skip must name") } ?? -1) + 1
    }
}

@Suite(.netnsPrivileges) struct FailureOutputTests {
    /// Headlines carry the expectation and the observation; the state is printed once.
    @Test func headlinesAndOneStateDump() throws {
        let dir = NSTemporaryDirectory() + "nk-failures-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let xunit = dir + ".xml"
        defer { try? FileManager.default.removeItem(atPath: xunit) }
        let r = try runChild(["NK_FAILURE_CHILD=failures", "NETNSKIT_FAILURE_DIR=\(dir)"], filter: "childFailsInSeveralWays",
                             extra: "--xunit-output \(xunit)")
        let out = r.output
        #expect(r.status != 0)
        // On the issue's own line, as swift test prints it, not below an "Issue recorded".
        let issueLines = out.split(separator: "\n").filter { $0.contains("recorded an issue at DebuggableFailureTests.swift:") }
        #expect(issueLines.contains { $0.hasSuffix(": Caught error: a reaches 10.64.9.9 — observed: network unreachable: no route (ENETUNREACH)") },
                "\(out.suffix(3000))")
        #expect(issueLines.contains { $0.hasSuffix(": Caught error: a:eth0 is down — observed: up mtu 1500") }, "\(out.suffix(3000))")
        #expect(!out.contains("Issue recorded"), "\(out.suffix(3000))")
        // The same headlines are the failure messages of the xUnit report.
        let report = (try? String(contentsOfFile: xunit, encoding: .utf8))?.replacingOccurrences(of: "&#8212;", with: "—") ?? ""
        #expect(report.contains("<failure message=\"Caught error: a reaches 10.64.9.9 — observed: network unreachable: no route (ENETUNREACH)"),
                "\(report)")
        #expect(report.contains("<failure message=\"Caught error: a:eth0 is down — observed: up mtu 1500"), "\(report)")
        #expect(out.components(separatedBy: "── NetnsKit: state of lab").count - 1 == 1, "\(out.suffix(3000))")
        #expect(!out.contains("kernel state:"), "no per-failure state under the trait: \(out.suffix(3000))")
        let saved = (try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []
        #expect(saved.contains { $0.hasSuffix("a-eth0.pcap") }, "\(saved)")
    }

    /// A failed XCTest test with `makeLab` prints the lab's state once, before the teardown.
    @Test func xctestFailureDumpsTheStateOnce() throws {
        let r = try runChild(["NK_FAILURE_CHILD=xctest-fail"], filter: "testChildFailsPlainly", xctest: true)
        #expect(r.status != 0)
        #expect(r.output.contains("a plain XCTest failure"), "\(r.output.suffix(3000))")
        #expect(r.output.components(separatedBy: "── NetnsKit: state of lab child").count - 1 == 1, "\(r.output.suffix(3000))")
    }

    /// A failed `XCTAssertReachable` says the expectation and the observation on XCTest's failure
    /// line; the lab's state comes once, from `makeLab`, not in the failure.
    @Test func xctestAssertionHeadline() throws {
        let r = try runChild(["NK_FAILURE_CHILD=xctest-assert"], filter: "testChildFailsAnAssertion", xctest: true)
        #expect(r.status != 0)
        #expect(r.output.contains(": failed - a reaches 10.64.9.9 — observed: network unreachable: no route (ENETUNREACH)"),
                "\(r.output.suffix(3000))")
        #expect(!r.output.contains("kernel state:"), "\(r.output.suffix(3000))")
        #expect(r.output.components(separatedBy: "── NetnsKit: state of lab child").count - 1 == 1, "\(r.output.suffix(3000))")
    }

    /// A plain `#expect` failure dumps the state and keeps the captures too.
    @Test func anyFailureTriggersTheDumpAndCaptures() throws {
        let dir = NSTemporaryDirectory() + "nk-failures-\(getpid())-\(UInt32.random(in: 0..<UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runChild(["NK_FAILURE_CHILD=plain", "NETNSKIT_FAILURE_DIR=\(dir)"], filter: "childFailsWithAPlainExpect")
        #expect(r.status != 0)
        #expect(r.output.contains("── NetnsKit: state of lab"), "\(r.output.suffix(3000))")
        let saved = (try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []
        #expect(saved.contains { $0.hasSuffix("b-eth0.pcap") }, "\(saved)")
    }
}
