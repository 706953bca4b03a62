import Namespaces
import Netlink
import NetnsModel
import Probes

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
    /// The socket's type: TCP, UDP or raw.
    public let kind: SocketKind
    /// The socket's address family: IPv4 or IPv6.
    public let family: IPFamily

    /// The address and port the socket is bound to (`getsockname`), once bound or connected.
    public var localEndpoint: (address: IPAddress, port: UInt16)? { SocketCalls.localEndpoint(fileDescriptor) }

    /// The port the socket is bound to (0 when unbound).
    public var port: UInt16 { localEndpoint?.port ?? 0 }

    /// The peer's address and port (`getpeername`), once connected.
    public var remoteEndpoint: (address: IPAddress, port: UInt16)? { SocketCalls.remoteEndpoint(fileDescriptor) }

    /// Closes the descriptor.
    public func close() { SocketCalls.close(fileDescriptor) }

    /// The kind, the descriptor, the node and, once bound, the local address.
    public var description: String {
        var s = "\(kind) socket \(fileDescriptor) in node \(node)"
        if let l = localEndpoint, l.port != 0 || !l.address.isUnspecified { s += " bound to \(l.address.bracketed):\(l.port)" }
        if let r = remoteEndpoint { s += " connected to \(r.address.bracketed):\(r.port)" }
        return s
    }

    /// Two sockets are equal when they are the same descriptor of the same node.
    public static func == (a: NodeSocket, b: NodeSocket) -> Bool { a.fileDescriptor == b.fileDescriptor && a.node == b.node }
    /// Hashes the descriptor and the node, as `==` compares them.
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
    ///   address that does not parse, or whose family contradicts `family`), `ProbeError` with
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
        let fd = try SocketCalls.open(kind, ipv6: fam == .ipv6, in: try namespace, bindTo: bindAddress, port: port,
                                      nonBlocking: nonBlocking, what: what)
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
    ///   - nonBlocking: return the descriptor with `O_NONBLOCK` set (for an event loop).
    /// - Throws: as ``socket(_:family:bindTo:port:nonBlocking:)``.
    ///
    /// Equivalent to `ip netns exec NODE` with `socket`, `bind` and `listen`.
    public func listen(address: String? = nil, port: UInt16 = 0, backlog: Int32 = 128,
                       nonBlocking: Bool = false) throws -> NodeSocket {
        let s = try socket(.tcp, bindTo: address ?? "0.0.0.0", port: port, nonBlocking: nonBlocking)
        do {
            try SocketCalls.listen(s.fileDescriptor, backlog: backlog, what: "listen on \(s)")
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
    ///   - address: the peer's address, IPv4 or IPv6.
    ///   - port: the peer's port.
    ///   - kind: TCP or UDP.
    ///   - source: a local address to bind to first (nil: the kernel chooses by route).
    ///   - timeout: seconds to wait for a TCP handshake.
    ///   - nonBlocking: return the descriptor with `O_NONBLOCK` set (for an event loop).
    /// - Throws: `ProbeError` with the kernel's errno: `ECONNREFUSED` (a reset), `ETIMEDOUT`
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
            do {
                try SocketCalls.connect(s.fileDescriptor, to: dst, port: port, timeout: timeout, nonBlocking: nonBlocking, what: what)
            } catch {
                s.close()
                throw error
            }
            return s
        }
    }

    private func parseAddress(_ text: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw NodeSocketError.badAddress(text, node: name) }
        return a
    }
}

/// Bad input to the node socket calls (the kernel's refusals are `ProbeError`s with errno).
public enum NodeSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not an IPv4 or IPv6 address.
    case badAddress(String, node: String)
    /// The address is not of the socket's family.
    case familyMismatch(address: String, family: IPFamily, node: String)
    /// Only TCP and UDP sockets can connect; this socket is of another kind.
    case cannotConnect(SocketKind, node: String)
    /// A connect timeout that is not a positive number of seconds.
    case badTimeout(Double)

    /// What was wrong with the input, naming the node.
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
