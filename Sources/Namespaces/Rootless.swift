import Glibc
import CNetlink
import SystemPackage
import Netlink

/// Rootless mode: when the process lacks CAP_NET_ADMIN/CAP_SYS_ADMIN, it moves itself into a new
/// user namespace (mapping the user to root there), a new network namespace and a private mount
/// namespace with its own `/run`, where it can build whole topologies.
///
/// What this costs: nothing outlives the process (the namespaces die with it), and labs are not
/// visible to the host's `ip netns`. tun/tap needs `/dev/net/tun`, which is root-only on most hosts.
public enum Rootless {
    /// Why rootless mode could not be entered.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var description: String
        /// How to make it work, when the cause is known.
        public var fix: String?
        /// A failure described by `description`, with a `fix` when one is known.
        public init(description: String, fix: String? = nil) { self.description = description; self.fix = fix }
    }

    /// True once this process has entered its own user namespace through ``enter()``.
    public nonisolated(unsafe) private(set) static var isActive = false

    /// Enters rootless mode if the process lacks the capabilities and can create a user namespace.
    /// - Returns: true when it entered rootless mode, false when it was not needed.
    /// - Important: call first thing in `main`, while the process is single-threaded
    ///   (`unshare(CLONE_NEWUSER)` refuses multithreaded processes).
    @discardableResult
    public static func enterIfNeeded() throws -> Bool {
        if Capabilities.missing().isEmpty { return false }
        try enter()
        return true
    }

    /// Unshares user, network, mount and UTS namespaces, maps the current user to root, and mounts
    /// a private tmpfs on `/run` so named namespaces can be pinned under `/run/netns`. (The UTS
    /// namespace too: a node with `isolation: full` gets its own, and the thread that made it
    /// must be able to return to the process's, which needs CAP_SYS_ADMIN over it.)
    public static func enter() throws {
        let uid = getuid(), gid = getgid()
        if threadCount() > 1 {
            throw Failure(description: "cannot enter a user namespace: the process already has \(threadCount()) threads (rootless mode must start first thing in main)")
        }
        let flags = Int32(CLONE_NEWUSER) | Int32(CLONE_NEWNET) | Int32(CLONE_NEWNS) | Int32(CLONE_NEWUTS)
        if cnl_unshare(flags) != 0 {
            let e = Errno(rawValue: errno)
            let (cause, fix) = diagnoseUnshare(errno: e)
            throw Failure(description: "unshare(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWUTS): \(e)\(cause.map { " (\($0))" } ?? "")",
                          fix: fix)
        }
        try write("/proc/self/setgroups", "deny")
        do {
            try write("/proc/self/uid_map", "0 \(uid) 1")
        } catch let f as Failure where uid == 0 {
            // Since Linux 5.12 a user namespace whose root is mapped to uid 0 needs CAP_SETFCAP in
            // the parent (Docker's default set has it; a smaller one may not).
            throw Failure(description: f.description + " (mapping uid 0 into a user namespace needs CAP_SETFCAP)",
                          fix: "keep CAP_SETFCAP in the container, or run nslab as root with --cap-add NET_ADMIN --cap-add SYS_ADMIN")
        }
        try write("/proc/self/gid_map", "0 \(gid) 1")
        // Mounts made here must not propagate back; then a private /run for /run/netns.
        if mount("none", "/", nil, UInt(MS_REC | MS_PRIVATE), nil) != 0 {
            throw Failure(description: "making / private in the new mount namespace: \(Errno(rawValue: errno))")
        }
        if mount("tmpfs", "/run", "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755") != 0 {
            throw Failure(description: "mounting a private /run: \(Errno(rawValue: errno))")
        }
        // Loopback up in the process's own new namespace: Foundation's runloop machinery and
        // resolvers expect it (a `Process` first used where lo is down fails to make its wakeup
        // socket pair, and the next one hangs).
        let sock = try RTNetlinkSocket(label: "rootless")
        try sock.execute(.setLink(index: 1, LinkChange(up: true), what: "bringing lo up in the rootless namespace"))
        isActive = true
    }

    /// Why `unshare(CLONE_NEWUSER)` failed with this errno, and the fix, as far as the process can tell.
    ///
    /// Docker's default seccomp profile (and Podman's, derived from it) answers EPERM to an `unshare`
    /// of network or mount namespaces by a container without CAP_SYS_ADMIN (a user namespace alone
    /// passes), whatever the user namespace limit; so a filter is named first. ENOSPC is the limit
    /// (`user.max_user_namespaces`, 0 when disabled).
    public static func diagnoseUnshare(errno e: Errno) -> (cause: String?, fix: String?) {
        let rootful = "run nslab as root in a container started with --cap-add NET_ADMIN --cap-add SYS_ADMIN"
        let limit = Confinement.readSmallFile("/proc/sys/user/max_user_namespaces").flatMap { Int($0.filter(\.isNumber)) }
        if e == .noSpace {
            let m = limit.map { " (user.max_user_namespaces = \($0))" } ?? ""
            return ("the limit on user namespaces is reached or zero\(m)",
                    "raise it on the host (sysctl -w user.max_user_namespaces=15000), or \(rootful)")
        }
        if e == .notPermitted && Confinement.hasSeccompFilter {
            return ("a seccomp filter refuses unshare (Seccomp: 2 in /proc/self/status); Docker's default profile, "
                    + "and Podman's, which derives from it, let a container without CAP_SYS_ADMIN create no network or mount namespace",
                    "\(rootful), or relax the filter (docker/podman run --security-opt seccomp=unconfined …)")
        }
        if e == .notPermitted {
            var knobs: [String] = []
            for (key, path) in [("kernel.unprivileged_userns_clone", "/proc/sys/kernel/unprivileged_userns_clone"),
                                ("kernel.apparmor_restrict_unprivileged_userns", "/proc/sys/kernel/apparmor_restrict_unprivileged_userns")] {
                if let v = Confinement.readSmallFile(path) { knobs.append("\(key) = \(v.filter(\.isNumber))") }
            }
            if let m = limit { knobs.append("user.max_user_namespaces = \(m)") }
            return ("unprivileged user namespaces are refused here" + (knobs.isEmpty ? "" : " (\(knobs.joined(separator: ", ")))"),
                    "run nslab as root, or allow unprivileged user namespaces on the host")
        }
        return (nil, nil)
    }

    private static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "open \(path): \(Errno(rawValue: errno))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        if bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) != bytes.count {
            throw Failure(description: "write \(text) to \(path): \(Errno(rawValue: errno))")
        }
    }

    /// The number of threads of this process.
    public static func threadCount() -> Int {
        guard let d = opendir("/proc/self/task") else { return 1 }
        defer { closedir(d) }
        var n = 0
        while let e = readdir(d) {
            let first = withUnsafeBytes(of: e.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        return n
    }
}
