import Glibc
import CNetlink
import SystemPackage

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
    static func sysctlPath(_ key: String) throws -> String {
        let k = key.hasPrefix("/proc/sys/") ? String(key.dropFirst(10)).replacingSlashes() : key
        guard k.hasPrefix("net."), !k.contains(".."), !k.contains("/"), k.count < 200 else {
            throw SystemCallError("sysctl \(key): only per-namespace net.* keys can be set", .invalidArgument)
        }
        return "/proc/sys/" + k.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/")
    }
}

extension String {
    fileprivate func replacingSlashes() -> String { String(map { $0 == "/" ? "." : $0 }) }
}

/// A sysctl to write when a namespace is created (``NetworkNamespace/create(label:loopbackUp:sysctls:worker:)``).
public struct SysctlWrite: Sendable, Hashable {
    public var key: String
    public var value: String
    /// Skip it silently when the kernel has no such knob (e.g. IPv6 knobs on a kernel booted
    /// with `ipv6.disable=1`).
    public var optional: Bool
    public init(_ key: String, _ value: String, optional: Bool = false) {
        self.key = key; self.value = value; self.optional = optional
    }
}

/// A sysctl written at namespace creation failed.
public struct SysctlWriteError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    /// Its position in the list given to `create`.
    public var index: Int
    public var underlying: SystemCallError
    public var errno: Errno { underlying.errno }
    public var description: String { "sysctl \(key)=\(value): \(underlying)" }
}
