import Glibc

/// What confines this process besides its capabilities: a seccomp filter and a security
/// module label, as container runtimes set them up (read from `/proc/self`).
public enum Confinement {
    /// The `Seccomp:` field of `/proc/self/status`: 0 none, 1 strict, 2 a filter; nil when the
    /// kernel does not say.
    public static var seccompMode: Int? { statusField("Seccomp") }

    /// How many seccomp filters are stacked on this process (`Seccomp_filters:`), if the kernel says.
    public static var seccompFilters: Int? { statusField("Seccomp_filters") }

    /// True when a seccomp filter is installed (Docker's and Podman's default profiles are one).
    public static var hasSeccompFilter: Bool { seccompMode == 2 }

    /// The security module label of this process (`/proc/self/attr/current`), e.g.
    /// `docker-default (enforce)` (AppArmor) or `system_u:system_r:container_t:s0:c1,c2`
    /// (SELinux); nil when there is none or it is unconfined.
    public static var securityLabel: String? {
        for path in ["/proc/self/attr/apparmor/current", "/proc/self/attr/current"] {
            guard let text = readSmallFile(path) else { continue }
            let label = text.trimmingCharacters(in: [" ", "\n", "\0"])
            if label.isEmpty || label == "unconfined" || label == "kernel" { return nil }
            return label
        }
        return nil
    }

    /// The text of a small file, or nil if it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = try? readAll(fd: fd) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func statusField(_ name: String) -> Int? {
        guard let status = readSmallFile("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(line.dropFirst(name.count + 1).trimmingCharacters(in: [" ", "\t"]))
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
