import NetnsKit
import NetnsTesting
import Testing

// Issue 18, "Results that can mislead": each test here failed before its fix.

private let pair = Topology("honest") {
    Host("a") { Address("10.31.0.1/24") }
    Host("b") { Address("10.31.0.2/24") }
    Link("a:eth0", "b:eth0")
}

/// `expectTCP(open: true)` must not start its own listener: with no server in `b`, it fails.
@Test(.lab(pair)) func expectTCPDoesNotHideADeadServer() async throws {
    let lab = try #require(Lab.current)
    await withKnownIssue {
        await lab["a"].expectTCP("10.31.0.2", port: 8080, open: true)
    } matching: { issue in
        issueText(issue).contains("connection refused")
    }
    // The explicitly named path check still starts a listener for the check.
    await lab["a"].expectTCPPath("10.31.0.2", port: 8080, open: true)
    let plain = await lab.check(.tcpConnect(from: "a", to: "10.31.0.2", port: 8080, open: true))
    #expect(!plain.passed && plain.observed == "connection refused", "\(plain)")
}

private let fan = Topology("spread") {
    Host("a") {
        Route("10.99.0.0/16", nexthops: [Nexthop(via: "10.32.1.2"), Nexthop(via: "10.32.2.2")])
    }
    Host("b")
    Host("c")
    Link("a:eth0", "b:eth0", aAddress: "10.32.1.1/24", bAddress: "10.32.1.2/24")
    Link("a:eth1", "c:eth0", aAddress: "10.32.2.1/24", bAddress: "10.32.2.2/24")
}

/// With the default L3 hash (policy 0) ports do not spread flows, and the observation says so.
@Test(.lab(fan)) func multipathSpreadNamesTheHashPolicy() async throws {
    let lab = try #require(Lab.current)
    let e = LabExpectation.multipathSpread(in: "a", to: "10.99.0.1", devices: ["eth0", "eth1"])
    let l3 = await lab.check(e)
    #expect(!l3.passed, "\(l3)")
    #expect(l3.observed.contains("fib_multipath_hash_policy is 0"), "\(l3)")
    try lab["a"].setSysctl("net.ipv4.fib_multipath_hash_policy", "1")
    let l4 = await lab.check(e)
    #expect(l4.passed, "\(l4)")
    #expect(l4.observed.contains("fib_multipath_hash_policy is 1"), "\(l4)")
}
