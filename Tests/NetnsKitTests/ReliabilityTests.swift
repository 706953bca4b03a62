import Foundation
import Namespaces
import NetnsKit
import NetnsTesting
import SystemPackage
import Testing

/// Tells when namespaces are really gone: a sentinel veth in each, its peer in a watch namespace we hold.
final class ReleaseProbe: @unchecked Sendable {
    let watch: NetworkNamespace
    private let lock = NSLock()
    private var peers: [String: String] = [:]
    private var counter = 0

    init() throws { watch = try NetworkNamespace.create(label: "test-watch") }
    deinit { watch.close() }

    func track(_ node: String, _ ns: NetworkNamespace) {
        lock.lock(); counter += 1; let peer = "rp\(counter)"; lock.unlock()
        do {
            try ns.socket.execute(.newLink(LinkSpec(name: "rpsentinel", index: 60000, kind: .veth(peer: VethPeer(name: peer, namespaceFD: watch.fd)))))
            lock.lock(); peers[peer] = node; lock.unlock()
        } catch {
            Issue.record("cannot add a release sentinel to \(node): \(error)")
        }
    }

    /// Nodes whose namespaces still exist after waiting up to `seconds`.
    func unreleased(within seconds: Double) throws -> [String] {
        let deadline = monotonicNow() + seconds
        while true {
            let names = Set(try watch.socket.links().map(\.name))
            lock.lock(); let left = peers.filter { names.contains($0.key) }.map(\.value).sorted(); lock.unlock()
            if left.isEmpty || monotonicNow() > deadline { return left }
            usleep(2000)
        }
    }
}

/// IPv4 only, IPv6 disabled: no background traffic (router solicitations, MLD) moves the counters.
let quietRouted = Topology("quiet") {
    for n in ["h1", "h2"] {
        Host(n) {
            Sysctl("net.ipv6.conf.all.disable_ipv6", "1"); Sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            Address(n == "h1" ? "10.0.1.2/24" : "10.0.2.2/24"); Route(.default, via: n == "h1" ? "10.0.1.1" : "10.0.2.1")
        }
    }
    Router("r1") { Sysctl("net.ipv6.conf.all.disable_ipv6", "1"); Sysctl("net.ipv6.conf.default.disable_ipv6", "1") }
    Link("h1:eth0", "r1:eth0", bAddress: "10.0.1.1/24")
    Link("r1:eth1", "h2:eth0", aAddress: "10.0.2.1/24")
}

let realistic = Topology("realistic") {
    Switch("sw")
    Host("h1") { Address("10.0.1.2/24"); Route(.default, via: "10.0.1.1") }
    Host("h2") { Address("10.0.1.3/24"); Route(.default, via: "10.0.1.1") }
    Router("r1") {
        Route("10.9.0.0/16", nexthops: [Nexthop(via: "10.0.2.2", weight: 1), Nexthop(via: "10.0.3.2", weight: 2)])
        Rule(priority: 100, from: "10.0.1.3/32", table: 100)
        Route(.default, via: "10.0.2.2", table: 100)
    }
    Host("h3") { Address("10.9.0.1/16"); Route(.default, via: "10.0.2.1") }
    Host("h4") { Address("10.9.0.2/16"); Route(.default, via: "10.0.3.1") }
    Link("h1", "sw")
    Link("h2", "sw")
    Link("r1:eth0", "sw", aAddress: "10.0.1.1/24")
    Link("r1:eth1", "h3:eth0", aAddress: "10.0.2.1/24", bAddress: "10.0.2.2/24")
    Link("r1:eth2", "h4:eth0", aAddress: "10.0.3.1/24", bAddress: "10.0.3.2/24")
}

@Suite(.netnsPrivileges) struct ReliabilityTests {
    @Test func realisticTopologyBuilds() async throws {
        let lab = try await Lab.up(realistic)
        defer { lab.down() }
        await lab["h1"].expectReachable("10.0.2.2")
        // Policy routing: h2's traffic (from 10.0.1.3) uses table 100, whose default goes to h3.
        await lab["r1"].expectRoute(to: "10.200.0.1", from: "10.0.1.3", iif: "eth0", via: "10.0.2.2", dev: "eth1")
        await lab["r1"].expectRoute(to: "10.0.3.2", dev: "eth2")
    }

    /// A few faults against the real kernel (the first namespace, a pin, the first request,
    /// one in the middle, the last operation), through a transport that fails one operation:
    /// the rollback removes real namespaces and pins. Every operation in turn is failed against
    /// the fake kernel, without privileges (`FakeKernelTests`).
    @Test(arguments: [false, true]) func faultsAgainstTheRealKernelRollBackCompletely(pinned: Bool) throws {
        // Count the operations of a clean build first.
        let counting = FaultInjectingTransport(wrapping: NamespaceTransport(), failing: nil, errno: .invalidArgument)
        let prefix = "nkfault" + String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let mode: LabMode = pinned ? .pinned(prefix: prefix) : .fixture
        var cleanOptions = LabOptions(mode: mode)
        cleanOptions.waitForLinks = false
        try Lab.build(realistic, options: cleanOptions, on: counting)
        for node in ["sw", "h1", "h2", "r1", "h3", "h4"] { _ = counting.destroyNamespace(node) }
        let total = counting.operationCount
        #expect(total > 20, "expected a realistic number of operations, got \(total)")

        let errnos: [Errno] = [.noBufferSpace, .resourceBusy, .fileExists, .operationNotSupportedByDevice]
        // 0: the first namespace; 1: its pin, or the second namespace; 6 or 12: the first request.
        for k in Set([0, 1, pinned ? 12 : 6, total / 2, total - 1]).sorted() {
            let probe = try ReleaseProbe()
            var o = LabOptions(mode: mode)
            let e = errnos[k % errnos.count]
            let transport = FaultInjectingTransport(wrapping: NamespaceTransport(), failing: k, errno: e)
            o.onNamespaceCreated = { node, ns in probe.track(node, ns) }
            do {
                try Lab.build(realistic, options: o, on: transport)
                Issue.record("operation \(k) was set to fail but the build succeeded")
            } catch let b as BuildError {
                #expect(!b.declaration.isEmpty && !b.command.isEmpty, "operation \(k): \(b)")
                let got = (b.underlying as? any ErrnoCarrying)?.errno
                #expect(got == e, "operation \(k): \(b)")
                #expect(b.rollbackProblems.isEmpty, "operation \(k): \(b.rollbackProblems)")
            }
            #expect(try probe.unreleased(within: 5).isEmpty, "operation \(k): namespaces survived the rollback")
            if pinned {
                let left = ((try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.runDirectory)) ?? []).filter { $0.hasPrefix(prefix) }
                #expect(left.isEmpty, "operation \(k): pinned namespaces left: \(left)")
            }
        }
    }

    /// 16 labs with the same names and addresses, built at once: traffic stays in its own lab.
    @Test func sixteenConcurrentLabsAreIsolated() async throws {
        let labs = try await withThrowingTaskGroup(of: Lab.self) { g in
            for _ in 0..<16 { g.addTask { try await Lab.up(quietRouted) } }
            var out: [Lab] = []
            for try await l in g { out.append(l) }
            return out
        }
        defer { for l in labs { l.down() } }
        // Echo requests each h2 received (Icmp InEchos in its own /proc/net/snmp). Not the
        // link's packet counter: 5 s after a ping, h2 probes the neighbour entry it used for
        // its replies, and on a slow machine that ARP reply landed while another lab was pinged.
        func rx() throws -> [UInt64] { try labs.map { try echoRequestsReceived($0["h2"].namespace) } }
        for (i, lab) in labs.enumerated() {
            let before = try rx()
            let p = try await lab["h1"].run(["ping", "-c3", "-i0.01", "-W1", "-q", "10.0.2.2"], timeout: 5)
            #expect(p.status == 0, "lab \(i): \(p.output)")
            let after = try rx()
            for j in labs.indices {
                if j == i { #expect(after[j] >= before[j] + 3, "lab \(i) did not reach its own h2") }
                else { #expect(after[j] == before[j], "lab \(i)'s pings reached lab \(j)") }
            }
        }
    }

    /// After builds, probes, spawns and teardowns, no thread but the namespace worker is in a foreign namespace.
    @Test func noThreadIsLeftInAForeignNamespace() async throws {
        for _ in 0..<5 {
            let lab = try await Lab.up(realistic)
            _ = try await lab["h1"].run(["true"])
            _ = await lab.check(.reachable(from: "h1", to: "10.0.1.1"))
            lab.down()
        }
        let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let workers = NamespaceWorker.threadIDs
        var foreign: [String] = []
        let tasks = try ThreadAudit.auditing { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") }
        for tid in tasks where !workers.contains(Int32(tid) ?? 0) {
            guard let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/task/\(tid)/ns/net") else { continue }
            let name = (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            // The namespace tests' control thread is contaminated on purpose while it runs.
            // NetnsNIO's event loops live in their nodes on purpose (tests running meanwhile).
            if let t = Int32(tid), let inode = ThreadAudit.registered[t], ns == "net:[\(inode)]" { continue }
            if ns != own && name != "nk-audit-ctl" { foreign.append("thread \(tid) in \(ns)") }
        }
        #expect(foreign.isEmpty, "\(foreign)")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    func set(_ x: Int) { lock.lock(); v = max(v, x); lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}

/// `Icmp: InEchos` of a namespace, read on its own thread (`/proc/thread-self/net` is the
/// namespace of the thread that opens it).
func echoRequestsReceived(_ ns: NetworkNamespace) throws -> UInt64 {
    let text = try ns.run { try String(contentsOfFile: "/proc/thread-self/net/snmp", encoding: .utf8) }
    let icmp = text.split(separator: "\n").filter { $0.hasPrefix("Icmp: ") }
    guard icmp.count == 2 else { throw TestFailure("no Icmp lines in /proc/net/snmp") }
    let names = icmp[0].split(separator: " "), values = icmp[1].split(separator: " ")
    guard let i = names.firstIndex(of: "InEchos"), i < values.count, let n = UInt64(values[i]) else {
        throw TestFailure("no InEchos in /proc/net/snmp")
    }
    return n
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
