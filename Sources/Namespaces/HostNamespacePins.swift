import Glibc
import CNetlink
import SystemPackage

/// Pinning a node's private mount and UTS namespaces, so they outlive the process that made
/// them (a lab brought up by `nslab up`), and opening them again (`nslab exec`, `nslab shell`).
///
/// The pins are bind mounts of the namespace files on `<directory>/<node>.mnt` and
/// `<directory>/<node>.uts`. The directory is first bind-mounted on itself and made private:
/// a mount namespace file may only be bind-mounted where the mount does not propagate (else the
/// kernel refuses it, as `unshare --mount=FILE` documents), and nothing of it reaches other
/// mount namespaces.
extension HostNamespaces {
    /// The pin files of a node: `<directory>/<node>.mnt` and `<directory>/<node>.uts`.
    public static func pinPaths(directory: String, node: String) -> (mount: String, uts: String) {
        ("\(directory)/\(node).mnt", "\(directory)/\(node).uts")
    }

    /// Pins both namespaces under `directory`, made ready once by ``preparePinDirectory(_:)``.
    /// - Throws: `SystemCallError` naming the step; whatever was pinned is removed again then.
    /// - Important: needs CAP_SYS_ADMIN.
    public func pin(directory: String, node: String) throws(SystemCallError) {
        let (m, u) = Self.pinPaths(directory: directory, node: node)
        do {
            try Self.bindNamespace(fd: mountFD, to: m)
            try Self.bindNamespace(fd: utsFD, to: u)
        } catch {
            Self.unpin(directory: directory, node: node)
            throw error
        }
    }

    /// The id of a mount namespace (`NS_GET_MNTNS_ID`), or nil where the kernel has no such ioctl.
    static func mountNamespaceID(fd: Int32) -> UInt64? {
        var id: UInt64 = 0
        return ioctl(fd, UInt(0x8008b705), &id) == 0 ? id : nil
    }

    /// Whether the kernel lets the calling thread's mount namespace pin this one: it refuses
    /// (EINVAL, a "loop") unless the namespace's id is greater than the caller's. Ids are not
    /// always in creation order (on 6.18, under load, a namespace made after ours got a smaller
    /// one; per-CPU id batches would explain it), hence the check.
    public var isPinnableHere: Bool {
        let me = Glibc.open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)
        guard me >= 0 else { return true }
        defer { Glibc.close(me) }
        guard let mine = Self.mountNamespaceID(fd: me), let theirs = Self.mountNamespaceID(fd: mountFD) else { return true }
        return theirs > mine
    }

    /// Creates the namespaces as ``create(hostname:hosts:resolvConf:)`` does, again until they are
    /// ones this thread can pin (``isPinnableHere``), at most `attempts` times.
    /// - Throws: `SystemCallError` from a creation, or EINVAL when no attempt gave a pinnable one.
    public static func createPinnable(hostname: String, hosts: String, resolvConf: String,
                                      attempts: Int = 64) throws -> HostNamespaces {
        for _ in 0..<attempts {
            let h = try create(hostname: hostname, hosts: hosts, resolvConf: resolvConf)
            if h.isPinnableHere { return h }
        }
        throw SystemCallError("pinning the mount namespace of \(hostname): the kernel numbered \(attempts) new mount namespaces "
                              + "below this process's own, and refuses to pin such a one (it takes it for a loop)",
                              Errno(rawValue: EINVAL))
    }

    /// Removes a node's pins (unmounts and unlinks them). Idempotent.
    public static func unpin(directory: String, node: String) {
        let (m, u) = pinPaths(directory: directory, node: node)
        for p in [m, u] {
            _ = umount2(p, Int32(MNT_DETACH))
            _ = unlink(p)
        }
    }

    /// Removes every pin under `directory`, its private mount and the directory itself. Idempotent.
    /// - Returns: the names of the nodes whose pins were there.
    @discardableResult
    public static func removePinDirectory(_ directory: String) -> [String] {
        var nodes: [String] = []
        if let d = opendir(directory) {
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasSuffix(".mnt") { nodes.append(String(name.dropLast(4))) }
            }
            closedir(d)
        }
        for n in nodes { unpin(directory: directory, node: n) }
        // Stray files (a uts pin without its mnt), then the directory's own bind mount.
        if let d = opendir(directory) {
            var rest: [String] = []
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasSuffix(".uts") || name.hasSuffix(".mnt") { rest.append(name) }
            }
            closedir(d)
            for r in rest { _ = umount2("\(directory)/\(r)", Int32(MNT_DETACH)); _ = unlink("\(directory)/\(r)") }
        }
        _ = umount2(directory, Int32(MNT_DETACH))
        _ = rmdir(directory)
        return nodes.sorted()
    }

    /// Opens a node's pinned namespaces again.
    /// - Returns: nil when the node has no pins (it is not isolated).
    /// - Throws: `SystemCallError` when a pin exists but is not a namespace of the right type.
    public static func openPinned(directory: String, node: String) throws(SystemCallError) -> HostNamespaces? {
        let (m, u) = pinPaths(directory: directory, node: node)
        guard access(m, F_OK) == 0 else { return nil }
        let mfd = try sys("open \(m)") { Glibc.open(m, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        let ufd = Glibc.open(u, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if ufd < 0 {
            let e = errno
            Glibc.close(mfd)
            throw SystemCallError("open \(u)", Errno(rawValue: e))
        }
        // NS_GET_NSTYPE: a file that is no namespace of the right type (an unmounted placeholder) is refused.
        let nsGetNSType = UInt(0xb703)
        if ioctl(mfd, nsGetNSType) != Int32(CLONE_NEWNS) || ioctl(ufd, nsGetNSType) != Int32(CLONE_NEWUTS) {
            Glibc.close(mfd); Glibc.close(ufd)
            throw SystemCallError("\(m) and \(u) are not a mount and a UTS namespace (a lab torn down half-way?)",
                                  Errno(rawValue: EINVAL))
        }
        return HostNamespaces(mountFD: mfd, utsFD: ufd, hostname: node)
    }

    /// Creates `directory` (mode 0700), bind-mounts it on itself and makes that mount private,
    /// once per lab, before its nodes are pinned.
    /// - Throws: `SystemCallError` when it exists already (a lab of that name left it) or a step fails.
    public static func preparePinDirectory(_ directory: String) throws(SystemCallError) {
        if mkdir(directory, 0o700) != 0 {
            throw SystemCallError("mkdir \(directory)", Errno(rawValue: errno))
        }
        try sys("mount --bind \(directory) \(directory)") { mount(directory, directory, nil, UInt(MS_BIND), nil) }
        try sys("mount --make-private \(directory)") { mount("none", directory, nil, UInt(MS_PRIVATE), nil) }
    }

    private static func bindNamespace(fd: Int32, to path: String) throws(SystemCallError) {
        let file = try sys("create \(path)") { Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444) }
        Glibc.close(file)
        if mount("/proc/self/fd/\(fd)", path, nil, UInt(MS_BIND), nil) != 0 {
            let e = errno
            // The kernel refuses (EINVAL) a mount namespace bound into one that is not older than it
            // (a loop) or onto a mount that propagates: the ids (NS_GET_MNTNS_ID) tell which.
            let me = Glibc.open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)
            let mine = Self.mountNamespaceID(fd: me).map { "\($0)" } ?? "?"
            Glibc.close(me)
            let theirs = Self.mountNamespaceID(fd: fd).map { "\($0)" } ?? "?"
            throw SystemCallError("mount --bind /proc/self/fd/\(fd) \(path) (mount namespace ids: this thread's \(mine), the node's \(theirs))", Errno(rawValue: e))
        }
    }
}
