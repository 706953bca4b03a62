import Glibc
import SystemPackage
import CNetlink

/// A failed system call: which operation, on what, and errno.
public struct SystemCallError: Error, Sendable, CustomStringConvertible, Equatable {
    public var operation: String
    public var errno: SystemPackage.Errno
    public init(_ operation: String, _ errno: SystemPackage.Errno) { self.operation = operation; self.errno = errno }
    public var description: String { "\(operation): \(errno) (\(errnoName))" }
    var errnoName: String {
        ErrnoNames.name(errno.rawValue)
    }
}

import Netlink

/// Runs a syscall that returns -1 on failure, retrying on EINTR, and names the operation in the error.
@discardableResult
@inline(__always)
func sys<T: FixedWidthInteger>(_ op: @autoclosure () -> String, _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw SystemCallError(op(), SystemPackage.Errno(rawValue: e))
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
