import Foundation
import Synchronization
import NetnsKit
import NetnsTesting
import Testing

/// Nodes with `isolation: .full` (own hostname, /etc/hosts, resolv.conf, /run, /tmp) and the
/// readiness helpers daemons need.
@Suite(.netnsPrivileges) struct IsolationTests {
    static let topo = Topology("iso") {
        Router("r1", isolation: .full) { Address("10.0.1.1/24") }
        Host("h2") { Address("10.0.1.2/24") }
        Link("r1", "h2")
    }

    func hostHostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(cString: buf)
    }

    @Test func anIsolatedNodeHasItsOwnHostnameAndFiles() async throws {
        let hostsBefore = try String(contentsOfFile: "/etc/hosts", encoding: .utf8)
        let resolvBefore = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)
        let host = hostHostname()
        let lab = try await Lab.up(Self.topo)
        defer { lab.down() }
        let r1 = lab["r1"], h2 = lab["h2"]
        #expect(try await r1.run(["hostname"]).output == "r1\n")
        #expect(try await h2.run(["hostname"]).output == host + "\n") // not isolated: the host's
        let hosts = try await r1.run(["cat", "/etc/hosts"]).output
        #expect(hosts.contains("10.0.1.1\tr1\n") && hosts.contains("10.0.1.2\th2\n"), "\(hosts)")
        #expect(try await h2.run(["cat", "/etc/hosts"]).output == hostsBefore)
        let resolv = try await r1.run(["cat", "/etc/resolv.conf"]).output
        #expect(resolv.contains("nameserver 127.0.0.1"), "\(resolv)")
        // Private, writable /tmp and /run: what the node writes stays in the node.
        let w = try await r1.run(["sh", "-c", "echo hi > /tmp/live-iso-probe && mkdir -p /run/bird && echo ok > /run/bird/x && cat /tmp/live-iso-probe /run/bird/x"])
        #expect(w.output == "hi\nok\n", "\(w)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/live-iso-probe"))
        #expect(!FileManager.default.fileExists(atPath: "/run/bird/x"))
        #expect(try await h2.run(["sh", "-c", "test -e /tmp/live-iso-probe && echo leaked || echo absent"]).output == "absent\n")
        // A background process sees the same.
        let p = try r1.start(["sh", "-c", "hostname; sleep 5"])
        #expect(p.waitForOutput(containing: "r1", timeout: 5), "\(p.output)")
        p.stop(grace: 0)
        // The host is untouched, and relative paths still mean the same inside.
        #expect(hostHostname() == host)
        #expect(try String(contentsOfFile: "/etc/hosts", encoding: .utf8) == hostsBefore)
        #expect((try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) == resolvBefore)
        // (Unless the directory is under /tmp or /run, which are fresh inside: then it is /.)
        let cwd = FileManager.default.currentDirectoryPath
        let inFresh = ["/tmp", "/run"].contains { cwd == $0 || cwd.hasPrefix($0 + "/") }
        #expect(try await r1.run(["pwd"]).output == (inFresh ? "/" : cwd) + "\n")
    }

    /// A pinned lab (what `nslab up` builds) outlives its process: its isolated nodes' mount and
    /// UTS namespaces are pinned under /run/nslab/<LAB>/, opened again from there (as `nslab exec`
    /// does), and removed with the lab.
    @Test func aPinnedLabPinsItsIsolatedNodesAndDownRemovesThem() throws {
        let prefix = "nktest" + String(UInt32.random(in: 0..<UInt32.max), radix: 36)
        let lab = try Lab.up(Self.topo, options: LabOptions(mode: .pinned(prefix: prefix)))
        var torn = false
        defer { if !torn { lab.down() } }
        let dir = "/run/nslab/\(prefix)"
        #expect(FileManager.default.fileExists(atPath: "\(dir)/r1.mnt") && FileManager.default.fileExists(atPath: "\(dir)/r1.uts"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/h2.mnt"), "h2 is not isolated")
        // Opened again from the pins, with a fresh handle on the pinned network namespace.
        let again = try #require(try HostNamespaces.openPinned(directory: dir, node: "r1"))
        let ns = try NetworkNamespace.open(path: "/run/netns/\(prefix)-r1", label: "r1 again")
        ns.hostNamespaces = again
        let r = try Spawner.runBlocking(["sh", "-c", "hostname; grep -c r1 /etc/hosts"], in: ns)
        ns.close()
        #expect(r.output == "r1\n1\n", "\(r)")
        #expect(try HostNamespaces.openPinned(directory: dir, node: "h2") == nil)
        let report = lab.down()
        torn = true
        #expect(report.ok, "\(report)")
        #expect(!FileManager.default.fileExists(atPath: dir))
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(prefix)-r1"))
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(prefix)-h2"))
    }

    @Test func theFileKeyIsReadAndAWrongValueRefused() throws {
        let t = try Topology.load(yaml: "name: f\nnodes:\n  - name: r1\n    isolation: full\n  - name: h1\n")
        #expect(t.nodes.map(\.isolation) == [.full, .network])
        #expect(throws: (any Error).self) { try Topology.load(yaml: "name: f\nnodes:\n  - name: r1\n    isolation: total\n") }
    }

    @Test func listeningSocketsComeFromTheNodesOwnProc() async throws {
        let lab = try await Lab.up(Self.topo)
        defer { lab.down() }
        let h2 = lab["h2"]
        await #expect(throws: NotReadyError.self) { try await h2.waitUntilListening(port: 8080, timeout: .milliseconds(200)) }
        let script = """
        import socket, time
        t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.1", 8080)); t.listen()
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", 5353))
        print("ready", flush=True); time.sleep(10)
        """
        let server = try h2.start(["python3", "-c", script])
        defer { server.stop(grace: 0) }
        // Generous bounds: under the emulated 6.1 kernel python3 alone takes seconds to start.
        try await h2.waitUntilListening(port: 8080, timeout: .seconds(60))
        try await h2.waitUntilListening(port: 5353, .udp, timeout: .seconds(10))
        let s = try h2.listeningSockets()
        #expect(s.map(\.description).contains("tcp 127.0.0.1:8080"), "\(s)")
        #expect(s.map(\.description).contains("udp [::]:5353"), "\(s)")
        // Per namespace: the other node does not see them.
        #expect(!(try lab["r1"].listeningSockets().contains { $0.port == 8080 }))
    }

    @Test func routeCountsAndQuietTables() async throws {
        let lab = try await Lab.up(Self.topo)
        defer { lab.down() }
        let h2 = lab["h2"]
        try h2.addRoute(Route("10.50.0.0/24", via: "10.0.1.1", proto: 12))
        try h2.addRoute(Route("10.51.0.0/24", via: "10.0.1.1", proto: 12))
        try await h2.waitForRoutes(protocol: "bird", count: 2, timeout: .seconds(2))
        await #expect(throws: NotReadyError.self) { try await h2.waitForRoutes(protocol: "bird", count: 3, timeout: .milliseconds(200)) }
        await #expect(throws: NotReadyError.self) { try await h2.waitForRoutes(protocol: "ospf", count: 1, timeout: .milliseconds(100)) }
        try await h2.waitUntilRoutesQuiet(for: .milliseconds(200), timeout: .seconds(2))
        // Routes changing every 20 ms for 2 s, from a thread of its own (neither a busy test
        // pool nor a slow process start under an emulated kernel can pause it). Each change's
        // time is kept: on a loaded machine one route request can wait on RTNL for longer than
        // the quiet period, and then the table really was quiet.
        let changed = Mutex<[ContinuousClock.Instant]>([])
        let churn = try startThread {
            for i in 0..<100 {
                try? h2.addRoute(Route(RouteTarget("10.60.\(i).0/24"), via: "10.0.1.1"))
                changed.withLock { $0.append(.now) }
                usleep(20_000)
            }
        }
        defer { pthread_join(churn, nil) }
        try await h2.waitForRoutes(protocol: "static", count: 3, timeout: .seconds(30))
        let start = ContinuousClock.now
        do {
            try await h2.waitUntilRoutesQuiet(for: .milliseconds(300), timeout: .seconds(1))
            // It may say quiet only after a real pause in the changes (allowing 100 ms for
            // the notification's delivery).
            let end = ContinuousClock.now
            let times = [start] + changed.withLock { $0 }.filter { $0 > start && $0 < end } + [end]
            let longest = zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? .zero
            #expect(longest >= .milliseconds(200), "quiet reported while routes changed at most \(longest) apart")
        } catch is NotReadyError {
            // Routes kept changing: not quiet, as expected.
        }
    }
}
