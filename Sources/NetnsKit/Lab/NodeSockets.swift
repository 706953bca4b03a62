import Glibc
import CNetlink
import Namespaces
import Netlink
import NetnsModel

/// The kind of socket ``Node/socket(_:family:bindTo:port:nonBlocking:)`` makes.
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

    public var description: String {
        switch self {
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .raw(let p): return "raw IP protocol \(p)"
        }
    }
}

/// A socket descriptor made inside a node's namespace.
///
/// A socket belongs to the namespace it was created in for its whole life, whichever thread
/// uses it, so the descriptor can be handed to any library that accepts one: SwiftNIO's
/// `withBoundSocket` / `withConnectedSocket`, Foundation's `FileHandle`, or plain system calls.
/// The caller owns the descriptor: close it (``close()``) or hand it to a library that takes
/// ownership. An open descriptor keeps its namespace alive after the lab is torn down.
public struct NodeSocket: Sendable, Hashable, CustomStringConvertible {
    /// The descriptor.
    public let fileDescriptor: Int32
    /// The node whose namespace the socket is in.
    public let node: String
    public let kind: SocketKind
    public let family: IPFamily

    /// The address and port the socket is bound to (`getsockname`), once bound or connected.
    public var localEndpoint: (address: IPAddress, port: UInt16)? {
        var sa = SocketAddress()
        let rc = sa.withMutableSockaddr { getsockname(fileDescriptor, $0, $1) }
        return rc == 0 ? sa.endpoint.map { (address: $0.0, port: $0.1) } : nil
    }

    /// The port the socket is bound to (0 when unbound).
    public var port: UInt16 { localEndpoint?.port ?? 0 }

    /// The peer's address and port (`getpeername`), once connected.
    public var remoteEndpoint: (address: IPAddress, port: UInt16)? {
        var sa = SocketAddress()
        let rc = sa.withMutableSockaddr { getpeername(fileDescriptor, $0, $1) }
        return rc == 0 ? sa.endpoint.map { (address: $0.0, port: $0.1) } : nil
    }

    /// Closes the descriptor.
    public func close() { _ = Glibc.close(fileDescriptor) }

    public var description: String {
        var s = "\(kind) socket \(fileDescriptor) in node \(node)"
        if let l = localEndpoint, l.port != 0 || !l.address.isUnspecified { s += " bound to \(l.address.bracketed):\(l.port)" }
        if let r = remoteEndpoint { s += " connected to \(r.address.bracketed):\(r.port)" }
        return s
    }

    public static func == (a: NodeSocket, b: NodeSocket) -> Bool { a.fileDescriptor == b.fileDescriptor && a.node == b.node }
    public func hash(into h: inout Hasher) { h.combine(fileDescriptor); h.combine(node) }
}

extension IPAddress {
    var isUnspecified: Bool { bytes.allSatisfy { $0 == 0 } }
}

extension Node {
    /// Makes a socket inside this node's namespace.
    ///
    /// The socket is created on the namespace worker thread (a short synchronous step) and
    /// bound there when an address or port is given; everything else happens on the
    /// caller's thread. `SO_REUSEADDR` is set on TCP sockets that are bound.
    /// - Parameters:
    ///   - kind: `.tcp`, `.udp` or `.raw(protocol:)`.
    ///   - family: IPv4 or IPv6; taken from `address` when one is given.
    ///   - address: the local address to bind to (nil: unbound, unless `port` is not 0, then the
    ///     wildcard address).
    ///   - port: the local port (0: the kernel chooses one when binding).
    ///   - nonBlocking: sets `O_NONBLOCK` (what event loops expect).
    /// - Throws: ``LabError/unknownNode(_:known:)``, ``NodeSocketError`` for bad input (an
    ///   address that does not parse, or whose family contradicts `family`), ``ProbeError`` with
    ///   errno when the kernel refuses (EADDRNOTAVAIL for an address the node does not have,
    ///   EADDRINUSE, EPERM for raw sockets without CAP_NET_RAW).
    ///
    /// Equivalent to `ip netns exec NODE` followed by `socket(2)` and `bind(2)`.
    public func socket(_ kind: SocketKind, family: IPFamily? = nil, bindTo address: String? = nil, port: UInt16 = 0,
                       nonBlocking: Bool = false) throws -> NodeSocket {
        let parsed = try address.map { try parseAddress($0) }
        if let parsed, let family, IPFamily(of: parsed) != family {
            throw NodeSocketError.familyMismatch(address: address!, family: family, node: name)
        }
        let fam = parsed.map { IPFamily(of: $0) } ?? family ?? .ipv4
        let bindAddress = parsed ?? (port != 0 ? (fam == .ipv4 ? IPAddress("0.0.0.0")! : IPAddress("::")!) : nil)
        let what = "\(kind) socket in node \(name)"
        let fd = try Sock.open(in: try namespace, family: fam == .ipv4 ? AF_INET : AF_INET6, type: kind.type,
                               proto: kind.proto, what: what) { fd in
            if fam == .ipv6 { try Sock.setInt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1, "IPV6_V6ONLY") }
            if let b = bindAddress {
                if kind == .tcp { try Sock.setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR") }
                try Sock.bind(fd, b, port: port, "bind \(what) to \(b.bracketed):\(port)")
            }
        }
        if nonBlocking { Sock.setNonBlocking(fd) }
        return NodeSocket(fileDescriptor: fd, node: name, kind: kind, family: fam)
    }

    /// Makes a listening TCP socket inside this node.
    ///
    /// ```swift
    /// let listener = try lab["h2"].listen(address: "10.0.2.2", port: 8080)
    /// // hand listener.fileDescriptor to ServerBootstrap.withBoundSocket, or accept(2) on it
    /// ```
    /// - Parameters:
    ///   - address: the local address (nil: every address of the node, IPv4).
    ///   - port: the port (0: the kernel chooses one; read it from ``NodeSocket/port``).
    ///   - backlog: the `listen(2)` backlog.
    /// - Throws: as ``socket(_:family:bindTo:port:nonBlocking:)``.
    ///
    /// Equivalent to `ip netns exec NODE` with `socket`, `bind` and `listen`.
    public func listen(address: String? = nil, port: UInt16 = 0, backlog: Int32 = 128,
                       nonBlocking: Bool = false) throws -> NodeSocket {
        let s = try socket(.tcp, bindTo: address ?? "0.0.0.0", port: port, nonBlocking: nonBlocking)
        do {
            try sysCheck("listen on \(s)") { Glibc.listen(s.fileDescriptor, backlog) }
        } catch {
            s.close()
            throw error
        }
        return s
    }

    /// Connects a socket made inside this node to `address`:`port`.
    ///
    /// For TCP it waits (off Swift's cooperative threads) until the handshake completes or
    /// fails; for UDP it sets the default peer. The descriptor is returned in blocking mode
    /// unless `nonBlocking`.
    /// - Parameters:
    ///   - source: a local address to bind to first (nil: the kernel chooses by route).
    ///   - timeout: seconds to wait for a TCP handshake.
    /// - Throws: ``ProbeError`` with the kernel's errno: `ECONNREFUSED` (a reset), `ETIMEDOUT`
    ///   (no answer within `timeout`), `ENETUNREACH` (no route), `EHOSTUNREACH` (an unreachable
    ///   route, or an ICMP unreachable), `EACCES` (a prohibit route, or ICMP prohibited),
    ///   `EINVAL` (a blackhole route); ``NodeSocketError`` for bad input.
    ///
    /// Equivalent to `ip netns exec NODE` with `socket` and `connect`.
    public func connect(to address: String, port: UInt16, kind: SocketKind = .tcp, source: String? = nil,
                        timeout: Double = 5, nonBlocking: Bool = false) async throws -> NodeSocket {
        let dst = try parseAddress(address)
        guard kind == .tcp || kind == .udp else { throw NodeSocketError.cannotConnect(kind, node: name) }
        guard timeout > 0, timeout.isFinite else { throw NodeSocketError.badTimeout(timeout) }
        let what = "\(kind) connect to \(dst.bracketed):\(port) from node \(name)"
        // All of it on a thread of its own: creating the socket waits for the namespace worker.
        return try await onOwnThread {
            let s = try self.socket(kind, family: IPFamily(of: dst), bindTo: source, nonBlocking: true)
            let sa = SocketAddress(dst, port: port)
            var rc = sa.withSockaddr { Glibc.connect(s.fileDescriptor, $0, $1) }
            var err: Int32 = rc == 0 ? 0 : errno
            if rc != 0 && (err == EINPROGRESS || err == EINTR) {
                let revents = Sock.wait(s.fileDescriptor, Int16(POLLOUT), seconds: timeout)
                if revents == 0 {
                    s.close()
                    throw ProbeError(what, errno: ETIMEDOUT, reason: "no answer within \(timeout) s")
                }
                err = Sock.getInt(s.fileDescriptor, SOL_SOCKET, SO_ERROR) ?? EIO
                rc = err == 0 ? 0 : -1
            }
            if rc != 0 {
                s.close()
                throw ProbeError(what, errno: err)
            }
            if !nonBlocking {
                let flags = fcntl(s.fileDescriptor, F_GETFL)
                _ = fcntl(s.fileDescriptor, F_SETFL, flags & ~O_NONBLOCK)
            }
            return s
        }
    }

    private func parseAddress(_ text: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw NodeSocketError.badAddress(text, node: name) }
        return a
    }
}

/// Bad input to the node socket calls (the kernel's refusals are ``ProbeError``s with errno).
public enum NodeSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    case badAddress(String, node: String)
    case familyMismatch(address: String, family: IPFamily, node: String)
    case cannotConnect(SocketKind, node: String)
    case badTimeout(Double)

    public var description: String {
        switch self {
        case let .badAddress(a, node):
            return "socket in node \(node): \"\(a)\" is not an IPv4 or IPv6 address"
        case let .familyMismatch(a, family, node):
            return "socket in node \(node): address \(a) is not an \(family == .ipv4 ? "IPv4" : "IPv6") address"
        case let .cannotConnect(kind, node):
            return "socket in node \(node): a \(kind) socket cannot be connected (only TCP and UDP)"
        case let .badTimeout(t):
            return "connect: timeout must be a positive number of seconds, not \(t)"
        }
    }
}
