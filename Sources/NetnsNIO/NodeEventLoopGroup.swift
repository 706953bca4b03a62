import Dispatch
import Glibc
import CNetlink
import Namespaces
import NetnsKit
import NIOCore
import NIOPosix
import Synchronization

/// SwiftNIO event loops whose threads live inside one lab node.
///
/// The loop threads are created from the namespace worker while it is inside the node, so
/// they are born in the node's namespace (a thread inherits its creator's namespace), and
/// every socket opened on them belongs to the node: a server bound there listens in the node,
/// a client connects from the node, and a handler that opens another connection opens it in
/// the node too. Get one from ``NetnsKit/Node/eventLoopGroup(threads:)-1qf8s``; the lab shuts it down
/// at teardown.
///
/// - Important: open channels through ``serverBootstrap``, ``clientBootstrap`` and
///   ``datagramBootstrap``, or from code already running on these loops. NIO's own
///   bootstraps create their socket on the *calling* thread, so `ServerBootstrap(group:
///   loops.group).bind(…)` called from a test creates the socket in the test's namespace.
///   And code on these loops must not start helper threads (`DispatchQueue.async`,
///   `NIOThreadPool`, `Task {}`, resuming a continuation): they would be born in the node and
///   stay there. Await futures with ``value(of:)``, which resumes the waiting task from a
///   thread outside the node. The lab's thread audit reports any thread that breaks this rule.
public final class NodeEventLoopGroup: Sendable, CustomStringConvertible {
    /// The node the loops live in.
    public let node: String
    /// The NIO group. Its threads live in the node; see the rule above before using it directly,
    /// and leave its shutdown to the lab (or ``shutdown()``): NIO's own shutdown hands its
    /// completion to a `DispatchQueue` from each loop thread, inside the node.
    public let group: MultiThreadedEventLoopGroup
    /// The kernel thread ids of the loop threads.
    public let threadIDs: [Int32]
    private let shutDown = Mutex(false)

    init(node: Node, lab: Lab, threads: Int) throws {
        guard (1...64).contains(threads) else { throw NodeEventLoopError.badThreadCount(threads) }
        let ns = try node.namespace
        self.node = node.name
        // The relay thread must exist before anything is posted to it from a loop.
        _ = RelayThread.shared
        // Audits wait while the threads are born and until they are registered.
        (group, threadIDs) = try ThreadAudit.registering {
            let group = try ns.run { MultiThreadedEventLoopGroup(numberOfThreads: threads) }
            var tids: [Int32] = []
            for loop in group.makeIterator() {
                tids.append(try loop.submit { cnl_gettid() }.wait())
            }
            try lab.registerThreads(tids, in: node)
            return (group, tids)
        }
    }

    /// The number of loops and the node they live in.
    public var description: String { "\(threadIDs.count) event loop(s) in node \(node)" }

    /// The next loop of the group.
    public func next() -> EventLoop { group.next() }

    /// A server bootstrap whose listening socket is always created on a loop of this group.
    public var serverBootstrap: NodeServerBootstrap { NodeServerBootstrap(loops: self) }
    /// A client bootstrap whose sockets are always created on a loop of this group.
    public var clientBootstrap: NodeClientBootstrap { NodeClientBootstrap(loops: self) }
    /// A datagram (UDP) bootstrap whose sockets are always created on a loop of this group.
    public var datagramBootstrap: NodeDatagramBootstrap { NodeDatagramBootstrap(loops: self) }

    /// Waits for a future without starting a thread inside the node.
    ///
    /// `try await future.get()` resumes the waiting task from the loop thread that completes
    /// the future; when Swift's thread pool is short of a thread at that moment, libdispatch
    /// creates one *from that loop thread*, inside the node, and it stays there. Here the
    /// task is resumed from NetnsKit's relay thread, which lives outside every node.
    public func value<T: Sendable>(of future: EventLoopFuture<T>) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            future.whenComplete { result in RelayThread.shared.post { c.resume(with: result) } }
        }
    }

    /// Runs `body` on a loop of this group (inside the node) and returns its future.
    public func submit<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> EventLoopFuture<T> {
        group.next().submit(body)
    }

    /// Whether the calling thread is one of this group's loop threads.
    var isOnLoop: Bool { threadIDs.contains(cnl_gettid()) }

    /// Shuts the loops down: each loop thread first leaves the node (back to the process's
    /// namespace), then NIO closes the loops and joins their threads. Idempotent; the lab
    /// does it at teardown.
    ///
    /// NIO's shutdown hands its completion to a `DispatchQueue` from each loop thread, which
    /// can start a libdispatch worker there; leaving the node first keeps that worker out of it.
    /// - Throws: ``NodeEventLoopError/shutdownFromLoop(node:)`` when called on one of the loops (it
    ///   would wait for itself), or NIO's error.
    public func shutdown() throws {
        if isOnLoop { throw NodeEventLoopError.shutdownFromLoop(node: node) }
        let first = shutDown.withLock { s -> Bool in defer { s = true }; return !s }
        guard first else { return }
        var problems: [String] = []
        let home = Glibc.open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        if home >= 0 {
            defer { Glibc.close(home) }
            var left: [Int32] = []
            for (loop, tid) in zip(group.makeIterator(), threadIDs) {
                // Shut down through `group` directly: the thread has been joined, nothing to do.
                // (Submitting to a closed loop would drop the task and leak its promise.)
                guard ThreadAudit.isAlive(tid) else { continue }
                let done = TimedSemaphore()
                let rc = Mutex<Int32>(-1)
                loop.execute {
                    rc.withLock { $0 = cnl_setns(home, Int32(CLONE_NEWNET)) == 0 ? 0 : errno }
                    done.signal()
                }
                if !done.wait(seconds: 5) {
                    problems.append("loop thread \(tid) of node \(node) did not run the step home (is the group shutting down elsewhere?)")
                } else if rc.withLock({ $0 }) != 0 {
                    problems.append("loop thread \(tid) could not leave node \(node) (errno \(rc.withLock { $0 }))")
                } else {
                    left.append(tid)
                }
            }
            ThreadAudit.unregister(left)
        } else {
            problems.append("cannot open /proc/self/ns/net (errno \(errno))")
        }
        // NIO's syncShutdownGracefully completes on DispatchQueue.global(), whose few threads
        // can all be busy in a loaded test run; a queue of our own gets a thread regardless.
        let done = TimedSemaphore()
        let failure = Mutex<String?>(nil)
        group.shutdownGracefully(queue: DispatchQueue(label: "netnskit.nio.shutdown")) { error in
            if let error { failure.withLock { $0 = "\(error)" } }
            done.signal()
        }
        if !done.wait(seconds: 30) {
            problems.append("the event loops of node \(node) did not shut down within 30 s")
        } else if let f = failure.withLock({ $0 }) {
            problems.append(f)
        }
        // A loop thread that did not go home (the group was being shut down elsewhere) stays
        // registered until it has exited, so that no audit meanwhile finds it in the node
        // unregistered.
        let deadline = monotonicNow() + 2
        while threadIDs.contains(where: { ThreadAudit.isAlive($0) && ThreadAudit.registered[$0] != nil }),
              monotonicNow() < deadline {
            usleep(2000)
        }
        ThreadAudit.unregister(threadIDs)
        if !problems.isEmpty { throw NodeEventLoopError.shutdownFailed(node: node, problems) }
    }
}

/// A semaphore with a timed wait (`sem_timedwait`), without Dispatch.
final class TimedSemaphore: @unchecked Sendable {
    private let sem = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init() { sem_init(sem, 0, 0) }
    deinit { sem_destroy(sem); sem.deallocate() }
    func signal() { sem_post(sem) }
    /// Whether it was signalled within `seconds`.
    func wait(seconds: Double) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let ns = Int(ts.tv_nsec) + Int((seconds - seconds.rounded(.down)) * 1e9)
        ts.tv_sec += Int(seconds) + ns / 1_000_000_000
        ts.tv_nsec = ns % 1_000_000_000
        while sem_timedwait(sem, &ts) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }
}

/// Errors of ``NodeEventLoopGroup`` and its bootstraps.
public enum NodeEventLoopError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A group needs 1 to 64 threads; the associated value is the number asked for.
    case badThreadCount(Int)
    /// The node (named by the associated value) does not belong to a running lab (it was torn down).
    case detachedNode(String)
    /// ``NodeEventLoopGroup/shutdown()`` was called from one of the group's own loop threads,
    /// which would wait for itself.
    case shutdownFromLoop(node: String)
    /// Shutting down the loops of `node` failed; the strings say what went wrong.
    case shutdownFailed(node: String, [String])
    /// A port outside 0…65535 was given to `bind` or `connect`.
    case badPort(Int)

    /// What went wrong, in one sentence.
    public var description: String {
        switch self {
        case let .badThreadCount(n): return "an event loop group needs 1 to 64 threads, not \(n)"
        case let .detachedNode(n): return "node \(n) does not belong to a running lab"
        case let .shutdownFromLoop(n): return "the event loops of node \(n) cannot be shut down from one of their own threads"
        case let .shutdownFailed(n, p): return "shutting down the event loops of node \(n): \(p.joined(separator: "; "))"
        case let .badPort(p): return "port \(p) is not in 0…65535"
        }
    }
}

extension Node {
    /// SwiftNIO event loops whose threads live inside this node, shut down with the lab.
    ///
    /// ```swift
    /// let loops = try await lab["h2"].eventLoopGroup()
    /// let server = try await loops.serverBootstrap
    ///     .childChannelInitializer { $0.pipeline.addHandler(EchoHandler()) }
    ///     .bind(host: "10.0.2.2", port: 9000)
    /// ```
    /// - Parameter threads: how many loops (1…64).
    /// - Throws: ``NodeEventLoopError`` for a bad count or a node outside a running lab,
    ///   `LabError.unknownNode(_:known:)` for a node the lab does not have.
    public func eventLoopGroup(threads: Int = 1) async throws -> NodeEventLoopGroup {
        // Creating the group waits for the namespace worker, which other labs may keep busy:
        // not on one of Swift's few cooperative threads.
        try await onOwnThread { try self.eventLoopGroup(threads: threads) as NodeEventLoopGroup }
    }

    /// SwiftNIO event loops whose threads live inside this node (blocking the calling thread
    /// while they start; from async code the `async` variant does not).
    public func eventLoopGroup(threads: Int = 1) throws -> NodeEventLoopGroup {
        _ = try namespace
        guard let lab else { throw NodeEventLoopError.detachedNode(name) }
        let loops = try NodeEventLoopGroup(node: self, lab: lab, threads: threads)
        lab.onDown("shutting down the event loops of node \(name)") { try loops.shutdown() }
        return loops
    }
}
