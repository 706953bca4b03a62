import Glibc
import CNetlink
import Synchronization

/// A thread that always stays in the process's own namespace and runs small closures posted
/// to it, in order.
///
/// Code running on a thread inside a node must not start threads (they would be born in the
/// node). Resuming a continuation there can do just that: libdispatch creates a worker from
/// the thread that enqueues work when the pool is short of one. Posting the resumption here
/// instead moves the enqueue, and any thread it creates, out of the node. Posting takes a
/// lock and a semaphore, and never creates a thread.
public final class RelayThread: @unchecked Sendable {
    /// The relay. Its thread joins the process's namespace when it starts, whichever thread
    /// happened to create it.
    public static let shared = RelayThread()

    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let tidBox = Mutex<Int32>(0)
    private var thread = pthread_t()

    private init() {
        sem_init(semaphore, 0, 0)
        let started = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(started, 0, 0)
        startSignal = started
        let home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        homeFD = home
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 1 << 20)
        let rc = pthread_create(&thread, &attr, { arg in
            let me = Unmanaged<RelayThread>.fromOpaque(arg!).takeUnretainedValue()
            me.loop()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "cannot start the NetnsKit relay thread: errno \(rc)")
        while sem_wait(started) != 0 {}
        sem_destroy(started)
        started.deallocate()
        startSignal = nil
    }

    private var startSignal: UnsafeMutablePointer<sem_t>?
    private let homeFD: Int32

    /// The relay thread's kernel thread id.
    public var threadID: Int32 { tidBox.withLock { $0 } }

    private func loop() {
        _ = cnl_set_thread_name("nk-relay")
        // Created from a thread inside a namespace? Go home before running anything.
        if homeFD >= 0 && cnl_setns(homeFD, Int32(CLONE_NEWNET)) != 0 {
            fatalError("NetnsKit: the relay thread cannot join the process's namespace (errno \(errno))")
        }
        tidBox.withLock { $0 = cnl_gettid() }
        if let s = startSignal { sem_post(s) }
        while true {
            while sem_wait(semaphore) != 0 {}
            let job = queue.withLock { $0.removeFirst() }
            job()
        }
    }

    /// Runs `body` on the relay thread, after everything posted before it.
    public func post(_ body: @escaping @Sendable () -> Void) {
        queue.withLock { $0.append(body) }
        sem_post(semaphore)
    }
}
