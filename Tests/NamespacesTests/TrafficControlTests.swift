import Foundation
import Namespaces
import Netlink
import Testing

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct TrafficControlTests {
    func pair() throws -> (NetworkNamespace, NetworkNamespace, Int32) {
        let a = try NetworkNamespace.create(label: "tca")
        let b = try NetworkNamespace.create(label: "tcb")
        try a.socket.execute(.newLink(LinkSpec(name: "eth0", kind: .veth(peer: VethPeer(name: "eth0", namespaceFD: b.fd)), up: true)))
        return (a, b, try a.socket.link(named: "eth0").index)
    }

    func tcJSON(_ ns: NetworkNamespace, _ args: [String]) throws -> [[String: Any]] {
        let r = try Spawner.runBlocking(["tc", "-j"] + args, in: ns, timeout: 10)
        guard r.status == 0 else { throw TestFailure("tc \(args) failed: \(r)") }
        return (try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [[String: Any]]) ?? []
    }

    @Test func tokenBucketFilter() throws {
        let (a, b, idx) = try pair()
        defer { a.close(); b.close() }
        try a.socket.execute(.newQdisc(index: idx, .tbf(rateBitsPerSecond: 10_000_000, burstBytes: 32_000, limitBytes: 100_000)))
        let q = try #require(tcJSON(a, ["qdisc", "show", "dev", "eth0"]).first)
        #expect(q["kind"] as? String == "tbf")
        let opts = try #require(q["options"] as? [String: Any])
        #expect(opts["rate"] as? Int == 1_250_000) // tc -j prints bytes per second
        #expect(try a.socket.qdiscs().contains { $0.index == idx && $0.kind == "tbf" })
    }

    @Test func hierarchicalTokenBucket() throws {
        let (a, b, idx) = try pair()
        defer { a.close(); b.close() }
        try a.socket.execute([
            .newQdisc(index: idx, .htb(defaultClass: 10, classes: [])),
            .newHTBClass(index: idx, HTBClass(id: 10, rateBitsPerSecond: 5_000_000, ceilBitsPerSecond: 8_000_000)),
        ])
        #expect(try tcJSON(a, ["qdisc", "show", "dev", "eth0"]).first?["kind"] as? String == "htb")
        // `tc -j class show` prints no JSON in iproute2 6.1; read the text form.
        let text = try Spawner.runBlocking(["tc", "class", "show", "dev", "eth0"], in: a).output
        #expect(text.contains("class htb 1:a root prio 0 rate 5Mbit ceil 8Mbit"), "tc says: \(text)")
    }

    @Test func netemIsReportedAsMissingWhenTheKernelLacksIt() throws {
        let (a, b, idx) = try pair()
        defer { a.close(); b.close() }
        do {
            try a.socket.execute(.newQdisc(index: idx, .netem(delayMicroseconds: 10_000, jitterMicroseconds: 0, lossPercent: 0, limitPackets: 1000)))
            #expect(try tcJSON(a, ["qdisc", "show", "dev", "eth0"]).first?["kind"] as? String == "netem")
        } catch let e as NetlinkError {
            #expect(e.isUnknownQdiscKind, "unexpected error: \(e)")
        }
    }
}
