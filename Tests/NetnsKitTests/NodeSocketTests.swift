import Foundation
import Glibc
import CNetlink
import Namespaces
import NetnsKit
import NetnsTesting
import Synchronization
import Testing

/// h1 — r1 — h2, on addresses no host network uses.
let socketLine = Topology("sockets") {
    Host("h1") { Address("10.77.1.2/24"); Route(.default, via: "10.77.1.1") }
    Router("r1")
    Host("h2") { Address("10.77.2.2/24"); Route(.default, via: "10.77.2.1") }
    Link("h1:eth0", "r1:eth0", bAddress: "10.77.1.1/24")
    Link("r1:eth1", "h2:eth0", aAddress: "10.77.2.1/24")
}

/// Sockets made in nodes: descriptors that belong to the node's namespace, used from any thread.
@Suite struct NodeSocketTests {
    @Test(.lab(socketLine)) func udpExchangeThroughDescriptors() async throws {
        let lab = try #require(Lab.current)
        let server = try lab["h2"].socket(.udp, bindTo: "10.77.2.2", port: 0)
        defer { server.close() }
        #expect(server.port != 0)
        let client = try await lab["h1"].connect(to: "10.77.2.2", port: server.port, kind: .udp)
        defer { client.close() }
        #expect(client.localEndpoint?.address.description == "10.77.1.2")   // chosen by h1's route

        // Plain system calls on this (cooperative) thread: the descriptors keep their namespaces.
        let ping = Array("ping".utf8)
        #expect(send(client.fileDescriptor, ping, ping.count, 0) == ping.count)
        var buf = [UInt8](repeating: 0, count: 64)
        var from = sockaddr_in(), len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try setReceiveTimeout(server.fileDescriptor, seconds: 5)
        let n = withUnsafeMutablePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(server.fileDescriptor, &buf, buf.count, 0, $0, &len) }
        }
        #expect(n == 4 && Array(buf[0..<max(n, 0)]) == ping)
        // The datagram came from h1's address, across the router.
        #expect(String(cString: inet_ntoa(from.sin_addr)) == "10.77.1.2")
        let pong = Array("pong".utf8)
        let sent = withUnsafePointer(to: &from) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(server.fileDescriptor, pong, pong.count, 0, $0, len) }
        }
        #expect(sent == pong.count)
        try setReceiveTimeout(client.fileDescriptor, seconds: 5)
        let m = recv(client.fileDescriptor, &buf, buf.count, 0)
        #expect(m == 4 && Array(buf[0..<max(m, 0)]) == pong)
        lab.expectNoStrayThreads()
    }

    @Test(.lab(socketLine)) func tcpThroughDescriptors() async throws {
        let lab = try #require(Lab.current)
        let listener = try lab["h2"].listen(address: "10.77.2.2")
        defer { listener.close() }
        let client = try await lab["h1"].connect(to: "10.77.2.2", port: listener.port)
        defer { client.close() }
        #expect(client.remoteEndpoint?.port == listener.port)
        let conn = accept(listener.fileDescriptor, nil, nil)
        #expect(conn >= 0)
        defer { close(conn) }
        // Foundation's FileHandle over a descriptor made in a node.
        let out = FileHandle(fileDescriptor: client.fileDescriptor, closeOnDealloc: false)
        try out.write(contentsOf: Data("hello".utf8))
        let inHandle = FileHandle(fileDescriptor: conn, closeOnDealloc: false)
        let got = try inHandle.read(upToCount: 5)
        #expect(got == Data("hello".utf8))
        // A connection refused in h2 (nothing listens on port 1) comes back as ECONNREFUSED.
        await #expect { _ = try await lab["h1"].connect(to: "10.77.2.2", port: 1) } throws: { e in
            (e as? ProbeError)?.errno == .connectionRefused
        }
        lab.expectNoStrayThreads()
    }

    /// The socket is in the node: an address of h2 cannot be bound in h1, nor in the host.
    @Test(.lab(socketLine)) func socketsLiveInTheirNode() async throws {
        let lab = try #require(Lab.current)
        let s = try lab["h2"].socket(.udp, bindTo: "10.77.2.2", port: 0)
        s.close()
        #expect { _ = try lab["h1"].socket(.udp, bindTo: "10.77.2.2", port: 0) } throws: { e in
            (e as? ProbeError)?.errno == .addressNotAvailable
        }
        #expect { _ = try lab["h1"].listen(address: "10.77.2.2", port: 0) } throws: { e in
            (e as? ProbeError)?.errno == .addressNotAvailable
        }
        // Independent view: ss inside h2 shows the listener, ss inside h1 does not.
        let l = try lab["h2"].listen(address: "10.77.2.2", port: 7777)
        defer { l.close() }
        let inH2 = try await lab["h2"].run(["ss", "-Htln"])
        let inH1 = try await lab["h1"].run(["ss", "-Htln"])
        #expect(inH2.output.contains("10.77.2.2:7777"))
        #expect(!inH1.output.contains("7777"))
    }

    @Test(.lab(socketLine)) func badInputIsAClearError() async throws {
        let lab = try #require(Lab.current)
        #expect(throws: NodeSocketError.badAddress("10.77.2", node: "h1")) {
            _ = try lab["h1"].socket(.udp, bindTo: "10.77.2", port: 0)
        }
        #expect(throws: NodeSocketError.familyMismatch(address: "10.77.1.2", family: .ipv6, node: "h1")) {
            _ = try lab["h1"].socket(.udp, family: .ipv6, bindTo: "10.77.1.2")
        }
        await #expect(throws: NodeSocketError.cannotConnect(.raw(protocol: 1), node: "h1")) {
            _ = try await lab["h1"].connect(to: "10.77.2.2", port: 0, kind: .raw(protocol: 1))
        }
        await #expect(throws: NodeSocketError.badTimeout(-1)) {
            _ = try await lab["h1"].connect(to: "10.77.2.2", port: 80, timeout: -1)
        }
        #expect(throws: LabError.self) { _ = try lab["nope"].socket(.tcp) }
        let e = NodeSocketError.badAddress("x", node: "h1")
        #expect(e.description == "socket in node h1: \"x\" is not an IPv4 or IPv6 address")
    }
}

func setReceiveTimeout(_ fd: Int32, seconds: Int) throws {
    var tv = timeval(tv_sec: seconds, tv_usec: 0)
    guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
        throw TestFailure("SO_RCVTIMEO: errno \(errno)")
    }
}

/// The lab's thread audit: stray threads in a node are named; registered ones are not.
@Suite struct LabThreadAuditTests {
    /// Parks a thread inside `ns` (setns on a general-purpose thread: what must never happen),
    /// named like the namespace tests' control so that process-wide audits running meanwhile skip it.
    static func park(in ns: NetworkNamespace) -> (tid: Int32, release: @Sendable () -> Void) {
        let parked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), gone = DispatchSemaphore(value: 0)
        let tid = Mutex<Int32>(0)
        let fd = ns.fd
        Thread.detachNewThread {
            _ = cnl_set_thread_name("nk-audit-ctl")
            if cnl_setns(fd, Int32(CLONE_NEWNET)) == 0 { tid.withLock { $0 = cnl_gettid() } }
            parked.signal()
            release.wait()
            gone.signal()
        }
        parked.wait()
        let t = tid.withLock { $0 }
        return (t, {
            release.signal()
            gone.wait()
            for _ in 0..<200 where ThreadAudit.isAlive(t) { usleep(5_000) }
        })
    }

    @Test(.lab(socketLine)) func auditNamesAThreadLeftInANode() async throws {
        let lab = try #require(Lab.current)
        #expect(lab.threadAudit().isEmpty)
        let (tid, release) = Self.park(in: try lab["r1"].namespace)
        #expect(tid > 0)
        let findings = lab.threadAudit()
        #expect(findings.map(\.thread.tid) == [tid])
        #expect(findings.first?.node == "r1")
        #expect(findings.first?.description.hasPrefix("thread \(tid) (nk-audit-ctl) is in node r1's namespace") == true)
        // Registered for r1, the same thread is allowed there; registered for h1, it is not.
        try lab.registerThreads([tid], in: lab["r1"])
        #expect(lab.threadAudit().isEmpty)
        lab.unregisterThreads([tid])
        try lab.registerThreads([tid], in: lab["h1"])
        #expect(lab.threadAudit().map(\.thread.tid) == [tid])
        lab.unregisterThreads([tid])
        release()
        #expect(lab.threadAudit().isEmpty)
    }

    /// A teardown step runs at down(); one that throws is a teardown problem, and the rest still run.
    @Test(.netnsPrivileges) func teardownStepsRun() throws {
        let lab = try Lab.up(socketLine)
        let ran = Mutex<[String]>([])
        lab.onDown("first") { ran.withLock { $0.append("first") } }
        lab.onDown("second") { ran.withLock { $0.append("second") }; throw TestFailure("boom") }
        let report = lab.down()
        #expect(ran.withLock { $0 } == ["second", "first"])
        #expect(report.problems == ["second: boom"])
        // After the teardown, a new step runs at once.
        lab.onDown("late") { ran.withLock { $0.append("late") } }
        #expect(ran.withLock { $0 }.last == "late")
    }
}
