import Glibc
import CNetlink
import Namespaces
import Netlink
import SystemPackage

/// One received UDP datagram and where it came from.
public struct Datagram: Sendable, Hashable, CustomStringConvertible {
    /// The datagram's bytes.
    public var payload: [UInt8]
    /// The sender's address.
    public var source: IPAddress
    /// The sender's UDP port.
    public var sourcePort: UInt16
    /// The size and the sender (`5 bytes from 10.0.1.2:40000`).
    public var description: String { "\(payload.count) bytes from \(source.bracketed):\(sourcePort)" }
}

/// A UDP socket bound inside a namespace, used from any thread.
///
/// Bind first, then let the peer send, then ``receive(timeout:)``: datagrams that arrive
/// in between wait in the socket's buffer, so there is no race with the sender.
///
/// Equivalent to `ip netns exec NS nc -u -l [ADDRESS] PORT`.
public final class UDPSocket: @unchecked Sendable {
    /// The namespace the socket lives in.
    public let namespace: NetworkNamespace
    /// The local port (the kernel's choice when bound to port 0).
    public let port: UInt16
    let fd: Int32

    /// Opens a UDP socket in `ns` bound to `address` (nil: `::`, IPv4 and IPv6) and `port`.
    /// - Throws: ``ProbeError`` (`EADDRINUSE`, `EADDRNOTAVAIL`, …).
    public static func bind(port: UInt16 = 0, address: IPAddress? = nil, in ns: NetworkNamespace) throws -> UDPSocket {
        let a = address ?? IPAddress("::")!
        let what = "UDP \(a.bracketed):\(port) in ns \(ns.label)"
        let fd = try Sock.open(in: ns, family: Sock.family(a), type: Int32(SOCK_DGRAM.rawValue), proto: 0, what: what) { fd in
            if address == nil { try Sock.setInt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0, "IPV6_V6ONLY") }
            try Sock.bind(fd, a, port: port, "bind \(what)")
        }
        Sock.setNonBlocking(fd)
        var bound = SocketAddress()
        _ = bound.withMutableSockaddr { getsockname(fd, $0, $1) }
        return UDPSocket(ns: ns, fd: fd, port: bound.endpoint?.1 ?? port)
    }

    init(ns: NetworkNamespace, fd: Int32, port: UInt16) { namespace = ns; self.fd = fd; self.port = port }
    deinit { close(fd) }

    /// Sends one datagram. An IPv4 destination from a `::`-bound socket goes as a mapped address.
    /// - Throws: ``ProbeError`` with `sendto`'s errno (`ENETUNREACH`, `EHOSTUNREACH`, `EACCES`, `EINVAL`…).
    public func send(_ payload: [UInt8], to address: IPAddress, port: UInt16) throws {
        var sa = SocketAddress(address, port: port)
        if address.isIPv4, Sock.getInt(fd, SOL_SOCKET, SO_DOMAIN) == AF_INET6 {
            sa = SocketAddress(IPAddress.v6(0, 0xffff_0000_0000 | UInt64(address.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })), port: port)
        }
        try sys("sendto \(address.bracketed):\(port) in ns \(namespace.label)") {
            payload.withUnsafeBytes { p in sa.withSockaddr { sendto(fd, p.baseAddress, p.count, 0, $0, $1) } }
        }
    }

    /// Waits up to `timeout` seconds for a datagram, on a thread of its own.
    /// - Returns: the datagram, or nil when none came.
    /// - Throws: ``ProbeError`` for a pending socket error (`ECONNREFUSED` after an ICMP port unreachable).
    public func receive(timeout: Double = 1) async throws -> Datagram? {
        try await onOwnThread { try self.receiveBlocking(timeout: timeout) }
    }

    func receiveBlocking(timeout: Double) throws -> Datagram? {
        let deadline = monotonicNow() + timeout
        var buf = [UInt8](repeating: 0, count: 65_536)
        for _ in 0..<10_000 {
            let left = deadline - monotonicNow()
            if left <= 0 { return nil }
            if Sock.wait(fd, Int16(POLLIN), seconds: left) == 0 { continue }
            var from = SocketAddress()
            let n = buf.withUnsafeMutableBytes { b in from.withMutableSockaddr { recvfrom(fd, b.baseAddress, b.count, 0, $0, $1) } }
            if n >= 0 {
                var (src, sport) = from.endpoint ?? (IPAddress("::")!, 0)
                if case .v6(0, let lo) = src, lo >> 32 == 0xffff { src = .v4(UInt32(truncatingIfNeeded: lo)) }
                return Datagram(payload: Array(buf[0..<n]), source: src, sourcePort: sport)
            }
            let e = errno
            if e == EAGAIN || e == EINTR { continue }
            throw SystemCallError("recvfrom on UDP port \(port) in ns \(namespace.label)", errno: Errno(rawValue: e))
        }
        return nil
    }
}

/// Sends one UDP datagram from a namespace. Equivalent to `printf PAYLOAD | ip netns exec NS nc -u -w0 ADDRESS PORT`.
/// - Throws: ``ProbeError`` with `sendto`'s errno.
public func udpSend(_ payload: [UInt8], to address: IPAddress, port: UInt16, in ns: NetworkNamespace,
                    source: IPAddress? = nil) throws {
    let s = try UDPSocket.bind(port: 0, address: source ?? (address.isIPv4 ? IPAddress("0.0.0.0")! : IPAddress("::")!), in: ns)
    try s.send(payload, to: address, port: port)
}

/// Binds a UDP port in a namespace and waits for one datagram.
///
/// The port is bound before this function suspends, but a sender started concurrently may
/// still win the race; when the order matters, use ``UDPSocket/bind(port:address:in:)`` first.
/// Equivalent to `ip netns exec NS nc -u -l -W1 PORT`.
public func udpReceive(port: UInt16, in ns: NetworkNamespace, address: IPAddress? = nil,
                       timeout: Double = 1) async throws -> Datagram? {
    let s = try UDPSocket.bind(port: port, address: address, in: ns)
    return try await s.receive(timeout: timeout)
}

/// Sends a datagram to a UDP service and waits for the answer (an ``EchoServer`` returns it unchanged).
///
/// The socket is connected, so an ICMP port unreachable turns into `ECONNREFUSED`.
/// - Returns: the reply's payload.
/// - Throws: ``ProbeError``: `ECONNREFUSED` (port unreachable), `ETIMEDOUT` (no answer), or `sendto`'s errno.
///
/// Equivalent to `printf PAYLOAD | ip netns exec NS nc -u -w TIMEOUT ADDRESS PORT`.
public func udpExchange(to address: IPAddress, port: UInt16, payload: [UInt8], in ns: NetworkNamespace,
                        timeout: Double = 1) async throws -> [UInt8] {
    try await onOwnThread {
        let what = "UDP exchange with \(address.bracketed):\(port) in ns \(ns.label)"
        let fd = try Sock.open(in: ns, family: Sock.family(address), type: Int32(SOCK_DGRAM.rawValue), proto: 0, what: what)
        defer { close(fd) }
        Sock.setNonBlocking(fd)
        let sa = SocketAddress(address, port: port)
        try sys("connect \(what)") { sa.withSockaddr { connect(fd, $0, $1) } }
        try sys("send \(what)") { payload.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } }
        let deadline = monotonicNow() + timeout
        var buf = [UInt8](repeating: 0, count: 65_536)
        for _ in 0..<10_000 {
            let left = deadline - monotonicNow()
            if left <= 0 { break }
            if Sock.wait(fd, Int16(POLLIN), seconds: left) == 0 { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return Array(buf[0..<n]) }
            let e = errno
            if e == EAGAIN || e == EINTR { continue }
            throw SystemCallError(what, errno: Errno(rawValue: e))
        }
        throw SystemCallError(what, errno: .timedOut, reason: "no reply within \(timeout) s")
    }
}
