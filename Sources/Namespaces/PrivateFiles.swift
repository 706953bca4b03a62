import Glibc
import SystemPackage
import CNetlink

/// Files of a private state directory (nslab's `/run/nslab`): made and checked strictly, written
/// atomically, never through a symbolic link. The system calls of NetnsKit's lab registry.
package enum PrivateFiles {
    /// Creates `directory` with `mode` unless it exists.
    package static func makeDirectory(_ directory: String, mode: UInt32) throws(SystemCallError) {
        do throws(SystemCallError) { try sys("mkdir \(directory)") { mkdir(directory, mode_t(mode)) } } catch where error.errno == .fileExists {}
    }

    /// Why `directory` cannot be trusted (a symbolic link, not a directory, another owner, a mode
    /// other than `mode`), or nil when it is fine or missing.
    package static func untrustedDirectoryProblem(_ directory: String, mode: UInt32) throws(SystemCallError) -> String? {
        var st = stat()
        do throws(SystemCallError) { try sys("lstat \(directory)") { lstat(directory, &st) } } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
        let me = geteuid()
        if st.st_mode & S_IFMT == S_IFLNK { return "it is a symbolic link" }
        if st.st_mode & S_IFMT != S_IFDIR { return "it is not a directory" }
        if st.st_uid != me { return "it belongs to uid \(st.st_uid), not \(me == 0 ? "root" : "uid \(me)")" }
        if st.st_mode & 0o777 != mode_t(mode) { return "its mode is \(String(st.st_mode & 0o777, radix: 8)), not \(String(mode, radix: 8))" }
        return nil
    }

    /// Opens `path` with `flags` (`O_*` of the C library) plus `O_NOFOLLOW | O_CLOEXEC`;
    /// -1 on failure, with errno set, as `open(2)`.
    package static func open(_ path: String, _ flags: Int32, _ mode: UInt32 = 0o600) -> Int32 {
        Glibc.open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
    }

    /// Writes `bytes` to a new file `path` (mode 0600, not following a link), synced.
    package static func writeNew(_ path: String, _ bytes: [UInt8]) throws(SystemCallError) {
        let fd = try sys("open \(path)") { Self.open(path, O_WRONLY | O_CREAT | O_EXCL) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            offset += try sys("write \(path)") { bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        }
        fsync(fd)
    }

    /// `link(2)`: false when `to` exists.
    package static func link(_ from: String, to: String) throws(SystemCallError) -> Bool {
        do throws(SystemCallError) { try sys("link \(from) \(to)") { Glibc.link(from, to) } } catch where error.errno == .fileExists { return false }
        return true
    }

    /// `rename(2)`.
    package static func rename(_ from: String, to: String) throws(SystemCallError) {
        try sys("rename \(from) \(to)") { Glibc.rename(from, to) }
    }

    /// Removes `path`; true when it was there.
    @discardableResult
    package static func remove(_ path: String) -> Bool { unlink(path) == 0 }

    /// True when `path` exists (a dangling symbolic link does not).
    package static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// True when `path` exists and this process may execute it.
    package static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }
}

/// Small facts about this process and clock that NetnsKit needs without calling the C library.
package enum ProcessFacts {
    /// `getpid()`.
    package static var processID: Int32 { getpid() }
    /// Seconds since the epoch, whole (`time(NULL)`).
    package static var wallClockSeconds: Double { Double(time(nil)) }
    /// Sleeps the calling thread (a short wait on a thread that may block).
    package static func sleep(microseconds: UInt32) { usleep(microseconds) }
    /// Writes `bytes` to stderr (one `write(2)`: a trace line is not interleaved with others).
    package static func writeStandardError(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) } }
    /// The value of environment variable `name`, or nil when it is not set.
    package static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
    /// Names the calling thread (as `ps -L` and `perf` show it; at most 15 bytes).
    package static func nameThisThread(_ name: String) { _ = cnl_set_thread_name(name) }
}

/// Reads a whole file; nil when it does not exist.
package func readFileIfPresent(_ path: String) throws(SystemCallError) -> [UInt8]? {
    let fd: Int32
    do throws(SystemCallError) { fd = try sys("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) } } catch where error.errno == .noSuchFileOrDirectory {
        return nil
    }
    defer { close(fd) }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = try sys("read \(path)") { buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        if n == 0 { return data }
        data += buf[0..<n]
    }
}
