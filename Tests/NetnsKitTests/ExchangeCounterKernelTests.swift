import Foundation
import NetnsKit
import NetnsModel
import NetnsTesting
import Synchronization
import Testing

/// TCP/UDP exchanges, nftables named counters and MIB counters checked against a real lab; each
/// check is shown failing once the lab is broken (a server stopped, a rule flushed, a counter reset).
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct ExchangeCounterKernelTests {
    static let rules = """
        table inet nk_x {
            counter syn22 {
            }
            chain forward {
                type filter hook forward priority filter; policy accept;
                tcp dport 22 counter name "syn22"
                tcp dport 22 drop
            }
            chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                oifname "eth1" tcp dport 8080 masquerade
            }
        }
        """

    static let topology = Topology("xchg") {
        Host("h1") { Address("10.61.1.2/24"); Route(.default, via: "10.61.1.1") }
        Router("r1") { Firewall(rules) }
        Host("h2") { Address("10.61.2.2/24"); Route(.default, via: "10.61.2.1") }
        Link("h1:eth0", "r1:eth0", bAddress: "10.61.1.1/24")
        Link("r1:eth1", "h2:eth0", aAddress: "10.61.2.1/24")
    }

    static let h2 = IPAddress("10.61.2.2")!

    func x(_ port: UInt16, proto: TransportProtocol = .tcp, listener: Bool = false, result: TransportResult = .ok,
           send: String? = nil, reply: String? = nil, peer: String? = nil) -> LabExpectation {
        .transport(TransportExpectation(from: "h1", to: Self.h2, port: port, proto: proto, listener: listener, result: result,
                                        send: send, reply: reply, peer: peer.map { IPAddress($0)! }))
    }

    @Test func exchangesEndOkRefusedOrTimeoutAndBreakWhenTheLabBreaks() async throws {
        if let o = KernelFeatures.shared.probe("nftables"), !o.supported { try Test.cancel("this kernel has no nftables") }
        let lab = try await Lab.up(Self.topology)
        defer { lab.down() }
        let server = try EchoServer.start(in: try lab["h2"].namespace, port: 80, address: Self.h2, lifetime: 60,
                                          reply: Array("hello\n".utf8))
        let udp = try EchoServer.start(in: try lab["h2"].namespace, port: 5353, proto: .udp, address: Self.h2, lifetime: 60)
        defer { udp.stop() }

        // The working lab: every outcome as declared.
        for e in [x(80, reply: "hello"), x(22, result: .timeout), x(81, result: .refused),
                  x(8080, listener: true, send: "hi", reply: "hi", peer: "10.61.2.1"),
                  x(5353, proto: .udp, send: "ping", reply: "ping"), x(5354, proto: .udp, result: .refused),
                  x(5355, proto: .udp, listener: true, send: "q", reply: "q", peer: "10.61.1.2")] {
            let f = await lab.verify(e)
            #expect(f == nil, "\(e): \(f?.description ?? "")")
        }
        // The counters those probes moved.
        #expect(await lab.verify(.nftCounter(NftCounterExpectation(in: "r1", table: "nk_x", name: "syn22", minPackets: 1, minBytes: 40))) == nil)
        #expect(await lab.verify(.mibCounter(MIBCounterExpectation(in: "h2", counter: "Udp.NoPorts", min: 1))) == nil)
        #expect(await lab.verify(.mibCounter(MIBCounterExpectation(in: "h1", counter: "Tcp.AttemptFails", min: 1))) == nil)

        // Broken: a wrong reply, a server gone, the firewall and NAT flushed, the counter reset.
        var f = await lab.verify(x(80, reply: "goodbye"))
        #expect(f?.observed.contains("reply: expected \"goodbye\", got \"hello\\n\"") == true, "\(f?.description ?? "nil")")
        server.stop()
        f = await lab.verify(x(80, reply: "hello"))
        #expect(f?.observed.contains("result: expected ok, got refused") == true, "\(f?.description ?? "nil")")
        udp.stop()
        f = await lab.verify(x(5353, proto: .udp, send: "ping", reply: "ping"))
        #expect(f?.observed.contains("result: expected ok, got refused") == true, "\(f?.description ?? "nil")")
        _ = try await lab["r1"].run(["nft", "flush", "chain", "inet", "nk_x", "postrouting"])
        f = await lab.verify(x(8080, listener: true, peer: "10.61.2.1"))
        #expect(f?.observed.contains("peer: expected 10.61.2.1, got 10.61.1.2") == true, "\(f?.description ?? "nil")")
        _ = try await lab["r1"].run(["nft", "reset", "counter", "inet", "nk_x", "syn22"])
        _ = try await lab["r1"].run(["nft", "flush", "chain", "inet", "nk_x", "forward"])
        f = await lab.verify(x(22, result: .timeout))
        #expect(f?.observed.contains("result: expected timeout, got refused") == true, "\(f?.description ?? "nil")")
        f = await lab.verify(.nftCounter(NftCounterExpectation(in: "r1", table: "nk_x", name: "syn22", minPackets: 1)))
        #expect(f?.observed.contains("packets: expected ≥1, got 0") == true, "\(f?.description ?? "nil")")
        f = await lab.verify(.nftCounter(NftCounterExpectation(in: "r1", table: "nk_x", name: "nope", minPackets: 1)))
        #expect(f?.observed.contains("failed") == true, "\(f?.description ?? "nil")")
        f = await lab.verify(.mibCounter(MIBCounterExpectation(in: "h2", counter: "Udp.NoPorts", max: 0)))
        #expect(f?.observed.contains("expected ≤0") == true, "\(f?.description ?? "nil")")
        f = await lab.verify(.mibCounter(MIBCounterExpectation(in: "h2", counter: "Ip.NoSuchCounter", min: 1)))
        #expect(f?.observed.contains("no counter Ip.NoSuchCounter") == true, "\(f?.description ?? "nil")")

        // The Swift Testing helpers record an issue for a failed exchange and nothing for a passing one.
        await withKnownIssue {
            await lab["h1"].expectExchange(Self.h2, port: 80, reply: "hello")
        } matching: { issue in "\(issue)".contains("got refused") }
        await lab["h1"].expectExchange(Self.h2, port: 81, result: .refused)
        await lab["h2"].expectMIBCounter("Udp.NoPorts", min: 1)
    }

    /// `within:` re-checks an exchange until the server comes up.
    @Test func anExchangeWithinWaitsForTheServer() async throws {
        let lab = try await Lab.up(Topology("xchg2") {
            Host("h1") { Address("10.62.0.1/24") }
            Host("h2") { Address("10.62.0.2/24") }
            Link("h1", "h2")
        })
        defer { lab.down() }
        let to = IPAddress("10.62.0.2")!
        let e = LabExpectation.transport(TransportExpectation(from: "h1", to: to, port: 7070, send: "a", reply: "late"))
        let ns = try lab["h2"].namespace
        // The server starts on a thread of its own: a task could wait for a cooperative-pool
        // thread longer than the check waits (in the full parallel suite on two cores, it did).
        let server = Mutex<Result<EchoServer, any Error>?>(nil)
        Thread {
            usleep(300_000)
            let r = Result { try EchoServer.start(in: ns, port: 7070, address: to, lifetime: 30, reply: Array("late\n".utf8)) }
            server.withLock { $0 = r }
        }.start()
        let f = await lab.verify(e, within: 20)
        while server.withLock({ $0 == nil }) { usleep(10_000) }
        try server.withLock { $0 }!.get().stop()
        #expect(f == nil, "\(f?.description ?? "")")
        // Once: nothing listens, and the failure says so.
        let once = await lab.verify(e)
        #expect(once?.headline.contains("— observed: refused (RST)") == true, "\(once?.description ?? "nil")")
    }
}
