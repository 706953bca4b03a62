import Glibc
import CNetlink
import Synchronization
import SystemPackage

/// A dedicated thread that enters network namespaces for short, synchronous steps.
///
/// `setns` is per thread and contagious: a thread created by a thread inside a
/// namespace starts inside it, and libdispatch creates workers from whichever
/// thread enqueues work. So namespace work never runs on Swift's cooperative
/// threads. It runs here: the worker joins the namespace, runs the closure
/// (open a socket, open a /proc/sys file, spawn a process), and returns to the
/// process's own namespace before taking the next job.
///
/// - Important: closures given to ``run(in:_:)`` must be synchronous system
///   calls only: no `Task {}`, no continuations, no actor hops, no Foundation
///   `Process`. Anything they create (sockets, files, children) keeps the namespace.
public final class NamespaceWorker: @unchecked Sendable {
    /// The shared worker.
    public static let shared = NamespaceWorker()
    /// A second worker, so that namespaces can be created two at a time: the kernel sets up
    /// new namespaces concurrently (halving the time for 200 of them on two cores).
    public static let second = NamespaceWorker()

    /// The kernel thread ids of every worker thread (the only threads that ever enter a
    /// foreign namespace), for thread audits.
    public static var threadIDs: Set<Int32> { [shared.threadID, second.threadID] }

    private struct Job: @unchecked Sendable {
        var body: () -> Void
        /// Posted by the worker once it has dropped every reference to `body`.
        var done: UnsafeMutablePointer<sem_t>
    }

    private let state = Mutex<[Job]>([])
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private var thread = pthread_t()
    /// The worker's home namespace (the process's namespace when the worker started).
    private var homeFD: Int32 = -1
    private let tidBox = Mutex<Int32>(0)

    private init() {
        sem_init(semaphore, 0, 0)
        let started = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(started, 0, 0)
        startedSignal = started
        homeFD = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        let unmanaged = Unmanaged.passRetained(self)
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 1 << 20)
        let rc = pthread_create(&thread, &attr, { arg in
            let me = Unmanaged<NamespaceWorker>.fromOpaque(arg!).takeUnretainedValue()
            me.loop()
            return nil
        }, unmanaged.toOpaque())
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "cannot start the namespace worker thread: errno \(rc)")
        // Wait until the thread has recorded its id, so `threadID` is never 0.
        while sem_wait(started) != 0 {}
        sem_destroy(started)
        started.deallocate()
        startedSignal = nil
    }

    private var startedSignal: UnsafeMutablePointer<sem_t>?

    /// The worker thread's kernel thread id (to tell it apart in thread audits).
    public var threadID: Int32 { tidBox.withLock { $0 } }

    private func loop() {
        tidBox.withLock { $0 = cnl_gettid() }
        if let s = startedSignal { sem_post(s) }
        while true {
            while sem_wait(semaphore) != 0 {}
            var job: Job? = state.withLock { $0.removeFirst() }
            let done = job!.done
            job!.body()
            // Release the closure (and what it captured from the caller's stack) before
            // waking the caller: `run` lends a non-escaping closure and checks it did not escape.
            job = nil
            sem_post(done)
        }
    }

    /// Runs `body` on the worker thread inside the namespace `fd` (nil: the home namespace) and waits for it.
    /// Serialized with other jobs; callers block for the duration of `body`.
    public func run<T>(in fd: Int32?, _ body: () throws -> T) throws -> T {
        if cnl_gettid() == threadID {
            return try runNested(in: fd ?? homeFD, body)
        }
        return try withoutActuallyEscaping(body) { body in
            var result: Result<T, Error>!
            let donePtr = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
            sem_init(donePtr, 0, 0)
            defer { sem_destroy(donePtr); donePtr.deallocate() }
            let home = homeFD
            do {
                withUnsafeMutablePointer(to: &result) { resultPtr in
                    let job = Job(body: {
                        if let fd {
                            if cnl_setns(fd, Int32(CLONE_NEWNET)) != 0 {
                                let e = errno
                                resultPtr.pointee = .failure(SystemCallError("setns", SystemPackage.Errno(rawValue: e)))
                                return
                            }
                        }
                        resultPtr.pointee = Result { try body() }
                        if fd != nil && cnl_setns(home, Int32(CLONE_NEWNET)) != 0 {
                            // The thread would stay in a foreign namespace: never continue like that.
                            fatalError("NetnsKit: cannot return the namespace worker to its home namespace (errno \(errno))")
                        }
                    }, done: donePtr)
                    state.withLock { $0.append(job) }
                    sem_post(semaphore)
                    while sem_wait(donePtr) != 0 {}
                }
            }
            return try result.get()
        }
    }

    /// A `run` from inside a job (e.g. `ns.run { try other.sysctl(…) }`, or `ns.socket` opened
    /// lazily inside a job) would wait for itself forever. Enter the target directly instead and
    /// come back to the namespace the outer job is in.
    private func runNested<T>(in fd: Int32, _ body: () throws -> T) throws -> T {
        let back = try sys("open /proc/thread-self/ns/net") { open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) }
        defer { close(back) }
        try sys("setns") { cnl_setns(fd, Int32(CLONE_NEWNET)) }
        defer {
            if cnl_setns(back, Int32(CLONE_NEWNET)) != 0 {
                fatalError("NetnsKit: cannot return the namespace worker to the outer job's namespace (errno \(errno))")
            }
        }
        return try body()
    }

    /// Runs `body` once per descriptor, inside each namespace in turn, in one trip to the worker
    /// thread (which returns home afterwards); `body` gets the index, or nil for a descriptor it
    /// could not enter (not a network namespace).
    ///
    /// One job instead of one per namespace: a batch of a thousand namespaces costs a thousand
    /// `setns` calls, not a thousand thread handoffs.
    /// - Important: as for ``run(in:_:)``, `body` must be synchronous system calls only.
    public func forEach(in fds: [Int32], _ body: (Int, Bool) -> Void) {
        guard !fds.isEmpty else { return }
        let home = homeFD
        _ = try? run(in: nil) {
            defer {
                if cnl_setns(home, Int32(CLONE_NEWNET)) != 0 {
                    fatalError("NetnsKit: cannot return the namespace worker to its home namespace (errno \(errno))")
                }
            }
            for (i, fd) in fds.enumerated() {
                body(i, cnl_setns(fd, Int32(CLONE_NEWNET)) == 0)
            }
        }
    }

    /// Creates a new anonymous network namespace and returns a descriptor that holds it.
    /// The worker unshares into it, opens it, and returns home.
    public func createNamespace(configure: ((Int32) throws -> Void)? = nil) throws -> Int32 {
        let home = homeFD
        var fd: Int32 = -1
        try run(in: nil) {
            try sys("unshare(CLONE_NEWNET)") { cnl_unshare(Int32(CLONE_NEWNET)) }
            defer {
                if cnl_setns(home, Int32(CLONE_NEWNET)) != 0 {
                    fatalError("NetnsKit: cannot return the namespace worker to its home namespace (errno \(errno))")
                }
            }
            fd = try sys("open /proc/thread-self/ns/net") { open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) }
            do { try configure?(fd) } catch { close(fd); fd = -1; throw error }
        }
        return fd
    }
}
