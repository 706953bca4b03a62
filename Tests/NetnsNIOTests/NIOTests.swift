import Foundation
import Glibc
import CNetlink
import Namespaces
import NetnsKit
import NetnsNIO
import NetnsTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// h1 — r1 — h2, on addresses no host network uses.
let line = Topology("nio") {
    Host("h1") { Address("10.77.1.2/24"); Route(.default, via: "10.77.1.1") }
    Router("r1")
    Host("h2") { Address("10.77.2.2/24"); Route(.default, via: "10.77.2.1") }
    Link("h1:eth0", "r1:eth0", bAddress: "10.77.1.1/24")
    Link("r1:eth1", "h2:eth0", aAddress: "10.77.2.1/24")
}

/// Echoes every byte back.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

/// Collects `expected` bytes and fulfils the promise with them as text.
final class CollectHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var text = ""
    private let expected: Int
    private let promise: EventLoopPromise<String>

    init(expected: Int, promise: EventLoopPromise<String>) { self.expected = expected; self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        text += buffer.readString(length: buffer.readableBytes) ?? ""
        if text.utf8.count >= expected { promise.succeed(text) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }
}

/// An echo server in h2, listening on 10.77.2.2.
func startEchoServer(_ lab: Lab) async throws -> (NodeEventLoopGroup, Channel) {
    let loops = try await lab["h2"].eventLoopGroup()
    let server = try await loops.serverBootstrap
        .childChannelInitializer { ch in
            ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(EchoHandler()) }
        }
        .bind(host: "10.77.2.2", port: 0)
    return (loops, server)
}

/// The client in h1: connects, sends `message`, returns the echo.
func exchange(_ client: NodeClientBootstrap, port: Int, message: String = "hello through r1") async throws -> String {
    let loops = client.loops
    let reply = loops.next().makePromise(of: String.self)
    let channel: Channel
    do {
        channel = try await client
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(CollectHandler(expected: message.utf8.count, promise: reply))
                }
            }
            .connect(host: "10.77.2.2", port: port)
    } catch {
        reply.fail(error)
        throw error
    }
    defer { channel.close(promise: nil) }
    try await loops.value(of: channel.writeAndFlush(ByteBuffer(string: message)))
    return try await loops.value(of: reply.futureResult)
}

@Suite struct NIOTests {
    @Test(.lab(line)) func serverAndClientInTwoNodesAcrossARouter() async throws {
        let lab = try #require(Lab.current)
        let (_, server) = try await startEchoServer(lab)
        let port = try #require(server.localAddress?.port)
        let h1 = try await lab["h1"].eventLoopGroup()
        let echo = try await exchange(h1.clientBootstrap, port: port)
        #expect(echo == "hello through r1")
        // Independent view: the listener is in h2 (ss run inside h2), not in h1.
        let inH2 = try await lab["h2"].run(["ss", "-Htln"])
        let inH1 = try await lab["h1"].run(["ss", "-Htln"])
        #expect(inH2.output.contains("10.77.2.2:\(port)"), "\(inH2.output)")
        #expect(!inH1.output.contains(":\(port)"))
        // The loop threads are in their nodes.
        let h1Inode = try lab["h1"].namespace.inode
        let loopInode = try await h1.value(of: h1.submit { NetworkNamespace.currentThreadInode() })
        #expect(loopInode == h1Inode)
        lab.expectNoStrayThreads()
    }

    /// The same client, after the router blackholes h2: NIO's connect timeout.
    @Test(.lab(line)) func blackholeRouteOnTheRouter() async throws {
        let lab = try #require(Lab.current)
        let (_, server) = try await startEchoServer(lab)
        let port = try #require(server.localAddress?.port)
        let client = try await lab["h1"].eventLoopGroup().clientBootstrap.connectTimeout(.milliseconds(700))
        #expect(try await exchange(client, port: port) == "hello through r1")
        try await run(lab, "r1", ["ip", "route", "add", "blackhole", "10.77.2.2/32"])
        await #expect { _ = try await exchange(client, port: port) } throws: { e in
            if case ChannelError.connectTimeout = e { return true }
            Issue.record("expected a connect timeout, got \(e)")
            return false
        }
        lab.expectNoStrayThreads()
    }

    /// A prohibit route on the router: it answers ICMP "administratively prohibited" (code 13),
    /// which the kernel hands to the connecting socket as EHOSTUNREACH.
    @Test(.lab(line)) func prohibitRouteOnTheRouter() async throws {
        let lab = try #require(Lab.current)
        let (_, server) = try await startEchoServer(lab)
        let port = try #require(server.localAddress?.port)
        let client = try await lab["h1"].eventLoopGroup().clientBootstrap.connectTimeout(.seconds(5))
        #expect(try await exchange(client, port: port) == "hello through r1")
        try await run(lab, "r1", ["ip", "route", "add", "prohibit", "10.77.2.2/32"])
        await #expect { _ = try await exchange(client, port: port) } throws: { e in
            if let io = e as? IOError, io.errnoCode == EHOSTUNREACH { return true }
            Issue.record("expected EHOSTUNREACH, got \(e)")
            return false
        }
        lab.expectNoStrayThreads()
    }

    /// nftables on the router resets the connection: the client sees ECONNREFUSED.
    @Test(.lab(line)) func nftablesResetOnTheRouter() async throws {
        let lab = try #require(Lab.current)
        let (_, server) = try await startEchoServer(lab)
        let port = try #require(server.localAddress?.port)
        let client = try await lab["h1"].eventLoopGroup().clientBootstrap.connectTimeout(.seconds(5))
        #expect(try await exchange(client, port: port) == "hello through r1")
        let rules = """
            table inet nk_reset {
                chain forward {
                    type filter hook forward priority 0; policy accept;
                    ip daddr 10.77.2.2 tcp dport \(port) reject with tcp reset
                }
            }
            """
        try await run(lab, "r1", ["nft", "-f", "-"], stdin: Array(rules.utf8))
        await #expect { _ = try await exchange(client, port: port) } throws: { e in
            if let io = e as? IOError, io.errnoCode == ECONNREFUSED { return true }
            Issue.record("expected ECONNREFUSED, got \(e)")
            return false
        }
        lab.expectNoStrayThreads()
    }

    /// UDP through NIO: a datagram channel in h2 bound on a descriptor made in h2, one in h1
    /// from the node's datagram bootstrap.
    @Test(.lab(line)) func udpThroughNIOAndNodeDescriptors() async throws {
        let lab = try #require(Lab.current)
        let h2 = try await lab["h2"].eventLoopGroup()
        let fd = try lab["h2"].socket(.udp, bindTo: "10.77.2.2", port: 0, nonBlocking: true)
        let port = Int(fd.port)
        // The descriptor route: the socket already is in h2, so NIO may take it from any thread.
        let bound = DatagramBootstrap(group: h2.group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(DatagramEcho()) }
            }
            .withBoundSocket(fd.fileDescriptor)
        let server = try await h2.value(of: bound)
        defer { server.close(promise: nil) }
        let h1 = try await lab["h1"].eventLoopGroup()
        let reply = h1.next().makePromise(of: String.self)
        let client = try await h1.datagramBootstrap
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(DatagramCollect(promise: reply)) }
            }
            .bind(host: "10.77.1.2", port: 0)
        defer { client.close(promise: nil) }
        let to = try SocketAddress(ipAddress: "10.77.2.2", port: port)
        try await h1.value(of: client.writeAndFlush(AddressedEnvelope(remoteAddress: to, data: ByteBuffer(string: "udp"))))
        #expect(try await h1.value(of: reply.futureResult) == "udp from 10.77.2.2")
        lab.expectNoStrayThreads()
    }

    /// NIO's own bootstrap called from the test's thread creates the socket in the test's
    /// namespace (EADDRNOTAVAIL for h2's address); the node's bootstrap binds inside h2.
    @Test(.lab(line)) func nodeBootstrapsCannotGetTheCallersNamespace() async throws {
        let lab = try #require(Lab.current)
        let h2 = try await lab["h2"].eventLoopGroup()
        let plain = ServerBootstrap(group: h2.group).bind(host: "10.77.2.2", port: 0)
        await #expect { _ = try await h2.value(of: plain) } throws: { e in
            (e as? IOError)?.errnoCode == EADDRNOTAVAIL
        }
        let node = try await h2.serverBootstrap.bind(host: "10.77.2.2", port: 0)
        #expect(node.localAddress?.ipAddress == "10.77.2.2")
        // And h1's loops cannot bind h2's address: they are in h1.
        let h1 = try await lab["h1"].eventLoopGroup()
        await #expect { _ = try await h1.serverBootstrap.bind(host: "10.77.2.2", port: 0) } throws: { e in
            (e as? IOError)?.errnoCode == EADDRNOTAVAIL
        }
        try await node.close()
    }

    @Test(.lab(line)) func badInputIsAClearError() async throws {
        let lab = try #require(Lab.current)
        await #expect(throws: NodeEventLoopError.badThreadCount(0)) { _ = try await lab["h1"].eventLoopGroup(threads: 0) }
        #expect(throws: LabError.self) { _ = try lab["nope"].eventLoopGroup() }
        let h1 = try await lab["h1"].eventLoopGroup(threads: 2)
        #expect(h1.threadIDs.count == 2 && Set(h1.threadIDs).count == 2)
        await #expect(throws: NodeEventLoopError.badPort(70000)) {
            _ = try await h1.clientBootstrap.connect(host: "10.77.2.2", port: 70000)
        }
        // Shutting down from one of its own loops would wait for itself: an error, not a hang.
        let fromLoop = try await h1.value(of: h1.submit { () -> String in
            do { try h1.shutdown(); return "no error" } catch { return "\(error)" }
        })
        #expect(fromLoop == "the event loops of node h1 cannot be shut down from one of their own threads")
    }

    /// Control: a thread started from a loop thread is born in the node, and the audit names it.
    @Test(.lab(line)) func auditCatchesAThreadStartedFromALoop() async throws {
        let lab = try #require(Lab.current)
        let h1 = try await lab["h1"].eventLoopGroup()
        #expect(lab.threadAudit().isEmpty)   // the node's own loop threads are allowed
        let parked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), gone = DispatchSemaphore(value: 0)
        let stray = Mutex<Int32>(0)
        // What code on a loop must never do: start a thread (here on purpose, and named so
        // that the process-wide audits of other tests running meanwhile can tell it apart).
        try await h1.value(of: h1.submit {
            Thread.detachNewThread {
                _ = cnl_set_thread_name("nk-audit-ctl")
                stray.withLock { $0 = cnl_gettid() }
                parked.signal()
                release.wait()
                gone.signal()
            }
        })
        parked.wait()
        let tid = stray.withLock { $0 }
        let findings = lab.threadAudit()
        release.signal()
        gone.wait()
        #expect(findings.map(\.thread.tid) == [tid])
        #expect(findings.first?.node == "h1")
        #expect(findings.first?.thread.name == "nk-audit-ctl")
        #expect(findings.first?.description.contains("is in node h1's namespace") == true)
        #expect(!findings.contains { h1.threadIDs.contains($0.thread.tid) })
        // Once it has exited, the lab is clean again (the trait's audit after the test agrees).
        for _ in 0..<200 where ThreadAudit.isAlive(tid) { usleep(5_000) }
        #expect(lab.threadAudit().isEmpty)
    }

    /// The expectation records an issue naming the thread (what the `.lab` trait does after every test).
    @Test(.lab(line)) func expectationNamesTheStrayThread() async throws {
        let lab = try #require(Lab.current)
        let h2 = try await lab["h2"].eventLoopGroup()
        let parked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), gone = DispatchSemaphore(value: 0)
        try await h2.value(of: h2.submit {
            Thread.detachNewThread {
                _ = cnl_set_thread_name("nk-audit-ctl")
                parked.signal()
                release.wait()
                gone.signal()
            }
        })
        parked.wait()
        let tid = try #require(ThreadAudit.threads().first { $0.name == "nk-audit-ctl" && $0.namespaceInode == (try? lab["h2"].namespace.inode) }?.tid)
        withKnownIssue {
            lab.expectNoStrayThreads()
        } matching: { issue in
            "\(issue.kind)".contains("(nk-audit-ctl) is in node h2's namespace")
        }
        release.signal()
        gone.wait()
        for _ in 0..<200 where ThreadAudit.isAlive(tid) { usleep(5_000) }
    }

    /// The `.lab` trait itself: a test body that leaves a stray thread in a node fails, and
    /// the issue names the thread and the node (the trait's scope run directly, as Swift
    /// Testing runs it around a test).
    @Test(.netnsPrivileges) func labTraitFailsATestThatLeavesAStrayThread() async throws {
        let release = DispatchSemaphore(value: 0), gone = DispatchSemaphore(value: 0)
        let stray = Mutex<Int32>(0)
        let test = try #require(Test.current)
        try await withKnownIssue {
            try await LabTrait.lab(line).provideScope(for: test, testCase: nil) {
                let lab = try #require(Lab.current)
                let h1 = try await lab["h1"].eventLoopGroup()
                let parked = DispatchSemaphore(value: 0)
                try await h1.value(of: h1.submit {
                    Thread.detachNewThread {
                        _ = cnl_set_thread_name("nk-audit-ctl")
                        stray.withLock { $0 = cnl_gettid() }
                        parked.signal()
                        release.wait()
                        gone.signal()
                    }
                })
                parked.wait()
            }
        } matching: { issue in
            "\(issue.kind)".contains("(nk-audit-ctl) is in node h1's namespace")
        }
        release.signal()
        gone.wait()
        let tid = stray.withLock { $0 }
        for _ in 0..<200 where ThreadAudit.isAlive(tid) { usleep(5_000) }
    }

    /// The lab shuts the loops down: their threads are gone, nothing is left in the lab's namespaces.
    @Test(.netnsPrivileges) func loopsEndWithTheLab() async throws {
        let lab = try await Lab.up(line)
        let h1 = try await lab["h1"].eventLoopGroup(threads: 2)
        let (_, server) = try await startEchoServer(lab)
        let port = try #require(server.localAddress?.port)
        #expect(try await exchange(h1.clientBootstrap, port: port) == "hello through r1")
        let inodes = Set(try lab.nodes.map { try $0.namespace.inode })
        let tids = h1.threadIDs
        #expect(tids.allSatisfy { ThreadAudit.isAlive($0) })
        let report = lab.down()
        #expect(report.ok, "\(report)")
        #expect(!tids.contains { ThreadAudit.isAlive($0) })
        #expect(!tids.contains { ThreadAudit.registered[$0] != nil })
        let left = ThreadAudit.threads().filter { inodes.contains($0.namespaceInode) && !NamespaceWorker.threadIDs.contains($0.tid) }
        #expect(left.isEmpty, "\(left)")
        // Shutting down again is harmless.
        try h1.shutdown()
    }
}

/// Echoes each datagram to its sender, with "from <its own address>" appended by the client.
final class DatagramEcho: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: envelope.data)), promise: nil)
    }
}

final class DatagramCollect: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let promise: EventLoopPromise<String>
    init(promise: EventLoopPromise<String>) { self.promise = promise }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        let text = envelope.data.readString(length: envelope.data.readableBytes) ?? ""
        promise.succeed("\(text) from \(envelope.remoteAddress.ipAddress ?? "?")")
    }
}

/// Runs a command in a node and fails unless it succeeds.
func run(_ lab: Lab, _ node: String, _ argv: [String], stdin: [UInt8]? = nil,
         sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let r = try await lab[node].run(argv, stdin: stdin, timeout: 10)
    guard r.succeeded else {
        throw NIOTestFailure("\(argv.joined(separator: " ")) in \(node): status \(r.status): \(r.errorOutput)")
    }
}

struct NIOTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
