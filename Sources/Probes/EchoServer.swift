import Glibc
import CNetlink
import Namespaces
import Netlink
import SystemPackage
import Synchronization

/// A transport protocol for the probes' servers and clients.
public enum TransportProtocol: String, Sendable, Hashable, Codable {
    /// TCP (a stream listener) or UDP (a datagram socket).
    case tcp, udp
}

/// An echo service listening inside a namespace, for reachability and firewall tests.
///
/// The listening socket is created inside the namespace; the service runs on a pthread of
/// its own, created from the caller's thread (which stays in this process's namespace), and
/// sends every byte (TCP) or datagram (UDP) back where it came from. It stops on ``stop()``,
/// when released, or when its lifetime runs out, whichever comes first.
///
/// Equivalent to `ip netns exec NS socat TCP-LISTEN:PORT,fork EXEC:cat` (or `UDP-RECVFROM`).
/// - Important: do not call `start(in:port:proto:address:lifetime:)` from inside
///   `NetworkNamespace.run {}`: the server thread would be created inside the namespace.
public final class EchoServer: @unchecked Sendable, CustomStringConvertible {
    /// The namespace it serves in.
    public let namespace: NetworkNamespace
    /// The port it listens on (the kernel's choice when started with port 0).
    public let port: UInt16
    /// TCP or UDP.
    public let proto: TransportProtocol
    /// The local address it is bound to; nil: every address, IPv4 and IPv6.
    public let address: IPAddress?

    private let core: Core
    private var thread = pthread_t()
    private let stopped = Mutex(false)

    /// The server's shared state, owned by its thread while it runs.
    final class Core: @unchecked Sendable {
        let fd: Int32
        let wakeRead: Int32
        let wakeWrite: Int32
        let proto: TransportProtocol
        let deadline: Double
        /// Sent to each connection (TCP, then the sending side is shut down) or datagram (UDP)
        /// instead of echoing.
        let reply: [UInt8]?
        let counters = Mutex((served: 0, bytes: 0))
        /// Distinct peer addresses seen, in order (at most ``EchoServer/maxPeers``).
        let peers = Mutex([IPAddress]())
        init(fd: Int32, wake: [Int32], proto: TransportProtocol, deadline: Double, reply: [UInt8]?) {
            self.fd = fd; wakeRead = wake[0]; wakeWrite = wake[1]; self.proto = proto; self.deadline = deadline
            self.reply = reply
        }

        func saw(_ address: SocketAddress) {
            guard var ip = address.endpoint?.0 else { return }
            // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
            let b = ip.bytes
            if b.count == 16, b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff,
               let v4 = IPAddress(bytes: Array(b[12..<16])) {
                ip = v4
            }
            peers.withLock { p in if !p.contains(ip) && p.count < EchoServer.maxPeers { p.append(ip) } }
        }
    }

    /// Starts an echo server inside `ns`.
    /// - Parameters:
    ///   - ns: the namespace to listen in.
    ///   - port: the port; 0 lets the kernel choose (read it from ``port``).
    ///   - proto: `.tcp` or `.udp`.
    ///   - address: a local address to bind to; nil binds `::` with `IPV6_V6ONLY` off (IPv4 and IPv6).
    ///   - lifetime: seconds after which the server stops on its own (at most one hour).
    ///   - reply: bytes sent to each TCP connection (then its sending side is shut down) or in answer
    ///     to each UDP datagram, instead of echoing; nil: echo.
    /// - Throws: `ArgumentError` for a lifetime out of range; ``ProbeError`` when the socket
    ///   cannot be bound (`EADDRINUSE`, `EADDRNOTAVAIL`).
    public static func start(in ns: NetworkNamespace, port: UInt16 = 0, proto: TransportProtocol = .tcp,
                             address: IPAddress? = nil, lifetime: Double = 60,
                             reply: [UInt8]? = nil) throws -> EchoServer {
        precondition(!NamespaceWorker.threadIDs.contains(currentThreadID()),
                     "EchoServer.start must not run on the namespace worker (its thread would be created inside the namespace)")
        guard lifetime > 0 && lifetime <= 3600 else {
            throw ArgumentError("EchoServer lifetime \(lifetime)", "must be in (0, 3600] seconds")
        }
        let family = address.map(Sock.family) ?? AF_INET6
        let bindAddress = address ?? IPAddress("::")!
        let what = "\(proto) echo server on \(bindAddress.bracketed):\(port) in ns \(ns.label)"
        let fd = try Sock.open(in: ns, family: family,
                               type: Int32(proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), proto: 0,
                               what: what) { fd in
            try Sock.setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
            if address == nil { try Sock.setInt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0, "IPV6_V6ONLY") }
            try Sock.bind(fd, bindAddress, port: port, "bind \(what)")
        }
        do {
            if proto == .tcp { try sys("listen \(what)") { listen(fd, 64) } }
            Sock.setNonBlocking(fd)
            var bound = SocketAddress()
            try sys("getsockname \(what)") { bound.withMutableSockaddr { getsockname(fd, $0, $1) } }
            var wake: [Int32] = [-1, -1]
            try sys("pipe2(O_CLOEXEC)") { cnl_pipe_cloexec(&wake) }
            for f in wake { Sock.setNonBlocking(f) }
            let core = Core(fd: fd, wake: wake, proto: proto, deadline: monotonicNow() + lifetime, reply: reply)
            let server = EchoServer(ns: ns, port: bound.endpoint?.1 ?? port, proto: proto, address: address, core: core)
            try server.launch()
            return server
        } catch {
            close(fd)
            throw error
        }
    }

    private init(ns: NetworkNamespace, port: UInt16, proto: TransportProtocol, address: IPAddress?, core: Core) {
        namespace = ns; self.port = port; self.proto = proto; self.address = address; self.core = core
    }

    private func launch() throws {
        let core = self.core
        do {
            thread = try startThread { EchoServer.serve(core) }
        } catch {
            close(core.wakeRead); close(core.wakeWrite)
            throw SystemCallError("pthread_create for the echo server", errno: (error as? SystemCallError)?.errno ?? .resourceTemporarilyUnavailable)
        }
    }

    /// Connections (TCP) or datagrams (UDP) served so far.
    public var served: Int { core.counters.withLock { $0.served } }
    /// Bytes echoed so far.
    public var bytesEchoed: Int { core.counters.withLock { $0.bytes } }
    /// The distinct peer addresses of the connections (TCP) or datagrams (UDP) it saw, in order
    /// (an IPv4 peer of a dual-stack server as IPv4); at most ``maxPeers``.
    public var peers: [IPAddress] { core.peers.withLock { $0 } }
    /// The most peers ``peers`` remembers.
    public static let maxPeers = 64

    /// Stops the server and waits for its thread (a few milliseconds). Idempotent.
    public func stop() {
        let first = stopped.withLock { s -> Bool in defer { s = true }; return !s }
        guard first else { return }
        var one: UInt8 = 1
        _ = write(core.wakeWrite, &one, 1)
        pthread_join(thread, nil)
        // shutdown acts on the socket itself: a copy of the descriptor held for a moment by a
        // child being spawned elsewhere (before its exec closes it) cannot keep it listening.
        _ = shutdown(core.fd, Int32(SHUT_RDWR))
        close(core.fd)
        close(core.wakeRead)
        close(core.wakeWrite)
    }

    deinit { stop() }

    /// The protocol, bound address and port, and the namespace the server runs in.
    public var description: String {
        "\(proto) echo server on \((address ?? IPAddress("::")!).bracketed):\(port) in ns \(namespace.label)"
    }

    // MARK: The server thread

    private static let maxConnections = 32

    private static func serve(_ core: Core) {
        var conns: [Int32] = []
        defer { for c in conns { close(c) } }
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let left = core.deadline - monotonicNow()
            if left <= 0 { return }
            var fds = [pollfd(fd: core.wakeRead, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: core.fd, events: conns.count < maxConnections ? Int16(POLLIN) : 0, revents: 0)]
            fds += conns.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(left, 1) * 1000) + 1)
            if n < 0 && errno != EINTR { return }
            if n <= 0 { continue }
            if fds[0].revents != 0 {
                // Stopping: connections the kernel accepted that this loop has not taken yet
                // still count as seen (a client's connect returns before our accept runs).
                if core.proto == .tcp {
                    while true {
                        let c = cnl_accept_cloexec(core.fd)
                        if c < 0 { break }
                        var peer = SocketAddress()
                        if peer.withMutableSockaddr({ getpeername(c, $0, $1) }) == 0 { core.saw(peer) }
                        close(c)
                    }
                }
                return
            }
            if fds[1].revents & Int16(POLLIN) != 0 {
                if core.proto == .tcp {
                    for _ in 0..<maxConnections where conns.count < maxConnections {
                        // accept4(SOCK_CLOEXEC) through the shim: atomic, no child can inherit it.
                        let c = cnl_accept_cloexec(core.fd)
                        if c < 0 { break }
                        var peer = SocketAddress()
                        if peer.withMutableSockaddr({ getpeername(c, $0, $1) }) == 0 { core.saw(peer) }
                        Sock.setNonBlocking(c)
                        if let reply = core.reply {
                            _ = try? writeAll(c, reply, deadline: monotonicNow() + 1, what: "reply")
                            core.counters.withLock { $0.bytes += reply.count }
                            _ = shutdown(c, Int32(SHUT_WR))
                        }
                        conns.append(c)
                    }
                } else {
                    for _ in 0..<256 {
                        var from = SocketAddress()
                        let r = buf.withUnsafeMutableBytes { b in
                            from.withMutableSockaddr { recvfrom(core.fd, b.baseAddress, b.count, 0, $0, $1) }
                        }
                        if r < 0 { break }
                        core.saw(from)
                        if let reply = core.reply {
                            _ = reply.withUnsafeBytes { b in from.withSockaddr { sendto(core.fd, b.baseAddress, b.count, 0, $0, $1) } }
                        } else {
                            _ = buf.withUnsafeBytes { b in from.withSockaddr { sendto(core.fd, b.baseAddress, r, 0, $0, $1) } }
                        }
                        core.counters.withLock { $0.served += 1; $0.bytes += r }
                    }
                }
            }
            var closed: Set<Int32> = []
            for p in fds.dropFirst(2) where p.revents != 0 {
                let r = buf.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, 0) }
                if r > 0 && core.reply != nil {
                    // A replying server has said its piece; what the client sends is read and dropped.
                    continue
                } else if r > 0 {
                    let data = Array(buf[0..<r])
                    if (try? writeAll(p.fd, data, deadline: monotonicNow() + 1, what: "echo")) == nil {
                        closed.insert(p.fd)
                    } else {
                        core.counters.withLock { $0.bytes += r }
                    }
                } else if r == 0 || (errno != EAGAIN && errno != EINTR) {
                    closed.insert(p.fd)
                    core.counters.withLock { $0.served += 1 }
                }
            }
            if !closed.isEmpty {
                for c in closed { close(c) }
                conns.removeAll { closed.contains($0) }
            }
        }
    }
}
