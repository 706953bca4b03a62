import Glibc
import CNetlink
import SystemPackage

/// A private mount and UTS namespace for one node, so that a daemon started in the node has
/// its own hostname, `/etc/hosts`, `/etc/resolv.conf`, `/run` and `/tmp`.
///
/// Both namespaces are held by descriptors, like the network namespace: they die with the
/// process. Only processes the library spawns into the node enter them (see
/// ``NetworkNamespace/runSpawning(_:)``): `ip netns exec` enters the network namespace only.
public final class HostNamespaces: Sendable {
    /// Descriptors of the mount and UTS namespaces.
    public let mountFD: Int32, utsFD: Int32
    /// The hostname set in the UTS namespace.
    public let hostname: String

    init(mountFD: Int32, utsFD: Int32, hostname: String) {
        self.mountFD = mountFD; self.utsFD = utsFD; self.hostname = hostname
    }

    deinit { Glibc.close(mountFD); Glibc.close(utsFD) }

    /// Creates the namespaces on a throwaway thread: a copy of this process's mounts made
    /// private (nothing propagates back to the host), fresh tmpfs on `/run` and `/tmp`, the
    /// given `/etc/hosts` and `/etc/resolv.conf` mounted over the host's, and the hostname set.
    /// The host's files are never written.
    /// - Throws: `SystemCallError` naming the step that failed.
    /// - Important: needs CAP_SYS_ADMIN.
    public static func create(hostname: String, hosts: String, resolvConf: String) throws -> HostNamespaces {
        final class Box: @unchecked Sendable { var result: Result<(Int32, Int32), SystemCallError> = .failure(SystemCallError("thread", .noSuchProcess)) }
        let box = Box()
        let thread = try startThread {
            box.result = Result { () throws(SystemCallError) -> (Int32, Int32) in
                try setUp(hostname: hostname, hosts: hosts, resolvConf: resolvConf)
            }
        }
        pthread_join(thread, nil)
        let (m, u) = try box.result.get()
        return HostNamespaces(mountFD: m, utsFD: u, hostname: hostname)
    }

    /// The steps of ``create(hostname:hosts:resolvConf:)``, on the throwaway thread (which then ends).
    private static func setUp(hostname: String, hosts: String, resolvConf: String) throws(SystemCallError) -> (Int32, Int32) {
        // Where /etc/resolv.conf points (often into /run), read before /run is replaced.
        let resolvTarget = symlinkTarget("/etc/resolv.conf")
        let homeMount = try sys("open /proc/thread-self/ns/mnt") { open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(homeMount) }
        let homeUTS = try sys("open /proc/thread-self/ns/uts") { open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(homeUTS) }
        try sys("unshare(CLONE_NEWNS|CLONE_NEWUTS)") { cnl_unshare(Int32(CLONE_NEWNS) | Int32(CLONE_NEWUTS)) }
        try sys("mount --make-rprivate / (in the node's mount namespace)") { mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) }
        try sys("sethostname \(hostname)") { sethostname(hostname, hostname.utf8.count) }
        try sys("mount -t tmpfs tmpfs /run (in the node's mount namespace)") {
            mount("tmpfs", "/run", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755")
        }
        try sys("mount -t tmpfs tmpfs /tmp (in the node's mount namespace)") {
            mount("tmpfs", "/tmp", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=1777")
        }
        try sys("mkdir /run/netnskit") { mkdir("/run/netnskit", 0o755) }
        try writeFile("/run/netnskit/hosts", hosts)
        try writeFile("/run/netnskit/resolv.conf", resolvConf)
        try bind("/run/netnskit/hosts", over: "/etc/hosts")
        if let target = resolvTarget, target.hasPrefix("/run/") || target.hasPrefix("/tmp/") {
            // The link points into the fresh tmpfs: put the file where it points.
            try makeParents(of: target)
            try writeFile(target, resolvConf)
        } else {
            try bind("/run/netnskit/resolv.conf", over: "/etc/resolv.conf")
        }
        let m = try sys("open /proc/thread-self/ns/mnt") { open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC) }
        let u: Int32
        do {
            u = try sys("open /proc/thread-self/ns/uts") { open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC) }
        } catch {
            Glibc.close(m)
            throw error
        }
        // A worker thread that enters these namespaces must be able to go back, or the spawn
        // would leave it inside (``entered(_:)`` stops the process then). Going back needs
        // CAP_SYS_ADMIN over the user namespace that owns the process's own mount and UTS
        // namespaces: in a user namespace made without its own UTS namespace (`unshare --user
        // --mount`, no `--uts`), it is missing. Found out here, on this throwaway thread.
        if cnl_setns(homeMount, Int32(CLONE_NEWNS)) != 0 || cnl_setns(homeUTS, Int32(CLONE_NEWUTS)) != 0 {
            let e = errno
            Glibc.close(m); Glibc.close(u)
            throw SystemCallError("isolation: a thread could not return to this process's mount and UTS namespaces "
                                  + "(they belong to a user namespace where it lacks CAP_SYS_ADMIN; in a user namespace, "
                                  + "give the process its own UTS and mount namespaces too, e.g. unshare --uts --mount)",
                                  Errno(rawValue: e))
        }
        return (m, u)
    }

    private static func symlinkTarget(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target.hasPrefix("/") { return target }
        // Relative to the link's directory; `..` is resolved as the kernel would.
        var parts = path.split(separator: "/").dropLast().map(String.init)
        for p in target.split(separator: "/") {
            if p == ".." { _ = parts.popLast() } else if p != "." { parts.append(String(p)) }
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func makeParents(of path: String) throws(SystemCallError) {
        var prefix = ""
        for p in path.split(separator: "/").dropLast() {
            prefix += "/" + p
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SystemCallError("mkdir \(prefix)", Errno(rawValue: errno))
            }
        }
    }

    private static func writeFile(_ path: String, _ text: String) throws(SystemCallError) {
        let fd = try sys("create \(path)") { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { Glibc.close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { throw SystemCallError("write \(path)", Errno(rawValue: n < 0 ? errno : EIO)) }
    }

    private static func bind(_ source: String, over target: String) throws(SystemCallError) {
        if access(target, F_OK) != 0 {
            // A bind mount needs an existing target; creating it writes only into this mount namespace
            // when the directory is one of ours, so refuse anything else.
            throw SystemCallError("mount --bind \(source) \(target): \(target) does not exist", Errno(rawValue: ENOENT))
        }
        try sys("mount --bind \(source) \(target) (in the node's mount namespace)") {
            mount(source, target, nil, UInt(MS_BIND), nil)
        }
    }

    /// Runs `body` on the calling thread inside the mount and UTS namespaces, then puts the
    /// thread back where it was (namespaces and working directory). The working directory's
    /// path is kept inside, so relative paths mean the same (a directory under the node's fresh
    /// `/tmp` or `/run` does not exist there: the thread is then at `/`).
    /// - Important: call on a dedicated thread (the namespace worker), never a cooperative one.
    public func entered<T>(_ body: () throws -> T) throws -> T {
        // setns into a mount namespace needs a thread with fs information (root, cwd) of its own.
        // Unsharing it every time costs nothing once done (nothing is shared any more); a record
        // of threads by tid would be wrong, as tids are reused (pid_max is 32768 here).
        try sys("unshare(CLONE_FS)") { cnl_unshare(Int32(CLONE_FS)) }
        let backMount = try sys("open /proc/thread-self/ns/mnt") { open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(backMount) }
        let backUTS = try sys("open /proc/thread-self/ns/uts") { open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(backUTS) }
        let cwd = try sys("open .") { open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { Glibc.close(cwd) }
        var path = [CChar](repeating: 0, count: 4096)
        let cwdPath: String? = getcwd(&path, path.count).map { _ in
            String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        try sys("setns(mnt) into \(hostname)") { cnl_setns(mountFD, Int32(CLONE_NEWNS)) }
        defer {
            if cnl_setns(backMount, Int32(CLONE_NEWNS)) != 0 || cnl_setns(backUTS, Int32(CLONE_NEWUTS)) != 0 {
                // The thread would stay in a node's mount namespace: never continue like that.
                fatalError("NetnsKit: cannot return a thread from node \(hostname)'s mount/UTS namespace (errno \(errno))")
            }
            _ = fchdir(cwd)
        }
        try sys("setns(uts) into \(hostname)") { cnl_setns(utsFD, Int32(CLONE_NEWUTS)) }
        if let cwdPath { _ = chdir(cwdPath) }
        return try body()
    }
}

extension NetworkNamespace {
    /// Runs a spawn on the namespace worker, inside the node's mount and UTS namespaces too
    /// when it has them (``hostNamespaces``), so the child starts in all three.
    public func runSpawning<T>(_ body: () throws -> T) throws -> T {
        try run {
            if let host = hostNamespaces { return try host.entered(body) }
            return try body()
        }
    }
}
