import Glibc
import CNetlink
import Dispatch
import Netlink
import Synchronization
import SystemPackage

/// A network namespace held by a file descriptor.
///
/// An anonymous namespace (``create(label:)``) lives as long as some descriptor,
/// process or mount holds it: when this process dies, it is gone, with all its links.
/// A pinned namespace (``pin(name:)``) is bind-mounted under `/run/netns`, where
/// `ip netns` sees it, and outlives the process until ``unpin()``.
public final class NetworkNamespace: @unchecked Sendable, CustomStringConvertible {
    private let state: Mutex<State>
    private struct State: @unchecked Sendable {
        var fd: Int32
        var pinnedPath: String?
        var socket: RTNetlinkSocket?
        var host: HostNamespaces? = nil
    }

    /// A label for messages (a node name, or `pid 123`).
    public let label: String
    /// Inode of the nsfs file: unique while this handle holds the namespace (with ``device``).
    public let inode: UInt64
    /// Device of the nsfs file (what `stat` on a pinned path reports too).
    public let device: UInt64
    /// The namespace cookie (`SO_NETNS_COOKIE`): never reused while the system runs.
    public let cookie: UInt64?

    /// The descriptor holding the namespace (-1 once closed).
    public var fd: Int32 { state.withLock { $0.fd } }
    /// Where the namespace is bind-mounted, if pinned.
    public var pinnedPath: String? { state.withLock { $0.pinnedPath } }
    /// The node's private mount and UTS namespaces, when it has them: processes spawned
    /// into this namespace enter them too (``runSpawning(_:)``).
    public var hostNamespaces: HostNamespaces? {
        get { state.withLock { $0.host } }
        set { state.withLock { $0.host = newValue } }
    }

    private init(fd: Int32, label: String, socket: RTNetlinkSocket?) throws {
        var st = stat()
        try sys("fstat(netns)") { fstat(fd, &st) }
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        self.label = label
        var cookie: UInt64? = nil
        if let s = socket { cookie = Self.cookie(ofSocket: s.fd) }
        self.cookie = cookie
        state = Mutex(State(fd: fd, pinnedPath: nil, socket: socket))
    }

    deinit {
        let s = state.withLock { $0 }
        if s.fd >= 0 { Glibc.close(s.fd) }
    }

    /// `netns LABEL (inode N)`.
    public var description: String { "netns \(label) (inode \(inode))" }

    // MARK: Creating and opening

    /// Creates a new anonymous network namespace, brings its loopback up, and opens
    /// an rtnetlink socket inside it (in the same trip to the worker thread).
    public static func create(label: String = "", loopbackUp: Bool = true, sysctls: [SysctlWrite] = [],
                              worker: NamespaceWorker = .shared) throws -> NetworkNamespace {
        let paths = try sysctls.map { try sysctlPath($0.key) }
        var sock: RTNetlinkSocket?
        let fd = try worker.createNamespace { _ in
            // Sysctls first, while the worker is inside the new namespace: no links exist yet,
            // so `default` values reach every link created later.
            for (k, w) in sysctls.enumerated() {
                do {
                    try writeSysctl(path: paths[k], value: w.value)
                } catch let e as SystemCallError where w.optional && e.errno == .noSuchFileOrDirectory {
                    continue
                } catch let e as SystemCallError {
                    throw SysctlWriteError(key: w.key, value: w.value, index: k, underlying: e)
                }
            }
            sock = try RTNetlinkSocket(label: label.isEmpty ? "" : "ns \(label)")
        }
        let ns = try NetworkNamespace(fd: fd, label: label, socket: sock)
        if loopbackUp {
            try sock!.execute(.setLink(index: 1, LinkChange(up: true), what: "bringing lo up"))
        }
        return ns
    }

    /// Opens a namespace by path (`/run/netns/NAME`, `/proc/PID/ns/net`, …).
    public static func open(path: String, label: String? = nil) throws -> NetworkNamespace {
        let fd = try sys("open \(path)") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        do {
            var sock: RTNetlinkSocket?
            try NamespaceWorker.shared.run(in: fd) { sock = try RTNetlinkSocket(label: "ns \(label ?? path)") }
            return try NetworkNamespace(fd: fd, label: label ?? path, socket: sock)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Opens a namespace pinned under `/run/netns` (what `ip netns` lists).
    public static func open(name: String) throws -> NetworkNamespace {
        try open(path: "\(NetworkNamespace.runDirectory)/\(name)", label: name)
    }

    /// Opens the namespace a process is in.
    public static func open(pid: Int32) throws -> NetworkNamespace {
        try open(path: "/proc/\(pid)/ns/net", label: "pid \(pid)")
    }

    /// The namespace this process started in (the worker's home).
    public static func current() throws -> NetworkNamespace {
        try open(path: "/proc/self/ns/net", label: "current")
    }

    // MARK: Using it

    /// The rtnetlink socket of this namespace.
    public var socket: RTNetlinkSocket {
        get throws {
            if let s = state.withLock({ $0.socket }) { return s }
            let s = try run { try RTNetlinkSocket(label: "ns \(label)") }
            state.withLock { $0.socket = s }
            return s
        }
    }

    /// Runs a short synchronous step inside the namespace on the namespace worker thread.
    /// - Important: system calls only; see ``NamespaceWorker``.
    public func run<T>(_ body: () throws -> T) throws -> T {
        let fd = self.fd
        guard fd >= 0 else { throw SystemCallError("using closed namespace \(label)", .badFileDescriptor) }
        return try NamespaceWorker.shared.run(in: fd, body)
    }

    /// Closes the descriptor and the socket. An anonymous namespace is destroyed by the
    /// kernel once nothing else holds it (asynchronously, within milliseconds).
    public func close() {
        let fd = state.withLock { s -> Int32 in
            let fd = s.fd
            s.fd = -1
            s.socket = nil
            s.host = nil
            return fd
        }
        if fd >= 0 { Glibc.close(fd) }
    }

    // MARK: Pinning

    /// The directory where iproute2 pins named namespaces.
    public static let runDirectory = "/run/netns"

    /// The devices kernel modules put into every network namespace by themselves: once
    /// `ip_gre`, `ipip`, `sit`, `ip6_tunnel`, `ip6_gre` or the VTI modules are loaded (by
    /// anyone), each namespace is born with their fallback device at ifindex 2, 3, …, unless
    /// the host sets `net.core.fb_tunnels_only_for_init_net`. A new namespace holds `lo`, these
    /// (where their modules are loaded), and nothing else.
    public static let kernelFallbackDevices: Set<String> = [
        "gre0", "gretap0", "erspan0", "tunl0", "sit0", "ip6tnl0", "ip6gre0", "ip_vti0", "ip6_vti0",
    ]

    /// Bind-mounts the namespace at `/run/netns/NAME` so `ip netns` sees it, as `ip netns add` does.
    /// - Throws: if the name is taken (EEXIST) or the mount fails.
    public func pin(name: String) throws {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw SystemCallError("pinning namespace as \"\(name)\": invalid name", .invalidArgument)
        }
        // Preparing /run/netns (a mkdir and a mount propagation change) is done once per
        // process, and again if the directory has gone.
        if !Self.runDirectoryPrepared.load(ordering: .acquiring) {
            try Self.prepareRunDirectory()
            Self.runDirectoryPrepared.store(true, ordering: .releasing)
        }
        let path = "\(Self.runDirectory)/\(name)"
        var e = Self.makePinFile(path)
        if e == ENOENT {
            // /run/netns has gone since it was prepared.
            try Self.prepareRunDirectory()
            e = Self.makePinFile(path)
        }
        if e != 0 { throw SystemCallError("create \(path)", SystemPackage.Errno(rawValue: e)) }
        let src = "/proc/self/fd/\(fd)"
        if mount(src, path, "none", UInt(MS_BIND), nil) != 0 {
            let e = errno
            unlink(path)
            throw SystemCallError("bind-mounting namespace at \(path)", SystemPackage.Errno(rawValue: e))
        }
        state.withLock { $0.pinnedPath = path }
    }

    /// Removes the bind mount, as `ip netns del` does. Idempotent.
    public func unpin() {
        guard let path = state.withLock({ s -> String? in let p = s.pinnedPath; s.pinnedPath = nil; return p }) else { return }
        Self.unpin(path: path)
    }

    /// Unmounts and removes a pinned namespace path. "Already gone" counts as success.
    @discardableResult
    public static func unpin(path: String) -> Bool {
        _ = umount2(path, Int32(MNT_DETACH))
        return unlink(path) == 0 || errno == ENOENT
    }

    private static let runDirectoryPrepared = Atomic<Bool>(false)

    /// An unnamed file in `/run/netns` (`O_TMPFILE`) that pin files are hard links to, or -1.
    private static let pinTemplate = Mutex<Int32>(-1)

    /// Creates the empty file a pin is mounted on.
    ///
    /// `ip netns add` creates a new file for each namespace. Here each pin file is a hard link
    /// to one unnamed inode: a link is only a directory entry, while a new inode can be costly.
    /// On ext4 without a journal (where `/run` lives on some VMs) the inode allocator skips every
    /// inode freed in the last minutes, so after a few hundred namespaces have come and gone
    /// each new file took 0.4 ms; a link takes 7 µs. The mount hides the file, `ip netns del`
    /// unlinks it like any other, and the inode goes with the last link. Falls back to a new
    /// file where the filesystem has no `O_TMPFILE` or the link fails for any other reason
    /// than the name being taken.
    /// - Returns: 0, or the errno of the failure.
    static func makePinFile(_ path: String) -> Int32 {
        let linked: Int32 = pinTemplate.withLock { fd in
            for attempt in 0..<2 {
                if fd < 0 { fd = cnl_open_tmpfile(runDirectory, 0o444) }
                guard fd >= 0 else { return -1 }
                if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 { return 0 }
                if errno == EEXIST { return EEXIST }
                // ENOENT once every earlier pin has been removed (an inode whose last link is
                // gone cannot be linked again), EXDEV (remounted), EMLINK, …: a fresh inode.
                Glibc.close(fd)
                fd = -1
                if attempt == 1 { break }
            }
            return -1
        }
        if linked >= 0 { return linked }
        let f = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        if f < 0 { return errno }
        Glibc.close(f)
        return 0
    }

    /// Makes `/run/netns` a shared mount point, as iproute2 does, so pins propagate.
    static func prepareRunDirectory() throws {
        mkdir("/run", 0o755)
        if mkdir(runDirectory, 0o755) != 0 && errno != EEXIST {
            throw SystemCallError("mkdir \(runDirectory)", SystemPackage.Errno(rawValue: errno))
        }
        if mount("", runDirectory, "none", UInt(MS_SHARED | MS_REC), nil) == 0 { return }
        guard errno == EINVAL else {
            throw SystemCallError("mount --make-shared \(runDirectory)", SystemPackage.Errno(rawValue: errno))
        }
        try sys("mount --bind \(runDirectory)") { mount(runDirectory, runDirectory, "none", UInt(MS_BIND | MS_REC), nil) }
        try sys("mount --make-shared \(runDirectory)") { mount("", runDirectory, "none", UInt(MS_SHARED | MS_REC), nil) }
    }

    // MARK: Identity

    /// The cookies of the namespaces these descriptors hold (nil where one cannot be read: not a
    /// network namespace, or a kernel without `SO_NETNS_COOKIE`), read on both namespace workers
    /// at once, each entering its half of the namespaces in one trip.
    ///
    /// Much cheaper than ``open(path:label:)`` per namespace, which opens an rtnetlink socket in
    /// each: here a plain Unix socket is created and closed in each namespace.
    public static func cookies(of fds: [Int32]) -> [UInt64?] {
        var out = [UInt64?](repeating: nil, count: fds.count)
        let half = (fds.count + 1) / 2
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let results = buffer
            DispatchQueue.concurrentPerform(iterations: fds.count > 16 ? 2 : 1) { part in
                let range = fds.count > 16 ? (part == 0 ? 0..<half : half..<fds.count) : 0..<fds.count
                let worker = part == 0 ? NamespaceWorker.shared : NamespaceWorker.second
                worker.forEach(in: Array(fds[range])) { i, entered in
                    guard entered else { return }
                    let s = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                    guard s >= 0 else { return }
                    results[range.lowerBound + i] = cookie(ofSocket: s)
                    Glibc.close(s)
                }
            }
        }
        return out
    }

    /// Unmounts and removes pinned namespace paths, as ``unpin(path:)`` does for one, on two threads.
    /// - Returns: for each path, 0 when it is gone, else the errno of the failed `unlink`.
    public static func unpin(paths: [String]) -> [Int32] {
        var out = [Int32](repeating: 0, count: paths.count)
        let half = (paths.count + 1) / 2
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let results = buffer
            DispatchQueue.concurrentPerform(iterations: paths.count > 16 ? 2 : 1) { part in
                let range = paths.count > 16 ? (part == 0 ? 0..<half : half..<paths.count) : 0..<paths.count
                for i in range {
                    _ = umount2(paths[i], Int32(MNT_DETACH))
                    results[i] = unlink(paths[i]) == 0 || errno == ENOENT ? 0 : errno
                }
            }
        }
        return out
    }

    /// `SO_NETNS_COOKIE` of a socket: the namespace's never-reused 64-bit identity.
    static func cookie(ofSocket fd: Int32) -> UInt64? {
        var c: UInt64 = 0
        var len = socklen_t(8)
        let SO_NETNS_COOKIE: Int32 = 71
        return getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len) == 0 ? c : nil
    }

    /// The inode of the namespace the calling thread is in.
    public static func currentThreadInode() -> UInt64? {
        var st = stat()
        return stat("/proc/thread-self/ns/net", &st) == 0 ? UInt64(st.st_ino) : nil
    }
}
