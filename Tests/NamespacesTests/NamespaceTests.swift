import Foundation
import CNetlink
import Glibc
@testable import Namespaces
import Netlink
import Synchronization
import Testing

private let nsSuite = canCreateNamespaces

@Suite(.enabled(if: nsSuite, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct SysctlTests {
    @Test func perNamespace() throws {
        let hostBefore = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
        try withNamespaces("fwd", "nofwd") { ns in
            let (a, b) = (ns[0], ns[1])
            #expect(try a.sysctl("net.ipv4.ip_forward") == "0")
            try a.setSysctl("net.ipv4.ip_forward", "1")
            // "0 0": a group range that is mapped even in a rootless user namespace.
            try a.setSysctls([("net.ipv4.ping_group_range", "0 0"), ("net.ipv6.conf.all.forwarding", "1")])
            #expect(try a.sysctl("net.ipv4.ip_forward") == "1")
            #expect(try a.sysctl("/proc/sys/net/ipv6/conf/all/forwarding") == "1")
            #expect(try a.sysctl("net.ipv4.ping_group_range") == "0\t0")
            #expect(try b.sysctl("net.ipv4.ip_forward") == "0")
            // The independent view: a process in each namespace reads /proc.
            let ra = try Spawner.runBlocking(["cat", "/proc/sys/net/ipv4/ip_forward"], in: a, timeout: 10)
            let rb = try Spawner.runBlocking(["cat", "/proc/sys/net/ipv4/ip_forward"], in: b, timeout: 10)
            #expect(ra.output == "1\n" && rb.output == "0\n")
        }
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == hostBefore)
    }

    @Test(arguments: ["kernel.hostname", "net.ipv4/../../kernel/hostname", "net..ipv4", "/proc/sys/kernel/hostname", "vm.swappiness"])
    func onlyNetKeys(key: String) throws {
        try withNamespaces("keys") { ns in
            #expect(throws: SystemCallError.self) { try ns[0].setSysctl(key, "x") }
        }
    }

    @Test func writtenAtCreation() throws {
        let ns = try NetworkNamespace.create(label: "sysctl-at-birth", sysctls: [
            SysctlWrite("net.ipv4.ip_forward", "1"),
            SysctlWrite("net.ipv4.no_such_knob", "1", optional: true),
            SysctlWrite("net.ipv6.conf.default.accept_dad", "0"),
        ])
        defer { ns.close() }
        #expect(try ns.sysctl("net.ipv4.ip_forward") == "1")
        // Written before any link existed: a link made now inherits the default.
        try ns.socket.execute(.newLink(LinkSpec(name: "late0", kind: .veth(peer: VethPeer(name: "late1")))))
        #expect(try ns.sysctl("net.ipv6.conf.late0.accept_dad") == "0")
        #expect(try ns.sysctl("net.ipv4.conf.lo.forwarding") == "1")
        // A required one that the kernel lacks fails the creation, naming it.
        let e = #expect(throws: SysctlWriteError.self) {
            try NetworkNamespace.create(label: "bad", sysctls: [SysctlWrite("net.ipv4.ip_forward", "1"),
                                                                SysctlWrite("net.ipv4.no_such_knob", "2")])
        }
        #expect(e?.key == "net.ipv4.no_such_knob" && e?.index == 1 && e?.errno == .noSuchFileOrDirectory)
        #expect(throws: SystemCallError.self) { try NetworkNamespace.create(sysctls: [SysctlWrite("kernel.hostname", "x")]) }
    }

    @Test func unknownKeyIsENOENT() throws {
        try withNamespaces("nokey") { ns in
            let e = #expect(throws: SystemCallError.self) { try ns[0].sysctl("net.ipv4.no_such_knob") }
            #expect(e?.errno == .noSuchFileOrDirectory)
        }
    }
}

@Suite(.enabled(if: nsSuite, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct SpawnerTests {
    @Test func outputAndStatus() throws {
        let r = try Spawner.runBlocking(["sh", "-c", "echo out; echo err >&2; echo \"$NKT_X\"; exit 3"], in: nil,
                                        environment: ["NKT_X=hello"], timeout: 10)
        #expect(r.status == 3)
        #expect(r.output == "out\nhello\n")
        #expect(r.errorOutput == "err\n")
        #expect(!r.timedOut && !r.succeeded)
        let cat = try Spawner.runBlocking(["cat"], in: nil, stdin: Array("piped".utf8), timeout: 10)
        #expect(cat.output == "piped" && cat.succeeded)
        let killed = try Spawner.runBlocking(["sh", "-c", "kill -9 $$"], in: nil, timeout: 10)
        #expect(killed.status == 128 + 9)
    }

    @Test func missingProgram() {
        let e = #expect(throws: SystemCallError.self) { try Spawner.runBlocking(["/nonexistent/nkt-prog"], in: nil, timeout: 5) }
        #expect(e?.errno == .noSuchFileOrDirectory)
    }

    @Test func timeoutKillsTheChild() throws {
        let t0 = monotonicNow()
        let r = try Spawner.runBlocking(["sleep", "5"], in: nil, timeout: 0.3)
        let took = monotonicNow() - t0
        #expect(r.timedOut)
        #expect(r.status == 128 + 9)
        #expect(took < 2, "took \(took) s")
    }

    @Test func timeoutAlsoWhenTheChildClosedItsOutput() throws {
        // A child that closes stdout/stderr but keeps running must still be killed at the deadline.
        let t0 = monotonicNow()
        let r = try Spawner.runBlocking(["sh", "-c", "exec >/dev/null 2>&1; sleep 5"], in: nil, timeout: 0.3)
        let took = monotonicNow() - t0
        #expect(r.timedOut)
        #expect(took < 2, "took \(took) s")
    }

    @Test func runsInsideTheNamespace() async throws {
        let ns = try NetworkNamespace.create(label: "spawn")
        defer { ns.close() }
        try ns.socket.execute(.newLink(LinkSpec(name: "only-here", kind: .bridge())))
        let r = try await Spawner.run(["ip", "-o", "link", "show"], in: ns, timeout: 10)
        #expect(r.succeeded)
        let names = r.output.split(separator: "\n").map { String($0.split(separator: " ")[1].dropLast().split(separator: "@")[0]) }
        #expect(ours(names) == ["lo", "only-here"])
        // (No wall-time check here: resuming depends on the cooperative pool; timeoutKillsTheChild times it.)
        let slow = try await Spawner.run(["sleep", "5"], in: ns, timeout: 0.3)
        #expect(slow.timedOut && slow.status == 128 + 9)
    }
}

@Suite(.enabled(if: nsSuite, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct LifecycleTests {
    @Test(.enabled(if: !Capabilities.inUserNamespace, "pinning under /run/netns needs the initial mount namespace (rootless: a private one)"))
    func pinAndUnpin() throws {
        let name = "nkt-pin-\(uniqueSuffix())"
        let ns = try NetworkNamespace.create(label: "pin")
        defer { ns.unpin(); ns.close() }
        try ns.socket.execute(.newLink(LinkSpec(name: "pinned0", kind: .bridge())))
        try ns.pin(name: name)
        #expect(ns.pinnedPath == "/run/netns/\(name)")
        let listed = try Spawner.runBlocking(["ip", "netns", "list"], in: nil, timeout: 10)
        #expect(listed.output.split(separator: "\n").contains { $0.split(separator: " ").first.map(String.init) == name })
        // iproute2 enters it by name and sees our link.
        let inside = try Spawner.runBlocking(["ip", "-n", name, "-o", "link", "show", "pinned0"], in: nil, timeout: 10)
        #expect(inside.succeeded && inside.output.contains("pinned0"))
        // Opened again by name: the same namespace.
        let again = try NetworkNamespace.open(name: name)
        #expect(again.inode == ns.inode && again.cookie == ns.cookie)
        again.close()
        // The name is taken now.
        let other = try NetworkNamespace.create(label: "pin2")
        defer { other.close() }
        let taken = #expect(throws: SystemCallError.self) { try other.pin(name: name) }
        #expect(taken?.errno == .fileExists)
        #expect(throws: SystemCallError.self) { try other.pin(name: "../etc") }

        ns.unpin()
        #expect(ns.pinnedPath == nil)
        #expect(access("/run/netns/\(name)", F_OK) != 0)
        let after = try Spawner.runBlocking(["ip", "netns", "list"], in: nil, timeout: 10)
        #expect(!after.output.contains(name))
        // Still alive: the handle holds it.
        #expect(try ns.socket.link(named: "pinned0").kind == "bridge")
    }

    /// Pin files are links to one inode per process: pinning must go on working after every
    /// earlier pin is gone (an inode without links cannot be linked again).
    @Test(.enabled(if: !Capabilities.inUserNamespace, "pinning under /run/netns needs the initial mount namespace (rootless: a private one)"))
    func pinAgainAfterEveryPinIsGone() throws {
        let base = "nkt-repin-\(uniqueSuffix())"
        for round in 0..<3 {
            let a = try NetworkNamespace.create(label: "a"), b = try NetworkNamespace.create(label: "b")
            defer { a.unpin(); b.unpin(); a.close(); b.close() }
            try a.pin(name: "\(base)-a\(round)")
            try b.pin(name: "\(base)-b\(round)")
            // Two names, two namespaces, as iproute2 sees them.
            let ia = try Spawner.runBlocking(["ip", "netns", "identify"], in: a, timeout: 10).output
            let ib = try Spawner.runBlocking(["ip", "netns", "identify"], in: b, timeout: 10).output
            #expect(ia.contains("\(base)-a\(round)") && !ia.contains("\(base)-b\(round)"), "\(ia)")
            #expect(ib.contains("\(base)-b\(round)") && !ib.contains("\(base)-a\(round)"), "\(ib)")
            a.unpin(); b.unpin()
            #expect(access("/run/netns/\(base)-a\(round)", F_OK) != 0 && access("/run/netns/\(base)-b\(round)", F_OK) != 0)
        }
    }

    @Test func openByPidAndIdentity() throws {
        let me = try NetworkNamespace.open(pid: getpid())
        defer { me.close() }
        var st = stat()
        #expect(stat("/proc/self/ns/net", &st) == 0)
        #expect(me.inode == UInt64(st.st_ino))
        #expect(me.cookie != nil)
        let fresh = try NetworkNamespace.create(label: "ident")
        defer { fresh.close() }
        #expect(fresh.inode != me.inode)
        #expect(fresh.cookie != nil && fresh.cookie != me.cookie)
        // The namespace of our own process has eth0 or at least lo; the fresh one only lo
        // (and the kernel's fallback tunnel devices where their modules are loaded).
        #expect(ours(try fresh.socket.links().map(\.name)) == ["lo"])
        #expect(try fresh.socket.link(named: "lo").isUp)
        // A closed handle refuses to run.
        let closed = try NetworkNamespace.create(label: "closed")
        closed.close()
        #expect(closed.fd == -1)
        #expect(throws: SystemCallError.self) { try closed.run { 1 } }
    }

    @Test func nestedRunsEnterAndReturn() throws {
        try withNamespaces("outer", "inner") { ns in
            let (a, b) = (ns[0], ns[1])
            // Each nested call sees its own namespace, and the outer job is back in its own after.
            let seen = try a.run { () throws -> [UInt64?] in
                let first = NetworkNamespace.currentThreadInode()
                let inner = try b.run { NetworkNamespace.currentThreadInode() }
                let home = try NamespaceWorker.shared.run(in: nil) { NetworkNamespace.currentThreadInode() }
                let again = NetworkNamespace.currentThreadInode()
                // Sysctls and a lazily opened socket from inside a job.
                _ = try b.sysctl("net.ipv4.ip_forward")
                return [first, inner, home, again]
            }
            #expect(seen == [a.inode, b.inode, NetworkNamespace.currentThreadInode(), a.inode])
            #expect(NamespaceWorker.shared.threadID != currentThreadID())
        }
    }

    @Test func oneSocketSharedByManyThreads() throws {
        try withNamespaces("shared") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "sh0", kind: .veth(peer: VethPeer(name: "sh1")), up: true)))
            let idx = try s.link(named: "sh0").index
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            for t in 0..<4 {
                group.enter()
                Thread.detachNewThread {
                    defer { group.leave() }
                    do {
                        for k in 0..<5 {
                            // Pipelined adds interleaved with dumps and gets from the other threads.
                            try s.execute((0..<50).map { i in
                                .newAddress(index: idx, IPPrefix(.v4(0x0A37_0000 | UInt32(t << 12 | k << 6 | i)), 32))
                            })
                            _ = try s.addresses(family: AF.inet)
                            _ = try s.link(index: idx)
                        }
                    } catch {
                        failures.withLock { $0.append("thread \(t): \(error)") }
                    }
                }
            }
            #expect(group.wait(timeout: .now() + 30) == .success)
            #expect(failures.withLock { $0 } == [])
            let mine = try s.addresses(family: AF.inet).filter { $0.index == UInt32(idx) }
            #expect(mine.count == 4 * 5 * 50)
        }
    }

    @Test func notifications() throws {
        try withNamespaces("notify") { ns in
            let watcher = try ns[0].run { try RTNetlinkSocket(label: "watcher") }
            try watcher.subscribe(group: RTNLGroup.link)
            try ns[0].socket.execute(.newLink(LinkSpec(name: "note0", kind: .bridge())))
            var seen: [String] = []
            let end = monotonicNow() + 3
            while monotonicNow() < end && !seen.contains("note0") {
                for m in try watcher.waitForMessages(timeout: 0.5) where m.type == RTM.newLink {
                    seen.append(try LinkInfo(message: m).name)
                }
            }
            #expect(seen.contains("note0"))
        }
    }

    @Test func executeAlwaysWaitsForAcks() throws {
        try withNamespaces("acks") { ns in
            let s = try ns[0].socket
            // A get has no NLM_F_ACK of its own; execute must still come back (not hang until the timeout).
            let t0 = monotonicNow()
            let results = try s.executeCollecting([.getLink(name: "lo"), .getLink(name: "nope0")])
            #expect(results[0] == nil)
            #expect(results[1]?.errno == .operationNotSupportedByDevice)
            #expect(monotonicNow() - t0 < 5, "must not wait for the 10 s receive timeout")
        }
    }

    @Test func namespaceHeldOnlyByAKilledChildVanishesWithItsLinks() throws {
        let a = try NetworkNamespace.create(label: "keeper")
        defer { a.close() }
        var b: NetworkNamespace? = try NetworkNamespace.create(label: "doomed")
        try a.socket.execute(.newLink(LinkSpec(name: "keep0", kind: .veth(peer: VethPeer(name: "doom0", namespaceFD: b!.fd)))))
        let pidFile = "/tmp/nkt-holder-\(uniqueSuffix()).pid"
        defer { unlink(pidFile) }
        // The holder is waited for on a thread of its own (not a Task: the cooperative pool
        // may be busy with other tests for seconds).
        let result = Mutex<Result<ProcessResult, Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let holderNS = b!
        Thread.detachNewThread {
            let r = Result {
                try Spawner.runBlocking(["sh", "-c", "echo $$ > \(pidFile).tmp && mv \(pidFile).tmp \(pidFile) && exec sleep 30"],
                                        in: holderNS, timeout: 30)
            }
            result.withLock { $0 = r }
            finished.signal()
        }
        #expect(eventually(timeout: 10) { access(pidFile, F_OK) == 0 })
        let pidText = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pid = try #require(Int32(pidText))
        // The child is in B.
        let viaPid = try NetworkNamespace.open(pid: pid)
        #expect(viaPid.inode == b!.inode)
        viaPid.close()
        // Drop every handle of ours: the child alone holds B now, so the pair lives on.
        b!.close()
        b = nil
        #expect(try a.socket.links().map(\.name).contains("keep0"))
        #expect(kill(pid, SIGKILL) == 0)
        #expect(finished.wait(timeout: .now() + 10) == .success)
        let r = try #require(try result.withLock { $0 }?.get())
        #expect(r.status == 128 + 9 && !r.timedOut)
        // B is destroyed (asynchronously) and its veth end with it, which takes our end too.
        let t0 = monotonicNow()
        #expect(try eventually(timeout: 5) { try !a.socket.links().map(\.name).contains("keep0") })
        print("namespace teardown after SIGKILL of its only holder: keep0 gone after \(Int((monotonicNow() - t0) * 1000)) ms")
        #expect(try ipLinkNames(a) == ["lo"])
    }

    @Test func concurrentTasksNeverSeeEachOthersObjects() async throws {
        let n = 8
        let results = try await withThrowingTaskGroup(of: (Int, [String], [String], UInt64?).self) { group in
            for i in 0..<n {
                group.addTask {
                    let ns = try NetworkNamespace.create(label: "par\(i)")
                    defer { ns.close() }
                    let s = try ns.socket
                    // Same names in every namespace: no EEXIST across namespaces.
                    try s.execute(.newLink(LinkSpec(name: "same0", kind: .veth(peer: VethPeer(name: "same1")), up: true)))
                    let idx = try s.link(named: "same0").index
                    try s.execute(.newAddress(index: idx, IPPrefix("10.0.\(i).1/24")!))
                    try s.execute(.newLink(LinkSpec(name: "own\(i)", kind: .bridge())))
                    for _ in 0..<20 { _ = try s.links(); _ = try s.addresses(family: AF.inet) }
                    let links = ours(try s.links().map(\.name)).sorted()
                    let addrs = try s.addresses(family: AF.inet).map { "\($0.prefix)" }.sorted()
                    let ip = try ipLinkNames(ns)
                    if ip != Set(links) { throw TestFailure("ip sees \(ip), we see \(links)") }
                    return (i, links, addrs, ns.cookie)
                }
            }
            var all: [(Int, [String], [String], UInt64?)] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.count == n)
        for (i, links, addrs, _) in results {
            #expect(links == ["lo", "own\(i)", "same0", "same1"].sorted())
            #expect(addrs == ["10.0.\(i).1/24", "127.0.0.1/8"])
        }
        #expect(Set(results.compactMap(\.3)).count == n)
    }
}

private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

@Suite(.enabled(if: nsSuite, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct DumpConsistencyTests {
    /// Adds `count` /32 routes (or addresses) on r0 in table 100, pipelined.
    private func fill(_ s: RTNetlinkSocket, index: Int32, count: Int, addresses: Bool) throws {
        let base = IPAddress.v4(0x0A64_0000) // 10.100.0.0
        try s.execute((0..<count).map { i -> NetlinkRequest in
            let a = base.adding(UInt64(i))
            if addresses { return .newAddress(index: index, IPPrefix(a, 32)) }
            var r = RouteInfo(family: AF.inet, destination: IPPrefix(a, 32), outputIndex: index)
            r.table = 100
            return .newRoute(r)
        })
    }

    /// Dumps repeatedly while another socket changes the same kind of object; checks every
    /// result is consistent (no duplicates, nothing missing) and counts the retries.
    private func tornDump(addresses: Bool, paceFactor: Int) throws -> (retries: Int, dumps: Int, gaveUp: Int, quietMs: Int) {
        let n = try NetworkNamespace.create(label: addresses ? "torn-addr" : "torn-route")
        defer { n.close() }
        let s = try n.socket
        try s.execute(.newLink(LinkSpec(name: "r0", kind: .veth(peer: VethPeer(name: "r1")), up: true)))
        try s.execute(.setLink(name: "r1", LinkChange(up: true), what: "r1 up"))
        let r0 = try s.link(named: "r0").index
        let count = 5000
        try fill(s, index: r0, count: count, addresses: addresses)
        // How long one quiet dump takes: churn paced at a multiple of it leaves retries a chance.
        var t0 = monotonicNow()
        _ = addresses ? try s.addresses(family: AF.inet).count : try s.routes(family: AF.inet, table: 100).count
        let quiet = monotonicNow() - t0
        // (Scaled, not capped at a figure of this machine's: under software emulation one
        // quiet dump takes seconds.)
        let pace = UInt32(min(10, quiet * Double(paceFactor)) * 1e6)
        let churn = try n.run { try RTNetlinkSocket(label: "churn") }
        let stop = StopFlag()
        let churnDone = DispatchSemaphore(value: 0)
        let churnError = Mutex<String?>(nil)
        Thread.detachNewThread {
            defer { churnDone.signal() }
            var extra = RouteInfo(family: AF.inet, destination: IPPrefix("10.200.0.0/16")!, outputIndex: r0)
            extra.table = 100
            let p = IPPrefix("10.201.0.1/32")!
            // Bounded: at most 100k changes, or until told to stop.
            for _ in 0..<50_000 where !stop.value.load(ordering: .relaxed) {
                do {
                    if addresses {
                        try churn.execute([.newAddress(index: r0, p), .deleteAddress(index: r0, p)])
                    } else {
                        try churn.execute([.newRoute(extra), .deleteRoute(extra)])
                    }
                } catch {
                    churnError.withLock { $0 = "\(error)" }
                    return
                }
                // Paced, so that some retries find a quiet window and succeed.
                if pace > 0 { usleep(pace) }
            }
        }
        defer { stop.value.store(true, ordering: .relaxed); churnDone.wait() }
        let before = s.interruptedDumps
        var dumps = 0, gaveUp = 0
        let deadline = monotonicNow() + max(10, quiet * 15)
        t0 = 0
        while dumps < 40 && monotonicNow() < deadline && (dumps < 10 || s.interruptedDumps == before) {
            dumps += 1
            do {
                let keys: [String]
                if addresses {
                    keys = try s.addresses(family: AF.inet).filter { $0.index == UInt32(r0) }.map { "\($0.prefix)" }
                } else {
                    keys = try s.routes(family: AF.inet, table: 100).map(\.destinationText)
                }
                // Consistent: every fixed object exactly once; the churned one at most once.
                #expect(keys.count == Set(keys).count, "duplicates in a dump")
                let fixed = keys.filter { $0.hasPrefix("10.100.") || $0.hasPrefix("10.101.") }
                #expect(fixed.count == count, "\(fixed.count) of \(count) in a dump")
            } catch is InconsistentDumpError {
                gaveUp += 1
            }
        }
        stop.value.store(true, ordering: .relaxed)
        #expect(churnError.withLock { $0 } == nil)
        return (s.interruptedDumps - before, dumps, gaveUp, Int(quiet * 1000))
    }

    @Test func tornAddressDumpIsRetried() throws {
        let r = try tornDump(addresses: true, paceFactor: 2)
        print("address dumps (quiet: \(r.quietMs) ms) under churn: \(r.dumps) dumps, \(r.retries) interrupted attempts retried, \(r.gaveUp) gave up")
        // Address dumps carry the kernel's consistency check (inet_base_seq): churn must trip it,
        // and with paced churn some retried dumps must come back whole (checked inside).
        #expect(r.retries >= 1)
        #expect(r.gaveUp < r.dumps)
    }

    @Test func tornRouteDumpIsConsistent() throws {
        let r = try tornDump(addresses: false, paceFactor: 0)
        print("route dumps (quiet: \(r.quietMs) ms) under churn: \(r.dumps) dumps, \(r.retries) interrupted attempts retried, \(r.gaveUp) gave up")
        #expect(r.dumps >= 5)
    }
}

@Suite(.enabled(if: nsSuite, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct CapabilityAndThreadTests {
    @Test(.enabled(if: getuid() == 0, "checks the root case")) func rootHasEverything() throws {
        let uidMap = try String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8)
        #expect(Capabilities.inUserNamespace == (uidMap.split(whereSeparator: \.isWhitespace) != ["0", "0", "4294967295"]))
        #expect(Capabilities.missing().isEmpty)
        #expect(Capabilities.has(.netAdmin) && Capabilities.has(.sysAdmin))
        try Capabilities.require()
        #expect(!Capabilities.text().isEmpty && Capabilities.text() != "?")
    }

    @Test func missingCapabilitiesErrorSaysHowToFix() {
        let e = MissingCapabilitiesError(missing: [.netAdmin, .sysAdmin])
        let text = e.description
        #expect(text.contains("CAP_NET_ADMIN and CAP_SYS_ADMIN"))
        #expect(text.contains("root"))
        #expect(text.contains("--cap-add NET_ADMIN --cap-add SYS_ADMIN"))
        #expect(text.contains("unshare --user --map-root-user --net"))
    }

}

/// Threads of this process that are not in the process's own network namespace, except `excluding`.
/// The name the control test gives the thread it contaminates on purpose; every other audit
/// (they run in parallel with it) ignores that thread.
let contaminationControlName = "nk-audit-ctl"

func threadsInForeignNamespaces(excluding: Set<Int32>, ignoringControl: Bool = true) throws -> [(tid: Int32, name: String, ns: String)] {
    func readLink(_ p: String) -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = readlink(p, &buf, buf.count - 1)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
    guard let home = readLink("/proc/self/ns/net") else { throw TestFailure("cannot read /proc/self/ns/net") }
    // Everything under the audit lock: a loop thread created and registered between reading
    // the register and reading the threads' namespaces would look like an intruder.
    return try ThreadAudit.auditing {
    let registered = ThreadAudit.registered
    var foreign: [(Int32, String, String)] = []
    for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
        // A thread may exit while we look: then its links are gone, skip it.
        guard let tid = Int32(entry), !excluding.contains(tid), let ns = readLink("/proc/self/task/\(entry)/ns/net") else { continue }
        // Threads that live in a node on purpose (NetnsNIO's event loops, in tests running meanwhile).
        if let inode = registered[tid], ns == "net:[\(inode)]" { continue }
        if ns != home {
            let name = ((try? String(contentsOfFile: "/proc/self/task/\(entry)/comm", encoding: .utf8)) ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if ignoringControl && name == contaminationControlName { continue }
            foreign.append((tid, name, ns))
        }
    }
    return foreign
    }
}

/// Serialized: the control test parks a thread in a foreign namespace on purpose.
@Suite(.serialized, .enabled(if: nsSuite, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct ThreadAuditTests {
    /// No thread but the namespace worker may ever sit in a foreign namespace.
    @Test func onlyTheWorkerEverLeavesHome() async throws {
        // Exercise every path that enters namespaces, including async ones.
        let ns = try NetworkNamespace.create(label: "audit")
        defer { ns.close() }
        _ = try ns.sysctl("net.ipv4.ip_forward")
        _ = try await Spawner.run(["true"], in: ns, timeout: 10)
        _ = try Spawner.runBlocking(["true"], in: ns, timeout: 10)
        _ = try ns.run { try RTNetlinkSocket(label: "x") }
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<4 { g.addTask { _ = try await Spawner.run(["true"], in: ns, timeout: 10) } }
            try await g.waitForAll()
        }
        let workers = NamespaceWorker.threadIDs
        #expect(!workers.contains(0))
        let foreign = try threadsInForeignNamespaces(excluding: workers)
        #expect(foreign.isEmpty, "threads outside the process's namespace: \(foreign)")
    }

    /// Control: the audit does catch a thread left in a foreign namespace.
    @Test func auditCatchesAContaminatedThread() throws {
        let ns = try NetworkNamespace.create(label: "contaminate")
        defer { ns.close() }
        let parked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), gone = DispatchSemaphore(value: 0)
        let tid = Mutex<Int32>(0)
        let fd = ns.fd
        Thread.detachNewThread {
            // Named first, so the audits of other tests running meanwhile can tell it apart.
            _ = cnl_set_thread_name(contaminationControlName)
            // What application code must never do: setns on a general-purpose thread.
            if cnl_setns(fd, Int32(CLONE_NEWNET)) == 0 { tid.withLock { $0 = currentThreadID() } }
            parked.signal()
            release.wait()
            gone.signal() // the thread exits right after (taking its namespace reference with it)
        }
        parked.wait()
        let bad = tid.withLock { $0 }
        #expect(bad > 0)
        let foreign = try threadsInForeignNamespaces(excluding: NamespaceWorker.threadIDs, ignoringControl: false)
        release.signal()
        gone.wait()
        #expect(foreign.map(\.tid) == [bad])
    }
}
