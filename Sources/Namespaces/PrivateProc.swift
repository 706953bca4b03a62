import Glibc
import CNetlink
import Synchronization
import SystemPackage

/// A `proc` of NetnsKit's own, for writing namespace sysctls where `/proc/sys` is read-only.
///
/// Docker and Podman bind-mount `/proc/sys` read-only into a container by default, so opening
/// `/proc/sys/net/…` for writing fails with EROFS even with CAP_NET_ADMIN, although the
/// sysctls of a network namespace the container made are its own. A fresh proc instance has no
/// such overmount. With CAP_SYS_ADMIN NetnsKit makes one and opens the sysctl through it, without
/// changing any mount of the container:
///
/// 1. a detached mount (`fsopen("proc")`, `fsconfig(FSCONFIG_CMD_CREATE)`, `fsmount`, Linux 5.2):
///    attached nowhere, reachable only through its descriptor;
/// 2. where those calls are missing or refused (a seccomp filter that predates them answers
///    ENOSYS or EPERM), a short-lived thread unshares a mount namespace of its own, makes every
///    mount in it private, mounts proc on `/proc` there, opens it and ends. The namespace dies
///    with the thread; the open descriptor keeps the (now detached) proc reachable.
///
/// The mount is made once per process, on the first EROFS. `/proc/sys/net` resolves against the
/// network namespace of the thread that opens a file, whichever proc instance the path goes
/// through (checked by the tests), so files are still opened on the namespace worker inside the
/// target namespace. Where `/proc/sys` is writable none of this happens: the first `open` succeeds
/// as before.
enum PrivateProc {
    /// Set once an open of `/proc/sys` for writing has failed with EROFS: later writes go
    /// straight through the private proc instead of failing first.
    static let procSysReadOnly = Atomic<Bool>(false)

    /// The private proc's root directory (a descriptor), or why it could not be made.
    private static let root = Mutex<Result<Int32, PrivateProcError>?>(nil)

    /// For tests: skip the detached mount and use the private mount namespace.
    nonisolated(unsafe) static var forceMountNamespace = false

    /// How the private proc was made ("detached mount" or "private mount namespace"), nil if not (yet).
    static var method: String? { methodBox.withLock { $0 } }
    private static let methodBox = Mutex<String?>(nil)

    /// Opens `/proc/sys/…` for writing, through `/proc` or, where `/proc/sys` is read-only,
    /// through the private proc. The calling thread must be inside the namespace.
    static func openForWriting(_ path: String) throws(SystemCallError) -> Int32 {
        if !procSysReadOnly.load(ordering: .relaxed) {
            while true {
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                if fd >= 0 { return fd }
                let e = errno
                if e == EINTR { continue }
                guard e == EROFS else { throw SystemCallError("open \(path)", Errno(rawValue: e)) }
                break
            }
            procSysReadOnly.store(true, ordering: .relaxed)
        }
        let rootFD: Int32
        switch rootDescriptor() {
        case .success(let fd): rootFD = fd
        case .failure(let why):
            throw SystemCallError("open \(path) (/proc/sys is read-only, as in a container by default, and "
                                  + "NetnsKit could not mount a proc of its own to write it: \(why). Fix: start the "
                                  + "container with --security-opt systempaths=unconfined (podman: --security-opt "
                                  + "unmask=/proc/sys), or run nslab as root with --cap-add SYS_ADMIN)", .readOnlyFileSystem)
        }
        // "/proc/sys/net/ipv4/ip_forward" → "sys/net/ipv4/ip_forward" under the private proc.
        let relative = String(path.dropFirst("/proc/".count))
        return try sys("open \(path) through a private proc") { openat(rootFD, relative, O_WRONLY | O_CLOEXEC) }
    }

    /// The private proc's root, made on first use.
    static func rootDescriptor() -> Result<Int32, PrivateProcError> {
        root.withLock { r in
            if let r { return r }
            let made = make()
            r = made
            return made
        }
    }

    private static func make() -> Result<Int32, PrivateProcError> {
        var detached = "not tried"
        if !forceMountNamespace {
            let fd = cnl_fsmount_proc()
            if fd >= 0 {
                methodBox.withLock { $0 = "detached mount" }
                return .success(fd)
            }
            detached = "\(Errno(rawValue: errno))"
        }
        switch mountInPrivateNamespace() {
        case .success(let fd):
            methodBox.withLock { $0 = "private mount namespace" }
            return .success(fd)
        case .failure(let e):
            return .failure(PrivateProcError(description: "fsmount(proc): \(detached); \(e)"))
        }
    }

    /// Mounts proc in a mount namespace of a throwaway thread and returns a descriptor of its root.
    static func mountInPrivateNamespace() -> Result<Int32, SystemCallError> {
        final class Box: @unchecked Sendable { var result: Result<Int32, SystemCallError> = .failure(SystemCallError("thread", .noSuchProcess)) }
        let box = Box()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
            box.result = Result { () throws(SystemCallError) -> Int32 in
                // A mount namespace (and fs information) of this thread only: the process's
                // other threads, and the container, keep theirs.
                try sys("unshare(CLONE_NEWNS)") { cnl_unshare(Int32(CLONE_NEWNS)) }
                try sys("mount --make-rprivate / (in a private mount namespace)") { mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) }
                try sys("mount -t proc proc /proc (in a private mount namespace)") {
                    mount("proc", "/proc", "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil)
                }
                return try sys("open /proc (in a private mount namespace)") { open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            }
            return nil
        }, Unmanaged.passUnretained(box).toOpaque())
        guard rc == 0 else { return .failure(SystemCallError("pthread_create", Errno(rawValue: rc))) }
        pthread_join(thread, nil)
        return box.result
    }
}

/// Why NetnsKit could not mount a proc of its own.
struct PrivateProcError: Error, Sendable, CustomStringConvertible {
    var description: String
}

extension NetworkNamespace {
    /// How sysctls are written in this process: `"/proc/sys"`, or, where `/proc/sys` is read-only
    /// (a container's default), `"a private proc (detached mount)"` or
    /// `"a private proc (private mount namespace)"`.
    public static var sysctlWriteRoute: String {
        guard PrivateProc.procSysReadOnly.load(ordering: .relaxed) else { return "/proc/sys" }
        return PrivateProc.method.map { "a private proc (\($0))" } ?? "none (/proc/sys is read-only)"
    }
}
