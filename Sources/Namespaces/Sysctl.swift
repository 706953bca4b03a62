import Glibc
import CNetlink
import SystemPackage
import Netlink

/// Per-namespace sysctls under `/proc/sys/net`.
///
/// `/proc/sys/net` resolves against the namespace of the thread that opens it,
/// so reads and writes happen on the namespace worker inside the namespace.
extension NetworkNamespace {
    /// Reads a sysctl such as `net.ipv4.ip_forward`. Equivalent to `ip netns exec NS sysctl -n KEY`.
    public func sysctl(_ key: String) throws -> String {
        let path = try Self.sysctlPath(key)
        return try run {
            let fd = try sys("open \(path)") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
            defer { Glibc.close(fd) }
            let bytes = try readAll(fd: fd)
            var s = String(decoding: bytes, as: UTF8.self)
            while s.last == "\n" { s.removeLast() }
            return s
        }
    }

    /// Writes a sysctl. Equivalent to `ip netns exec NS sysctl -w KEY=VALUE`.
    public func setSysctl(_ key: String, _ value: String) throws {
        try setSysctls([(key, value)])
    }

    /// Writes several sysctls in one trip to the namespace.
    public func setSysctls(_ pairs: [(String, String)]) throws {
        let paths = try pairs.map { (try Self.sysctlPath($0.0), $0.1) }
        try run {
            for (path, value) in paths { try Self.writeSysctl(path: path, value: value) }
        }
    }

    /// Writes several sysctls in one trip to the namespace, naming the one that failed.
    ///
    /// - Throws: ``SysctlWriteError`` with the failed write's position in `writes`; a key that
    ///   is not a per-namespace `net.*` key throws `SystemCallError` before anything is written.
    public func writeSysctls(_ writes: [SysctlWrite]) throws {
        let paths = try writes.map { try Self.sysctlPath($0.key) }
        try run {
            for (k, w) in writes.enumerated() {
                do {
                    try Self.writeSysctl(path: paths[k], value: w.value)
                } catch let e as SystemCallError where w.optional && e.errno == .noSuchFileOrDirectory {
                    continue
                } catch let e as SystemCallError {
                    throw SysctlWriteError(key: w.key, value: w.value, index: k, underlying: e)
                }
            }
        }
    }

    /// Writes one sysctl file; the calling thread must be inside the namespace.
    ///
    /// Where `/proc/sys` is mounted read-only (a container's default), the file is opened
    /// through a proc of NetnsKit's own instead (``PrivateProc``).
    static func writeSysctl(path: String, value: String) throws {
        let fd = try PrivateProc.openForWriting(path)
        defer { Glibc.close(fd) }
        let bytes = Array((value + "\n").utf8)
        try sys("write \(path) = \(value)") { bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
    }

    /// `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`; only `net.*` keys (per-namespace) are allowed.
    ///
    /// As with `sysctl(8)`, a `/` inside a key stands for a dot in that part of the path: an
    /// interface named `eth0.10` is `net.ipv4.conf.eth0/10.rp_filter`.
    static func sysctlPath(_ key: String) throws -> String {
        let k = key.hasPrefix("/proc/sys/") ? String(key.dropFirst(10)).replacingSlashes() : key
        let parts = k.split(separator: ".", omittingEmptySubsequences: false).map { String($0.map { $0 == "/" ? "." : $0 }) }
        guard k.hasPrefix("net."), k.count < 200, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw SystemCallError("sysctl \(key): only per-namespace net.* keys can be set", .invalidArgument)
        }
        return "/proc/sys/" + parts.joined(separator: "/")
    }
}

extension String {
    fileprivate func replacingSlashes() -> String { String(map { $0 == "/" ? "." : $0 }) }
}

/// A sysctl to write when a namespace is created (``NetworkNamespace/create(label:loopbackUp:sysctls:worker:)``).
public struct SysctlWrite: Sendable, Hashable {
    /// The key as `sysctl` names it (`net.ipv4.ip_forward`).
    public var key: String
    /// The value to write.
    public var value: String
    /// Skip it silently when the kernel has no such knob (e.g. IPv6 knobs on a kernel booted
    /// with `ipv6.disable=1`).
    public var optional: Bool
    /// Writes `value` to `key`; `optional` skips a knob the kernel does not have.
    public init(_ key: String, _ value: String, optional: Bool = false) {
        self.key = key; self.value = value; self.optional = optional
    }
}

/// A sysctl written at namespace creation failed.
public struct SysctlWriteError: ErrnoCarrying, Sendable, CustomStringConvertible {
    /// The key that could not be written.
    public var key: String
    /// The value that was being written.
    public var value: String
    /// Its position in the list given to `create`.
    public var index: Int
    /// The failed write.
    public var underlying: SystemCallError
    /// The errno of the failed write.
    public var errno: Errno { underlying.errno }
    /// The write of `key=value`, at `index` in its list, that failed with `underlying`.
    public init(key: String, value: String, index: Int, underlying: SystemCallError) {
        self.key = key; self.value = value; self.index = index; self.underlying = underlying
    }
    /// `sysctl KEY=VALUE:` and the failure.
    public var description: String { "sysctl \(key)=\(value): \(underlying)" }
}
