import Glibc
import CNetlink
import Synchronization
import SystemPackage

/// A long-running command inside a namespace (a daemon, a server, a traffic generator) that
/// runs while a test goes on.
///
/// It runs in a process group of its own, with stdin from `/dev/null`; what it writes to
/// stdout and stderr is kept (in memory files) and readable at any time. ``stop(grace:)``
/// sends SIGTERM to its group, then SIGKILL after `grace` seconds. If this process dies first,
/// even by SIGKILL, the kernel kills the command too (`PR_SET_PDEATHSIG`), so it cannot keep an
/// anonymous namespace alive; processes the command itself starts are not covered by that:
/// run daemons in the foreground.
///
/// Equivalent to `ip netns exec NS CMD… >out 2>err &`, and `kill -TERM -PID` to stop it.
public final class BackgroundProcess: @unchecked Sendable, CustomStringConvertible {
    /// The command and its arguments.
    public let argv: [String]
    /// Its process id (also its process group id).
    public let pid: Int32
    /// The label of the namespace it runs in.
    public let namespaceLabel: String
    private let outFD: Int32
    private let errFD: Int32
    /// The exit status once reaped (128 + signal when a signal ended it).
    private let reaped = Mutex<Int32?>(nil)

    private init(argv: [String], pid: Int32, namespaceLabel: String, outFD: Int32, errFD: Int32) {
        self.argv = argv; self.pid = pid; self.namespaceLabel = namespaceLabel; self.outFD = outFD; self.errFD = errFD
    }

    /// Starts `argv` inside `namespace`.
    /// - Parameter environment: extra `KEY=VALUE` entries added to this process's environment
    ///   (they also decide the `PATH` the command is looked up in).
    /// - Throws: `SystemCallError` (`ENOENT` when the command is not found, the exec's errno otherwise).
    public static func start(_ argv: [String], in namespace: NetworkNamespace,
                             environment: [String] = []) throws -> BackgroundProcess {
        precondition(!argv.isEmpty, "empty argv")
        let env = Spawner.environment(adding: environment)
        let path = try resolve(argv[0], environment: env)
        let out = try sys("memfd_create") { cnl_memfd("nk-stdout") }
        let err: Int32
        do { err = try sys("memfd_create") { cnl_memfd("nk-stderr") } } catch { close(out); throw error }
        var pid: Int32 = 0
        do {
            // Forked by the namespace worker, which lives as long as the process: the parent-death
            // signal fires when this process ends, not when some short-lived thread does.
            try namespace.runSpawning {
                let rc = withCStrings(argv) { cargv in
                    withCStrings(env) { cenv in cnl_spawn_tethered(&pid, path, cargv, cenv, out, err) }
                }
                if rc != 0 { throw SystemCallError("starting \(argv[0]) in ns \(namespace.label)", SystemPackage.Errno(rawValue: rc)) }
            }
        } catch {
            close(out); close(err)
            throw error
        }
        return BackgroundProcess(argv: argv, pid: pid, namespaceLabel: namespace.label, outFD: out, errFD: err)
    }

    deinit {
        stop(grace: 0)
        close(outFD)
        close(errFD)
    }

    /// The command line, its pid and the namespace it runs in.
    public var description: String { "\(argv.joined(separator: " ")) (pid \(pid)) in ns \(namespaceLabel)" }

    // MARK: State and output

    /// The exit status once it has ended (128 + signal when a signal ended it), nil while it runs.
    public var exitStatus: Int32? {
        reaped.withLock { status in
            if status == nil { status = Self.reap(pid, block: false) }
            return status
        }
    }

    /// True until it has ended.
    public var isRunning: Bool { exitStatus == nil }

    /// Everything it has written to stdout so far.
    public var output: String { String(decoding: Self.contents(outFD), as: UTF8.self) }
    /// Everything it has written to stderr so far.
    public var errorOutput: String { String(decoding: Self.contents(errFD), as: UTF8.self) }

    /// Waits until its stdout or stderr contains `text` (e.g. a daemon's "ready" line), it ends, or
    /// `timeout` seconds pass. Returns whether the text appeared.
    public func waitForOutput(containing text: String, timeout: Double) -> Bool {
        let deadline = monotonicNow() + timeout
        var pause: UInt32 = 1000
        while true {
            if output.contains(text) || errorOutput.contains(text) { return true }
            if !isRunning { return output.contains(text) || errorOutput.contains(text) }
            if monotonicNow() >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Waits up to `timeout` seconds for it to end. Returns its exit status, or nil if it still runs.
    @discardableResult
    public func waitForExit(timeout: Double) -> Int32? {
        let deadline = monotonicNow() + timeout
        var pause: UInt32 = 500
        while true {
            if let s = exitStatus { return s }
            if monotonicNow() >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Sends `signal` to its process group (while it has not been reaped; a no-op afterwards).
    public func signal(_ signal: Int32) {
        reaped.withLock { status in
            if status == nil { kill(-pid, signal) }
        }
    }

    /// Sends SIGTERM to its process group (while it has not been reaped).
    public func terminate() { signal(SIGTERM) }

    /// Stops it: SIGTERM to its process group, then SIGKILL to the group after `grace` seconds
    /// (or at once with 0). Idempotent. Returns its exit status.
    @discardableResult
    public func stop(grace: Double = 2) -> Int32 {
        if let s = reaped.withLock({ $0 }) { return s }
        // Signals go to the group only while the leader is not yet reaped: until then its pid
        // (the group's id) cannot belong to anybody else.
        if grace > 0 {
            kill(-pid, SIGTERM)
            let deadline = monotonicNow() + grace
            var pause: UInt32 = 500
            while !Self.hasExited(pid) && monotonicNow() < deadline {
                usleep(pause)
                pause = min(pause * 2, 20_000)
            }
        }
        kill(-pid, SIGKILL) // whatever is left of the group
        return reaped.withLock { status in
            if status == nil { status = Self.reap(pid, block: true) }
            return status ?? 137
        }
    }

    // MARK: Helpers

    /// True once the process has ended (a zombie counts), without reaping it.
    private static func hasExited(_ pid: Int32) -> Bool {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        return rc != 0 || info._sifields._kill.si_pid != 0
    }

    private static func reap(_ pid: Int32, block: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, block ? 0 : WNOHANG)
            if r == pid { break }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            return 255 // not our child any more (reaped elsewhere): no status to report
        }
        return Spawner.exitCode(waitStatus: status)
    }

    private static func contents(_ fd: Int32) -> [UInt8] {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(bytes[0..<n]) : []
    }

    /// `execvp`'s lookup, done before the fork (between fork and exec only async-signal-safe calls).
    private static func resolve(_ command: String, environment: [String]) throws -> String {
        let path = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
        guard let found = Spawner.locate(command, along: path) else {
            throw SystemCallError("starting \(command): not found in PATH", .noSuchFileOrDirectory)
        }
        return found
    }
}
