import Namespaces
import NetnsKit
import NetnsTesting
import Testing

/// `verify`'s re-check rule, counted on the wire: each check of a failing reachability
/// expectation pings h2, and h2's own ICMP counters say how many checks there were.
@Suite(.netnsPrivileges) struct VerifyTests {
    /// With `within` above 0, `verify` checks at least twice, even when the window is far shorter
    /// than one check (a loaded machine): `within: 0` checks once.
    @Test func aWindowShorterThanOneCheckStillChecksTwice() async throws {
        let lab = try await Lab.up(quietRouted)
        defer { lab.down() }
        // h2 answers, so "cannot reach" fails at every check.
        let e = LabExpectation.unreachable(from: "h1", to: "10.0.2.2", reason: .any)
        func echoes(_ body: () async -> ExpectationFailure?) async throws -> UInt64 {
            let before = try echoRequestsReceived(lab["h2"].namespace)
            let failure = await body()
            #expect(failure != nil, "h2 answers: the expectation must fail")
            return try echoRequestsReceived(lab["h2"].namespace) - before
        }
        let once = try await echoes { await lab.verify(e) }
        let short = try await echoes { await lab.verify(e, within: 0.000_001) }
        // Both runs end with one explanation of the failure (which probes too): the difference
        // is the second check's echo requests.
        #expect(once > 0, "one check sent no echo request")
        #expect(short > once, "within: 1 µs sent \(short) echo requests, as many as within: 0 (\(once)): it did not re-check")
    }
}
