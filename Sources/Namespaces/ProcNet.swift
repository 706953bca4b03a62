import Glibc
import CNetlink
import SystemPackage

extension NetworkNamespace {
    /// Reads a file under `/proc/net` as this namespace sees it (`snmp`, `netstat`, `snmp6`, `dev`, …).
    ///
    /// `/proc/thread-self/net` resolves against the namespace of the thread that opens it, so the
    /// read happens on the namespace worker. Equivalent to `ip netns exec NS cat /proc/net/NAME`.
    /// - Throws: `SystemCallError` for a name with a `/` or `..`, or when the file cannot be read.
    public func procNet(_ name: String) throws -> String {
        guard !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
            throw SystemCallError("read /proc/net/\(name)", errno: .invalidArgument, reason: "not a file name under /proc/net")
        }
        let path = "/proc/thread-self/net/\(name)"
        return try run {
            let fd = try sys("open \(path)") { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
            defer { Glibc.close(fd) }
            return String(decoding: try readAll(fd: fd), as: UTF8.self)
        }
    }
}
