import Foundation
import NetnsKit
import NetnsModel
import NetnsTesting
import Testing

/// Bridge FDB entries against a real lab: learned after traffic, a static entry added, then the
/// entries moved or removed, each failure naming the field.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct FDBKernelTests {
    @Test func entriesHoldThenDifferFieldByField() async throws {
        if let o = KernelFeatures.shared.probe("bridge"), !o.supported { try Test.cancel("this kernel has no bridge") }
        let lab = try await Lab.up(Topology("fdb") {
            Switch("sw")
            Host("h1") { Address("10.67.0.1/24") }
            Host("h2") { Address("10.67.0.2/24") }
            Link("h1:eth0", "sw:p1")
            Link("h2:eth0", "sw:p2")
        })
        defer { lab.down() }
        #expect(await lab.verify(.reachable(from: "h1", to: "10.67.0.2")) == nil)
        let h1 = MACReference.of(node: "h1", interface: "eth0")
        let learned = LabExpectation.fdb(FDBExpectation(in: "sw", mac: h1, port: "p1", learned: true))
        #expect(await lab.verify(learned) == nil)
        await lab["sw"].expectFDB(h1, present: false, port: "p2")
        _ = try await lab["sw"].run(["bridge", "fdb", "add", "02:00:00:00:67:01", "dev", "p2", "master", "static"])
        let fixed = LabExpectation.fdb(FDBExpectation(in: "sw", mac: .address(MACAddress("02:00:00:00:67:01")!), port: "p2", learned: false))
        #expect(await lab.verify(fixed) == nil)

        var f = await lab.verify(.fdb(FDBExpectation(in: "sw", mac: .address(MACAddress("02:00:00:00:67:01")!), port: "p1", learned: true)))
        #expect(f?.observed.contains("port: expected p1, got p2; learned: expected true, got false") == true, "\(f?.description ?? "nil")")
        _ = try await lab["sw"].run(["bridge", "fdb", "del", "02:00:00:00:67:01", "dev", "p2", "master"])
        f = await lab.verify(fixed)
        #expect(f?.observed.contains("no entry for 02:00:00:00:67:01") == true, "\(f?.description ?? "nil")")
        let mac = try #require(try lab["h1"].link("eth0").mac)
        // Sticky: the bridge moves even a static entry to the port a frame from that MAC comes in
        // on (a stray IPv6 packet of h1's would move it back to p1).
        _ = try await lab["sw"].run(["bridge", "fdb", "replace", "\(mac)", "dev", "p2", "master", "static", "sticky"])
        f = await lab.verify(learned)
        #expect(f?.observed.contains("port: expected p1, got p2; learned: expected true, got false") == true, "\(f?.description ?? "nil")")
        f = await lab.verify(.fdb(FDBExpectation(in: "sw", mac: h1, present: false, port: "p2")))
        #expect(f?.observed.hasPrefix("present: ") == true, "\(f?.description ?? "nil")")
    }
}
