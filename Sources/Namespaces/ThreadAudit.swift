import Glibc
import CNetlink
import Synchronization

/// One thread of this process and the network namespace it is in.
public struct ThreadRecord: Sendable, Hashable, CustomStringConvertible {
    /// The kernel thread id.
    public var tid: Int32
    /// The thread's name (`/proc/self/task/TID/comm`), such as `NIO-ELT-0-#0`.
    public var name: String
    /// The inode of the network namespace the thread is in.
    public var namespaceInode: UInt64

    /// A record of thread `tid`, named `name`, in the namespace with inode `namespaceInode`.
    public init(tid: Int32, name: String, namespaceInode: UInt64) {
        self.tid = tid; self.name = name; self.namespaceInode = namespaceInode
    }

    /// The thread id, its name and its namespace.
    public var description: String { "thread \(tid) (\(name)) in net:[\(namespaceInode)]" }
}

/// Which threads of this process sit in which network namespace, and which of them may.
///
/// `setns` is contagious: a thread created by a thread inside a namespace starts inside it.
/// The only threads that may be in a foreign namespace are the namespace workers (while
/// they run a job) and the threads registered here for the namespace they live in (a node's
/// event-loop threads). Any other thread found in a lab's namespace was created from one of
/// those threads by code that spawns helpers (libdispatch workers, thread pools) and must be
/// reported: it would run unrelated work inside the lab and keep the namespace alive.
///
/// - Important: code that creates threads inside a namespace does so inside
///   ``registering(_:)`` and registers them before it returns, so that no audit running
///   meanwhile (tests run in parallel) sees them unregistered.
public enum ThreadAudit {
    private struct Registration: Sendable {
        var namespaceInode: UInt64
        var owner: String
    }

    private static let registry = Mutex<[Int32: Registration]>([:])
    /// Held while threads are created in a namespace and registered, and while auditing.
    private static let creation = Mutex<Void>(())

    /// Registers threads that live in the namespace `inode` on purpose (a node's event loops).
    public static func register(_ tids: [Int32], namespaceInode inode: UInt64, owner: String) {
        registry.withLock { r in for t in tids { r[t] = Registration(namespaceInode: inode, owner: owner) } }
    }

    /// Forgets threads (they have gone home or exited).
    public static func unregister(_ tids: [Int32]) {
        registry.withLock { r in for t in tids { r[t] = nil } }
    }

    /// The registered threads, with the namespace each may be in.
    public static var registered: [Int32: UInt64] {
        registry.withLock { $0.mapValues(\.namespaceInode) }
    }

    /// Runs `body`, which creates threads in a namespace and registers them, while audits wait.
    public static func registering<T>(_ body: () throws -> T) rethrows -> T {
        try creation.withLock { _ in try body() }
    }

    /// Runs an audit of your own (`body` reads `/proc/self/task` and ``registered``) while no
    /// thread is being created and registered, so that it never sees one half-registered.
    public static func auditing<T>(_ body: () throws -> T) rethrows -> T {
        try creation.withLock { _ in try body() }
    }

    /// Every thread of this process with the namespace it is in. A thread that exits while
    /// the list is read is left out.
    public static func threads() -> [ThreadRecord] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        var out: [ThreadRecord] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let tid = Int32(name) else { continue }
            var st = stat()
            guard stat("/proc/self/task/\(tid)/ns/net", &st) == 0 else { continue }
            out.append(ThreadRecord(tid: tid, name: threadName(tid) ?? "?", namespaceInode: UInt64(st.st_ino)))
        }
        return out
    }

    /// The name of a thread of this process, or nil once it has exited.
    public static func threadName(_ tid: Int32) -> String? {
        let fd = open("/proc/self/task/\(tid)/comm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return nil }
        var s = String(decoding: buf[0..<n], as: UTF8.self)
        while s.last == "\n" { s.removeLast() }
        return s
    }

    /// Whether a thread of this process with this id still exists.
    public static func isAlive(_ tid: Int32) -> Bool {
        var st = stat()
        return stat("/proc/self/task/\(tid)", &st) == 0
    }

    /// Threads in one of the namespaces `inodes` that have no business there: neither a
    /// namespace worker nor a thread registered for the namespace it is in.
    public static func intruders(in inodes: Set<UInt64>) -> [ThreadRecord] {
        creation.withLock { _ in
            let workers = NamespaceWorker.threadIDs
            let allowed = registered
            return threads().filter { t in
                inodes.contains(t.namespaceInode) && !workers.contains(t.tid) && allowed[t.tid] != t.namespaceInode
            }
        }
    }

    /// Threads outside the process's own namespace that are neither a namespace worker nor
    /// registered for the namespace they are in (for audits that look at every namespace).
    public static func foreignThreads() -> [ThreadRecord] {
        var st = stat()
        guard stat("/proc/self/ns/net", &st) == 0 else { return [] }
        let home = UInt64(st.st_ino)
        return creation.withLock { _ in
            let workers = NamespaceWorker.threadIDs
            let allowed = registered
            return threads().filter { t in
                t.namespaceInode != home && !workers.contains(t.tid) && allowed[t.tid] != t.namespaceInode
            }
        }
    }
}
