import Glibc
import CNetlink
import SystemPackage

/// What a finished child process left: exit status and output.
public struct ProcessResult: Sendable, CustomStringConvertible {
    /// Exit code, or 128+signal when killed by a signal (as shells report it).
    public var status: Int32
    /// Everything the child wrote to its standard output.
    public var stdout: [UInt8]
    /// Everything the child wrote to its standard error.
    public var stderr: [UInt8]
    /// True when the timeout expired and the child was killed.
    public var timedOut: Bool

    /// Standard output decoded as UTF-8 (invalid bytes replaced).
    public var output: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error decoded as UTF-8 (invalid bytes replaced).
    public var errorOutput: String { String(decoding: stderr, as: UTF8.self) }
    /// True when the child exited with status 0 before the timeout.
    public var succeeded: Bool { status == 0 && !timedOut }

    /// A result with these parts (a fake kernel's answer, for instance).
    public init(status: Int32, stdout: [UInt8] = [], stderr: [UInt8] = [], timedOut: Bool = false) {
        self.status = status; self.stdout = stdout; self.stderr = stderr; self.timedOut = timedOut
    }

    /// The status, whether it timed out, and standard error when not empty.
    public var description: String {
        "status \(status)\(timedOut ? " (timed out)" : "")" + (stderr.isEmpty ? "" : ": \(errorOutput)")
    }
}

/// Spawns processes inside network namespaces with `posix_spawn` from the namespace worker.
///
/// Foundation's `Process` is avoided on purpose: used first from a namespace whose
/// loopback is down it breaks (`Could not create wakeup socket pair`) and the next `Process`
/// hangs forever.
public enum Spawner {
    /// Runs `argv` inside `namespace` (nil: this process's namespace) and waits for it.
    /// - Parameters:
    ///   - environment: extra `KEY=VALUE` entries added to this process's environment.
    ///   - stdin: bytes written to the child's standard input (then closed).
    ///   - timeout: seconds; on expiry the child's process group is killed with SIGKILL.
    /// - Important: blocks the calling thread; from async code use ``run(_:in:environment:stdin:timeout:)-async``.
    public static func runBlocking(_ argv: [String], in namespace: NetworkNamespace?, environment: [String] = [],
                                   stdin: [UInt8]? = nil, timeout: Double = 30) throws -> ProcessResult {
        precondition(!argv.isEmpty, "empty argv")
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        try sys("pipe2") { cnl_pipe_cloexec(&outPipe) }
        defer { for fd in outPipe where fd >= 0 { close(fd) } }
        try sys("pipe2") { cnl_pipe_cloexec(&errPipe) }
        defer { for fd in errPipe where fd >= 0 { close(fd) } }
        if stdin != nil {
            try sys("pipe2") { cnl_pipe_cloexec(&inPipe) }
        }
        defer { for fd in inPipe where fd >= 0 { close(fd) } }

        let env = Spawner.environment(adding: environment)

        var pid: pid_t = 0
        let spawn: () throws -> Void = {
            let rc = withCStrings(argv) { cargv in
                withCStrings(env) { cenv in
                    cnl_spawn(&pid, argv[0], cargv, cenv, inPipe[0], outPipe[1], errPipe[1], 1)
                }
            }
            if rc != 0 { throw SystemCallError("spawning \(argv[0])", SystemPackage.Errno(rawValue: rc)) }
        }
        if let ns = namespace { try ns.runSpawning(spawn) } else { try NamespaceWorker.shared.run(in: nil, spawn) }
        close(outPipe[1]); outPipe[1] = -1
        close(errPipe[1]); errPipe[1] = -1
        if inPipe[0] >= 0 { close(inPipe[0]); inPipe[0] = -1 }
        if let input = stdin {
            // Small inputs only: written before reading output.
            _ = input.withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
            close(inPipe[1]); inPipe[1] = -1
        }

        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        let deadline = monotonicNow() + timeout
        var timedOut = false
        var buf = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            let left = deadline - monotonicNow()
            if left <= 0 { timedOut = true; break }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000) + 1)
            if n < 0 { if errno == EINTR { continue }; break }
            for i in 0..<fds.count where fds[i].fd >= 0 && fds[i].revents != 0 {
                let r = buf.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if r > 0 {
                    if i == 0 { out += buf[0..<r] } else { err += buf[0..<r] }
                } else if r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN) {
                    fds[i].fd = -1
                }
            }
        }
        var status: Int32 = 0
        var reaped = false
        if !timedOut {
            // Its output is closed, but the child may still run (it closed stdout/stderr, or
            // redirected them): keep to the deadline instead of waiting for it unbounded.
            var pause: UInt32 = 500
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { reaped = true; break }
                if r < 0 && errno != EINTR { break }
                if monotonicNow() >= deadline { timedOut = true; break }
                usleep(pause)
                pause = min(pause * 2, 20_000)
            }
        }
        if timedOut {
            kill(-pid, SIGKILL) // its own process group: the child and what it started
            kill(pid, SIGKILL)
        }
        if !reaped {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let code = exitCode(waitStatus: status)
        return ProcessResult(status: code, stdout: out, stderr: err, timedOut: timedOut)
    }

    /// A `waitpid` status as a shell reports it: the exit code, or 128 + the signal that ended it.
    static func exitCode(waitStatus status: Int32) -> Int32 {
        status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Where `execvp` would find `command` along `path` (a `PATH` value): the first regular,
    /// executable file; a command with a `/` is taken as it is.
    public static func locate(_ command: String, along path: String) -> String? {
        if command.contains("/") { return command }
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
            var st = stat()
            if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// This process's environment plus `extra` (`KEY=VALUE` entries; they win).
    static func environment(adding extra: [String]) -> [String] {
        let extraKeys = Set(extra.map { String($0.prefix { $0 != "=" }) })
        var env: [String] = []
        var p = cnl_environ()
        while let e = p?.pointee {
            let s = String(cString: e)
            if !extraKeys.contains(String(s.prefix { $0 != "=" })) { env.append(s) }
            p = p?.advanced(by: 1)
        }
        return env + extra
    }

    /// Runs `argv` inside `namespace` attached to this process's own standard output and error
    /// (and input, if `passStandardInput`; otherwise `/dev/null`), in this process's process
    /// group, and waits for it: output streams as it is written, and a Ctrl-C at the terminal
    /// reaches the command. For command-line tools; tests want ``runBlocking(_:in:environment:stdin:timeout:)``.
    ///
    /// The command is tethered: the kernel kills it (`PR_SET_PDEATHSIG`) if this process dies,
    /// so even a `kill -9` of the caller leaves nothing running in the namespace.
    /// - Parameters:
    ///   - timeout: seconds after which the command is killed (nil: no limit).
    ///   - started: called with the command's pid once it runs (to forward signals to it).
    /// - Returns: its exit status (128 + signal number when a signal ended it) and whether the
    ///   timeout killed it.
    public static func runAttached(_ argv: [String], in namespace: NetworkNamespace, passStandardInput: Bool,
                                   timeout: Double? = nil, started: ((pid_t) -> Void)? = nil) throws -> (status: Int32, timedOut: Bool) {
        precondition(!argv.isEmpty, "empty argv")
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        guard let executable = locate(argv[0], along: path) else {
            throw SystemCallError("spawning \(argv[0])", .noSuchFileOrDirectory)
        }
        var pid: pid_t = 0
        // On the namespace worker, which lives as long as the process: the parent-death signal
        // follows the thread that forked.
        try namespace.runSpawning {
            let rc = withCStrings(argv) { cargv in
                cnl_spawn_tethered_attached(&pid, executable, cargv, cnl_environ(), passStandardInput ? 0 : -1)
            }
            if rc != 0 { throw SystemCallError("spawning \(argv[0])", SystemPackage.Errno(rawValue: rc)) }
        }
        started?(pid)
        var status: Int32 = 0
        var timedOut = false
        if let timeout {
            let deadline = monotonicNow() + timeout
            var pause: UInt32 = 1000
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { break }
                if r < 0 && errno != EINTR { break }
                if monotonicNow() >= deadline {
                    timedOut = true
                    kill(pid, SIGKILL)
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    break
                }
                usleep(pause)
                pause = min(pause * 2, 50_000)
            }
        } else {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        return (exitCode(waitStatus: status), timedOut)
    }

    /// A child started by ``startStreaming(_:environment:)``.
    public struct StreamingChild: Sendable {
        /// Its pid, which is also its process group (kill `-pid` to reach what it started).
        public let pid: pid_t
        /// The read end of the pipe that carries its standard output and error (close-on-exec;
        /// the caller closes it).
        public let output: Int32
    }

    /// Starts `argv` in this process's namespace, in a process group of its own, with
    /// standard input from `/dev/null` and standard output and error into one pipe that the
    /// caller reads. For supervising long-running tools (a VM); reap it with ``wait(_:)``.
    public static func startStreaming(_ argv: [String], environment: [String] = []) throws -> StreamingChild {
        precondition(!argv.isEmpty, "empty argv")
        var pipe: [Int32] = [-1, -1]
        try sys("pipe2") { cnl_pipe_cloexec(&pipe) }
        let env = Spawner.environment(adding: environment)
        var pid: pid_t = 0
        do {
            try NamespaceWorker.shared.run(in: nil) {
                let rc = withCStrings(argv) { cargv in
                    withCStrings(env) { cenv in cnl_spawn(&pid, argv[0], cargv, cenv, -1, pipe[1], pipe[1], 1) }
                }
                if rc != 0 { throw SystemCallError("spawning \(argv[0])", SystemPackage.Errno(rawValue: rc)) }
            }
        } catch {
            close(pipe[0]); close(pipe[1])
            throw error
        }
        close(pipe[1])
        return StreamingChild(pid: pid, output: pipe[0])
    }

    /// Waits for a child of this process and returns its exit status as a shell reports it.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitCode(waitStatus: status)
    }

    /// Runs `argv` inside `namespace` without blocking a Swift concurrency thread:
    /// the wait happens on a short-lived thread of its own (in this process's namespace).
    public static func run(_ argv: [String], in namespace: NetworkNamespace?, environment: [String] = [],
                           stdin: [UInt8]? = nil, timeout: Double = 30) async throws -> ProcessResult {
        try await onOwnThread {
            try runBlocking(argv, in: namespace, environment: environment, stdin: stdin, timeout: timeout)
        }
    }
}

/// Seconds on the monotonic clock.
public func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    ptrs.append(nil)
    defer { for p in ptrs { free(p) } }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Runs a blocking function on a new thread and resumes the caller when it finishes, so
/// blocking waits never occupy Swift's (small) cooperative pool. The thread is created
/// from the caller's thread, which is in this process's namespace, and never enters another.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
        let box = ThreadBody { c.resume(with: Result { try body() }) }
        var tid = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, 1 << 20)
        let rc = pthread_create(&tid, &attr, { arg in
            let b = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
            b.body()
            return nil
        }, Unmanaged.passRetained(box).toOpaque())
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Unmanaged.passUnretained(box).release()
            c.resume(throwing: SystemCallError("pthread_create", SystemPackage.Errno(rawValue: rc)))
        }
    }
}

private final class ThreadBody: @unchecked Sendable {
    let body: () -> Void
    init(_ b: @escaping () -> Void) { body = b }
}

/// Starts a joinable thread of our own (not a Swift concurrency or dispatch thread) running `body`.
/// It is created from the calling thread, so it starts in the calling thread's namespace: call
/// it from a thread in this process's own namespace (never inside ``NamespaceWorker/run(in:_:)``).
public func startThread(stackSize: Int = 512 << 10, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    var thread = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, stackSize)
    let box = Unmanaged.passRetained(ThreadBody(body))
    let rc = pthread_create(&thread, &attr, { arg in
        Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box.toOpaque())
    pthread_attr_destroy(&attr)
    if rc != 0 {
        box.release()
        throw SystemCallError("pthread_create", SystemPackage.Errno(rawValue: rc))
    }
    return thread
}
