import Glibc
import Namespaces
import Netlink
import SystemPackage

/// The kind of socket a lab node makes (NetnsKit's `Node.socket(_:family:bindTo:port:nonBlocking:)`).
public enum SocketKind: Sendable, Hashable, CustomStringConvertible {
    /// A TCP stream socket (`SOCK_STREAM`).
    case tcp
    /// A UDP datagram socket (`SOCK_DGRAM`).
    case udp
    /// A raw IP socket for one protocol (`SOCK_RAW`), such as 1 for ICMP or 58 for ICMPv6.
    case raw(protocol: UInt8)

    var type: Int32 {
        switch self {
        case .tcp: return Int32(SOCK_STREAM.rawValue)
        case .udp: return Int32(SOCK_DGRAM.rawValue)
        case .raw: return Int32(SOCK_RAW.rawValue)
        }
    }

    var proto: Int32 {
        if case .raw(let p) = self { return Int32(p) }
        return 0
    }

    /// `TCP`, `UDP` or `raw` with the protocol number.
    public var description: String {
        switch self {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .raw(let p): return "raw IP protocol \(p)"
        }
    }
}

/// The system calls behind a lab node's sockets (NetnsKit's `Node.socket`, `listen`, `connect`).
package enum SocketCalls {
    /// A socket of `kind` made inside `ns` (IPv6-only when `ipv6`), bound there to `address`:`port`
    /// when an address is given (`SO_REUSEADDR` for TCP).
    package static func open(_ kind: SocketKind, ipv6: Bool, in ns: NetworkNamespace, bindTo address: IPAddress?,
                             port: UInt16, nonBlocking: Bool, what: String) throws -> Int32 {
        let fd = try Sock.open(in: ns, family: ipv6 ? AF_INET6 : AF_INET, type: kind.type, proto: kind.proto, what: what) { fd in
            if ipv6 { try Sock.setInt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "IPV6_V6ONLY") }
            if let b = address {
                if kind == .tcp { try Sock.setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR") }
                try Sock.bind(fd, b, port: port, "bind \(what) to \(b.bracketed):\(port)")
            }
        }
        if nonBlocking { Sock.setNonBlocking(fd) }
        return fd
    }

    /// `listen(2)`.
    package static func listen(_ fd: Int32, backlog: Int32, what: String) throws(SystemCallError) {
        try sys(what) { Glibc.listen(fd, backlog) }
    }

    /// Connects the non-blocking socket `fd`, waiting up to `timeout` seconds for a TCP handshake,
    /// then sets it blocking unless `nonBlocking`. The caller closes `fd` when this throws.
    package static func connect(_ fd: Int32, to address: IPAddress, port: UInt16, timeout: Double,
                                nonBlocking: Bool, what: String) throws(SystemCallError) {
        let sa = SocketAddress(address, port: port)
        var rc = sa.withSockaddr { Glibc.connect(fd, $0, $1) }
        var err: Int32 = rc == 0 ? 0 : Glibc.errno
        if rc != 0 && (err == EINPROGRESS || err == EINTR) {
            let revents = Sock.wait(fd, Int16(POLLOUT), seconds: timeout)
            if revents == 0 {
                throw SystemCallError(what, errno: .timedOut, reason: "no answer within \(timeout) s")
            }
            err = Sock.getInt(fd, SOL_SOCKET, SO_ERROR) ?? EIO
            rc = err == 0 ? 0 : -1
        }
        if rc != 0 { throw SystemCallError(what, errno: Errno(rawValue: err)) }
        if !nonBlocking {
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        }
    }

    /// The address and port `fd` is bound to (`getsockname`).
    package static func localEndpoint(_ fd: Int32) -> (address: IPAddress, port: UInt16)? {
        var sa = SocketAddress()
        let rc = sa.withMutableSockaddr { getsockname(fd, $0, $1) }
        return rc == 0 ? sa.endpoint.map { (address: $0.0, port: $0.1) } : nil
    }

    /// The peer's address and port (`getpeername`).
    package static func remoteEndpoint(_ fd: Int32) -> (address: IPAddress, port: UInt16)? {
        var sa = SocketAddress()
        let rc = sa.withMutableSockaddr { getpeername(fd, $0, $1) }
        return rc == 0 ? sa.endpoint.map { (address: $0.0, port: $0.1) } : nil
    }

    /// `close(2)`.
    package static func close(_ fd: Int32) { _ = Glibc.close(fd) }
}
