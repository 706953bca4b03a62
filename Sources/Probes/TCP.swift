import Glibc
import CNetlink
import Namespaces
import Netlink
import SystemPackage

/// What a TCP connection attempt found.
public enum TCPConnectResult: Sendable, Hashable, CustomStringConvertible {
    /// The handshake completed: something listens.
    case open
    /// A RST came back (`ECONNREFUSED`): the host is there, nothing listens on the port.
    case refused
    /// No answer within the timeout (SYNs dropped, blackholed on a router, or `ETIMEDOUT`).
    case timedOut
    /// The connection failed with another errno: `ENETUNREACH`, `EHOSTUNREACH` (an ICMP
    /// unreachable came back, or an `unreachable` route), `EACCES` (`prohibit`), `EINVAL` (`blackhole`).
    case unreachable(errno: Errno)

    /// True for ``open``.
    public var isOpen: Bool { self == .open }

    /// `open`, `refused (ECONNREFUSED)`, `timed out`, or `unreachable:` and the errno.
    public var description: String {
        switch self {
        case .open: return "open"
        case .refused: return "refused (ECONNREFUSED)"
        case .timedOut: return "timed out"
        case .unreachable(let e): return "unreachable: \(ErrnoNames.text(e)) (\(ErrnoNames.name(e)))"
        }
    }
}

/// Tries a TCP connection from a namespace and reports whether the port is open.
///
/// The socket is created inside `ns`; the non-blocking `connect` and the `poll` for its
/// outcome happen on a thread of its own, bounded by `timeout`. The connection is closed at once.
/// - Parameters:
///   - address: the destination.
///   - port: the destination port.
///   - ns: the namespace to connect from.
///   - source: a local address to bind first.
///   - timeout: seconds to wait for the handshake.
/// - Throws: ``ProbeError`` when the socket cannot be set up (bad source address).
///
/// Equivalent to `ip netns exec NS nc -z -w TIMEOUT [-s SRC] ADDRESS PORT`.
public func tcpConnect(to address: IPAddress, port: UInt16, in ns: NetworkNamespace,
                       source: IPAddress? = nil, timeout: Double = 1) async throws -> TCPConnectResult {
    try await onOwnThread {
        let fd = try TCPClient.connect(to: address, port: port, in: ns, source: source, timeout: timeout)
        switch fd {
        case .connected(let fd): close(fd); return .open
        case .failed(let r): return r
        }
    }
}

/// Connects to a TCP service, sends `payload`, half-closes, and reads the reply to its end.
///
/// Made for ``EchoServer`` and similar request/response services: the reply is everything
/// the peer sends until it closes, up to `maxReply` bytes, within `timeout` in total.
/// - Returns: the bytes received.
/// - Throws: ``ProbeError`` when the connection fails (its errno: `ECONNREFUSED`, `ETIMEDOUT`, …)
///   or the peer does not finish within the timeout.
///
/// Equivalent to `printf PAYLOAD | ip netns exec NS nc -N -w TIMEOUT ADDRESS PORT`.
public func tcpRequest(to address: IPAddress, port: UInt16, payload: [UInt8], in ns: NetworkNamespace,
                       timeout: Double = 2, maxReply: Int = 1 << 20) async throws -> [UInt8] {
    try await onOwnThread {
        let what = "TCP request to \(address.bracketed):\(port) in ns \(ns.label)"
        let deadline = monotonicNow() + timeout
        let fd: Int32
        switch try TCPClient.connect(to: address, port: port, in: ns, source: nil, timeout: timeout) {
        case .connected(let f): fd = f
        case .failed(.refused): throw SystemCallError(what, errno: .connectionRefused)
        case .failed(.timedOut): throw SystemCallError(what, errno: .timedOut)
        case .failed(.unreachable(let e)): throw SystemCallError(what, errno: e)
        case .failed(.open): preconditionFailure("unreachable")
        }
        defer { close(fd) }
        try writeAll(fd, payload, deadline: deadline, what: what)
        _ = shutdown(fd, Int32(SHUT_WR))
        return try readToEnd(fd, deadline: deadline, max: maxReply, what: what)
    }
}

enum TCPClient {
    enum ConnectOutcome {
        case connected(Int32)
        case failed(TCPConnectResult)
    }

    /// Connects with a timeout; returns the connected (non-blocking) descriptor or the reason it failed.
    static func connect(to address: IPAddress, port: UInt16, in ns: NetworkNamespace, source: IPAddress?,
                        timeout: Double) throws -> ConnectOutcome {
        let fd = try Sock.open(in: ns, family: Sock.family(address), type: Int32(SOCK_STREAM.rawValue), proto: 0,
                               what: "TCP to \(address.bracketed):\(port)") { fd in
            if let s = source { try Sock.bind(fd, s, port: 0, "bind to source \(s)") }
        }
        Sock.setNonBlocking(fd)
        let sa = SocketAddress(address, port: port)
        var rc = sa.withSockaddr { Glibc.connect(fd, $0, $1) }
        var err: Int32 = rc == 0 ? 0 : errno
        if rc != 0 && (err == EINPROGRESS || err == EINTR) {
            let revents = Sock.wait(fd, Int16(POLLOUT), seconds: timeout)
            if revents == 0 {
                close(fd)
                return .failed(.timedOut)
            }
            err = Sock.getInt(fd, SOL_SOCKET, SO_ERROR) ?? EIO
            rc = err == 0 ? 0 : -1
        }
        if rc == 0 { return .connected(fd) }
        close(fd)
        switch err {
        case ECONNREFUSED: return .failed(.refused)
        case ETIMEDOUT: return .failed(.timedOut)
        default: return .failed(.unreachable(errno: Errno(rawValue: err)))
        }
    }
}

/// Writes everything before the deadline (non-blocking descriptor).
func writeAll(_ fd: Int32, _ bytes: [UInt8], deadline: Double, what: String) throws {
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
        if n > 0 { off += n; continue }
        let e = errno
        if n < 0 && (e == EAGAIN || e == EINTR) {
            if monotonicNow() >= deadline { throw SystemCallError(what, errno: .timedOut, reason: "sending") }
            _ = Sock.wait(fd, Int16(POLLOUT), seconds: deadline - monotonicNow())
            continue
        }
        throw SystemCallError("\(what): send", errno: Errno(rawValue: e))
    }
}

/// Reads until EOF, `max` bytes, or the deadline (then throws ETIMEDOUT).
func readToEnd(_ fd: Int32, deadline: Double, max: Int, what: String) throws -> [UInt8] {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65_536)
    while out.count < max {
        let left = deadline - monotonicNow()
        if left <= 0 { throw SystemCallError(what, errno: .timedOut, reason: "got \(out.count) bytes, no end of stream") }
        let revents = Sock.wait(fd, Int16(POLLIN), seconds: left)
        if revents == 0 { continue }
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, Swift.min($0.count, max - out.count), 0) }
        if n > 0 { out += buf[0..<n]; continue }
        if n == 0 { break }
        let e = errno
        if e == EAGAIN || e == EINTR { continue }
        throw SystemCallError("\(what): recv", errno: Errno(rawValue: e))
    }
    return out
}

extension IPAddress {
    /// The address as it appears before `:port` (IPv6 in brackets).
    package var bracketed: String { isIPv6 ? "[\(self)]" : "\(self)" }
}
