import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// Pings with options, throughput and traffic steps (issue 19, items 1, 7 and 13) against real
/// labs; every check is also run against a broken lab, where it must fail and say why.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct ProbeExpectationTests {
    /// h1 – r1 – h2, the r1–h2 link at MTU 1280; r1 blackholes 10.61.9.0/24. `forwarding: false`
    /// makes r1 a host (the broken lab: nothing crosses it).
    static func line(forwarding: Bool = true) -> Topology {
        Topology(forwarding ? "probes-ok" : "probes-broken") {
            Host("h1") {
                Address("10.61.1.2/24"); Address("fd61:1::2/64")
                Route(.default, via: "10.61.1.1"); Route(.default, via: "fd61:1::1")
            }
            if forwarding {
                Router("r1") { Route("10.61.9.0/24", type: .blackhole) }
            } else {
                Host("r1") { Route("10.61.9.0/24", type: .blackhole) }
            }
            Host("h2") {
                Address("10.61.2.2/24"); Address("fd61:2::2/64")
                Route(.default, via: "10.61.2.1"); Route(.default, via: "fd61:2::1")
            }
            Link("h1:eth0", "r1:eth0", bAddress: "10.61.1.1/24", bAddresses: ["fd61:1::1/64"])
            Link("r1:eth1", "h2:eth0", mtu: 1280, aAddress: "10.61.2.1/24", aAddresses: ["fd61:2::1/64"])
        }
    }

    static let h2 = IPAddress("10.61.2.2")!, r1 = IPAddress("10.61.1.1")!, h1 = IPAddress("10.61.1.2")!

    @Test func pingsWithOptionsAndTheirFailures() async throws {
        let lab = try await Lab.up(Self.line())
        defer { lab.down() }
        // The first DF ping too big for r1's eth1 gets r1's "fragmentation needed" (type 3 code 4, mtu 1280).
        let tooBig = LabExpectation.ping(from: "h1", to: Self.h2, options: PingOptions(size: 1400, dontFragment: true),
                                         failure: PingFailureExpectation(reason: .tooBig, reporter: Self.r1, icmpType: 3,
                                                                         icmpCode: 4, mtu: 1280))
        let first = await lab.check(tooBig)
        #expect(first.passed, "\(first)")
        #expect(first.observed.contains("ICMP type 3 code 4 from 10.61.1.1, mtu 1280"), "\(first.observed)")
        // h1 has learned the path MTU: now its own sendto fails with EMSGSIZE, and the MTU is still 1280.
        let local = await lab.check(.ping(from: "h1", to: Self.h2, options: PingOptions(size: 1400, dontFragment: true),
                                          failure: PingFailureExpectation(reason: .tooBig, mtu: 1280)))
        #expect(local.passed && local.observed.contains("a local error"), "\(local)")
        // Count, source, device: all answered.
        let options = PingOptions(count: 3, size: 1000, dontFragment: true, source: Self.h1, interface: "eth0")
        let ok = await lab.check(.ping(from: "h1", to: Self.h2, options: options))
        #expect(ok.passed && ok.observed.contains("3 sent, 3 received"), "\(ok)")
        // TTL 1: r1 answers time exceeded itself; a wrong reporter or type fails, saying what came back.
        let ttl = PingOptions(ttl: 1)
        let expired = await lab.check(.ping(from: "h1", to: Self.h2, options: ttl,
                                            failure: PingFailureExpectation(reporter: Self.r1, icmpType: 11, icmpCode: 0)))
        #expect(expired.passed, "\(expired)")
        let wrongReporter = await lab.check(.ping(from: "h1", to: Self.h2, options: ttl,
                                                  failure: PingFailureExpectation(reporter: Self.h2)))
        #expect(!wrongReporter.passed && wrongReporter.observed.contains("ICMP type 11 code 0 from 10.61.1.1"), "\(wrongReporter)")
        // A blackhole on r1: silently dropped (no reply, no error).
        let dropped = await lab.check(.ping(from: "h1", to: IPAddress("10.61.9.1")!,
                                            failure: PingFailureExpectation(reason: .timeout)))
        #expect(dropped.passed && dropped.observed.contains("silently dropped"), "\(dropped)")
        // A scoped link-local destination: r1's fe80 address on the h1 link, through eth0.
        let linkLocal = try #require(try lab["r1"].addresses().first {
            $0.prefix.address.isIPv6 && "\($0.prefix.address)".hasPrefix("fe80") && lab["r1"].interfaceName(Int32(bitPattern: $0.index)) == "eth0"
        }).prefix.address
        let scoped = await lab.check(.ping(from: "h1", to: linkLocal, options: PingOptions(interface: "eth0")))
        #expect(scoped.passed, "\(scoped)")
        // IPv6: r1's "packet too big" (ICMPv6 type 2, mtu 1280) and hop limit exceeded (type 3).
        let h2v6 = IPAddress("fd61:2::2")!, r1v6 = IPAddress("fd61:1::1")!
        let tooBigV6 = LabExpectation.ping(from: "h1", to: h2v6, options: PingOptions(size: 1400, dontFragment: true),
                                           failure: PingFailureExpectation(reason: .tooBig, reporter: r1v6, icmpType: 2,
                                                                           icmpCode: 0, mtu: 1280))
        let ptb = await lab.check(tooBigV6)
        #expect(ptb.passed, "\(ptb)")
        let hops = await lab.check(.ping(from: "h1", to: h2v6, options: PingOptions(ttl: 1),
                                         failure: PingFailureExpectation(reporter: r1v6, icmpType: 3, icmpCode: 0)))
        #expect(hops.passed, "\(hops)")
        #expect(await lab.check(.ping(from: "h1", to: h2v6, options: PingOptions(count: 3, source: IPAddress("fd61:1::2")!))).passed)
        // The Swift Testing helpers say the same (a failure would record an issue here).
        await lab["h1"].expectPing(Self.h2, options: options)
        await lab["h1"].expectPingFails(Self.h2, options: ttl, failure: PingFailureExpectation(icmpType: 11), within: 2)

        // The broken lab: r1 does not forward, so every one of these fails, with an observation.
        let broken = try await Lab.up(Self.line(forwarding: false))
        defer { broken.down() }
        try broken["r1"].linkDown("eth0")
        for e in [tooBig, tooBigV6, .ping(from: "h1", to: Self.h2, options: options),
                  .ping(from: "h1", to: Self.h2, options: ttl, failure: PingFailureExpectation(reporter: Self.r1, icmpType: 11)),
                  .ping(from: "h1", to: linkLocal, options: PingOptions(interface: "eth0"))] {
            let f = try #require(await broken.verify(e))
            #expect(f.headline.contains(" — observed: ") && !f.observed.isEmpty, "\(f)")
        }
    }

    /// A tbf at 10 Mbit/s on h1's uplink: h1 → h2 is measured near 10 (generous bounds, a loaded
    /// machine), h2 → h1 is not shaped; a 1 Mbit/s tbf fails the same check.
    @Test func throughputMeetsATokenBucket() async throws {
        func pair(_ rate: Rate) -> Topology {
            Topology("probes-tbf") {
                Host("h1") {
                    Address("10.62.0.1/24")
                    Qdisc(.tbf(rate: rate, burst: 32 * 1024, limit: .latency(.milliseconds(50))), on: "eth0")
                }
                Host("h2") { Address("10.62.0.2/24") }
                Link("h1:eth0", "h2:eth0")
            }
        }
        let to = IPAddress("10.62.0.2")!
        let check = LabExpectation.throughput(from: "h1", to: to, min: 5, max: 12)
        let lab = try await Lab.up(pair(.mbit(10)))
        defer { lab.down() }
        let shaped = await lab.check(check)
        #expect(shaped.passed && shaped.observed.contains("Mbit/s"), "\(shaped)")
        let back = await lab.check(.throughput(from: "h2", to: IPAddress("10.62.0.1")!, port: 5300, min: 20))
        #expect(back.passed, "\(back)")
        await lab["h2"].expectThroughput(IPAddress("10.62.0.1")!, port: 5301, min: 20)

        let slow = try await Lab.up(pair(.mbit(1)))
        defer { slow.down() }
        let f = try #require(await slow.verify(.throughput(from: "h1", to: to, timeLimit: .seconds(3), min: 5, max: 12)))
        #expect(f.observed.contains("Mbit/s") && f.observed.contains("time limit"), "\(f)")
        // No path at all: the sender's error, at once (the sink does not wait out the time limit).
        try slow["h2"].linkDown("eth0")
        let started = Date()
        let dead = await slow.check(.throughput(from: "h1", to: to, timeLimit: .seconds(60), min: 5))
        #expect(!dead.passed && dead.observed.contains("throughput sender"), "\(dead)")
        #expect(Date().timeIntervalSince(started) < 50, "a hang guard, not a timing bound: \(dead)")
    }

    /// A traffic step's packets are counted by the receiver; sent to an address nobody has, they are not.
    @Test func trafficStepsFeedLaterChecks() async throws {
        let lab = try await Lab.up(Topology("probes-send") {
            Host("h1") { Address("10.63.0.1/24") }
            Host("h2") { Address("10.63.0.2/24") }
            Link("h1:eth0", "h2:eth0")
        })
        defer { lab.down() }
        let before = try lab["h2"].link("eth0").stats?.rxPackets ?? 0
        let to = IPAddress("10.63.0.2")!
        let results = await lab.run([
            .change(.send(node: "h1", TrafficBurst(to: to, count: 300, source: IPAddress("10.63.0.1")!))),
            .change(.send(node: "h1", TrafficBurst(to: to, proto: .icmp, count: 50))),
            .expect(.counters(in: "h2", name: "eth0", minRxPackets: before + 350), within: .seconds(3)),
        ])
        #expect(results.allSatisfy { $0.outcome == .passed }, "\(results)")
        // Broken: the packets go to an address no one answers for (ARP fails, nothing reaches h2).
        let now = try lab["h2"].link("eth0").stats?.rxPackets ?? 0
        let missed = await lab.run([
            .change(.send(node: "h1", TrafficBurst(to: IPAddress("10.63.0.99")!, count: 100))),
            .expect(.counters(in: "h2", name: "eth0", minRxPackets: now + 100), within: .milliseconds(500)),
        ])
        #expect(missed.last?.outcome == .failed && missed.last?.observed?.contains("rx ") == true, "\(missed)")
        // Bad input is an error naming the burst, not a crash.
        #expect(throws: ExpectationError.self) { try lab["h1"].sendTraffic(TrafficBurst(to: to, count: 0)) }
    }
}
