import Glibc
import SystemPackage
import CNetlink
import Netlink

/// A failed system call: which operation, on what, and errno; sometimes a reason in words
/// (a probe's timeout, a reply that was too short).
///
/// The one error type of the kernel edge: namespaces, spawning, sysctls, probes, capture and
/// node sockets all throw it (``sys(_:_:)`` builds it from errno).
public struct SystemCallError: ErrnoCarrying, Sendable, CustomStringConvertible, Equatable {
    /// The call and what it acted on (`mkdir /run/netns`, `connect to 10.0.2.2:80 in ns h1`).
    public var operation: String
    /// The errno the call failed with.
    public var errno: Errno
    /// More about the failure, when errno alone does not say it (`no reply within 1.0 s`).
    public var reason: String?
    /// The failure of `operation` with `errno`.
    public init(_ operation: String, _ errno: Errno) { self.operation = operation; self.errno = errno }
    /// The failure of `operation` with `errno`, and an optional reason.
    public init(_ operation: String, errno: Errno, reason: String? = nil) {
        self.operation = operation; self.errno = errno; self.reason = reason
    }
    /// The symbolic errno name, such as `ECONNREFUSED`.
    public var errnoName: String { ErrnoNames.name(errno) }
    /// The operation, the errno's text and its symbolic name (`Connection refused (ECONNREFUSED)`),
    /// then the reason if there is one.
    public var description: String {
        "\(operation): \(ErrnoNames.text(errno)) (\(errnoName))" + (reason.map { ": \($0)" } ?? "")
    }
}

/// Runs a syscall that returns -1 on failure, retrying on EINTR, and names the operation in the error.
///
/// The one way this package makes a system call: the `Namespaces` target and the `Probes`
/// target above it (the kernel edge) call it; nothing else imports Glibc.
@discardableResult
@inline(__always)
package func sys<T: FixedWidthInteger>(_ op: @autoclosure () -> String, _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw SystemCallError(op(), Errno(rawValue: e))
    }
}

/// The calling thread's kernel thread id.
public func currentThreadID() -> Int32 { cnl_gettid() }

/// Reads a whole small file (a /proc or /sys entry) through an open descriptor.
func readAll(fd: Int32) throws(SystemCallError) -> [UInt8] {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = try sys("read") { buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        if n == 0 { return out }
        out += buf[0..<n]
    }
}
