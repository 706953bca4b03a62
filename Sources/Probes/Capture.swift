import SystemPackage
import Glibc
import CNetlink
import Namespaces
import Netlink
import Synchronization

/// Which way a captured packet went, from the packet socket's `sll_pkttype`.
public enum PacketDirection: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Addressed to this host (`PACKET_HOST`).
    case incoming = 0
    /// A link-layer broadcast (`PACKET_BROADCAST`).
    case broadcast = 1
    /// A link-layer multicast (`PACKET_MULTICAST`).
    case multicast = 2
    /// Addressed to another host, seen in promiscuous mode (`PACKET_OTHERHOST`).
    case otherHost = 3
    /// Sent by this host (`PACKET_OUTGOING`).
    case outgoing = 4
    /// Anything else (`PACKET_LOOPBACK`, `PACKET_USER`, …).
    case other = 255

    /// The direction as `tcpdump` prints it (`In`, `Out`, …).
    public var description: String {
        switch self {
        case .incoming: return "In"
        case .broadcast: return "B"
        case .multicast: return "M"
        case .otherHost: return "P"
        case .outgoing: return "Out"
        case .other: return "?"
        }
    }
}

/// One frame seen by a ``Capture``.
public struct CapturedPacket: Sendable, Hashable {
    /// When the capture thread read it, in seconds since the Unix epoch (`CLOCK_REALTIME`).
    public var timestamp: Double
    /// The frame from its link-layer (Ethernet) header, cut at the snap length.
    public var bytes: [UInt8]
    /// The frame's length on the wire (more than `bytes.count` when truncated).
    public var originalLength: Int
    /// Which way it went.
    public var direction: PacketDirection
    /// The interface index it was seen on (in the capture's namespace).
    public var interfaceIndex: Int32
    /// The link-layer protocol from `sll_protocol` (an EtherType such as 0x0800).
    public var linkProtocol: UInt16

    /// A packet with these values; `originalLength` defaults to the number of `bytes` (nothing truncated).
    public init(timestamp: Double, bytes: [UInt8], originalLength: Int? = nil, direction: PacketDirection = .incoming,
                interfaceIndex: Int32 = 0, linkProtocol: UInt16 = 0) {
        self.timestamp = timestamp
        self.bytes = bytes
        self.originalLength = originalLength ?? bytes.count
        self.direction = direction
        self.interfaceIndex = interfaceIndex
        self.linkProtocol = linkProtocol
    }
}

/// A packet capture on one interface of a namespace.
///
/// An `AF_PACKET`/`SOCK_RAW` socket for `ETH_P_ALL`, created inside the namespace and
/// bound to the interface by index, read by a pthread of its own (created from the
/// caller's thread, in this process's namespace). Frames are kept in memory up to
/// `maxPackets`; later ones are counted in ``dropped``.
///
/// Equivalent to `ip netns exec NS tcpdump -i IFNAME -s SNAPLEN -c MAXPACKETS -w FILE`.
/// - Important: start it outside `NetworkNamespace.run {}`.
public final class Capture: @unchecked Sendable {
    /// The interface captured on.
    public let interface: String
    /// The namespace it is in.
    public let namespace: NetworkNamespace
    /// Its index in that namespace.
    public let interfaceIndex: Int32

    private let core: Core
    private var thread = pthread_t()
    private let finished = Mutex<[CapturedPacket]?>(nil)

    final class Core: @unchecked Sendable {
        let fd: Int32
        let wakeRead: Int32
        let wakeWrite: Int32
        let maxPackets: Int
        let snapLength: Int
        let deadline: Double
        let state = Mutex((packets: [CapturedPacket](), dropped: 0))
        init(fd: Int32, wake: [Int32], maxPackets: Int, snapLength: Int, deadline: Double) {
            self.fd = fd; wakeRead = wake[0]; wakeWrite = wake[1]
            self.maxPackets = maxPackets; self.snapLength = snapLength; self.deadline = deadline
        }
    }

    /// Starts capturing on `ifname` inside `ns`.
    /// - Parameters:
    ///   - ifname: the interface name in `ns` (`lo` works too).
    ///   - ns: its namespace.
    ///   - maxPackets: frames kept at most; the rest are counted as dropped.
    ///   - snapLength: bytes kept per frame.
    ///   - lifetime: seconds after which the reader stops on its own (frames still queued are read at ``stop()``).
    /// - Throws: `ArgumentError` for a limit out of range; the rtnetlink error when the
    ///   interface does not exist; ``ProbeError`` when the socket fails.
    public static func start(on ifname: String, in ns: NetworkNamespace, maxPackets: Int = 10_000,
                             snapLength: Int = 65_535, lifetime: Double = 300) throws -> Capture {
        precondition(!NamespaceWorker.threadIDs.contains(currentThreadID()),
                     "Capture.start must not run on the namespace worker")
        guard (1...1_000_000).contains(maxPackets) else { throw ArgumentError("capture maxPackets \(maxPackets)", "must be 1...1000000") }
        guard (64...262_144).contains(snapLength) else { throw ArgumentError("capture snapLength \(snapLength)", "must be 64...262144 bytes") }
        let index = try ns.socket.link(named: ifname).index
        let what = "packet capture on \(ifname) in ns \(ns.label)"
        let fd = try Sock.open(in: ns, family: AF_PACKET, type: Int32(SOCK_RAW.rawValue),
                               proto: Int32(K.ethPAll.bigEndian), what: what) { fd in
            // A large receive buffer so a burst is not lost before the reader runs.
            var size: Int32 = 4 << 20
            if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, 4) != 0 {
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4)
            }
            // struct sockaddr_ll { u16 family; be16 protocol; i32 ifindex; u16 hatype; u8 pkttype; u8 halen; u8 addr[8]; }
            var sll = [UInt8](repeating: 0, count: 20)
            withUnsafeBytes(of: UInt16(AF_PACKET)) { sll.replaceSubrange(0..<2, with: $0) }
            withUnsafeBytes(of: K.ethPAll.bigEndian) { sll.replaceSubrange(2..<4, with: $0) }
            withUnsafeBytes(of: index) { sll.replaceSubrange(4..<8, with: $0) }
            try sys("bind \(what)") {
                sll.withUnsafeBytes { Glibc.bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), 20) }
            }
        }
        do {
            Sock.setNonBlocking(fd)
            var wake: [Int32] = [-1, -1]
            try sys("pipe2(O_CLOEXEC)") { cnl_pipe_cloexec(&wake) }
            for f in wake { Sock.setNonBlocking(f) }
            let core = Core(fd: fd, wake: wake, maxPackets: maxPackets, snapLength: snapLength,
                            deadline: monotonicNow() + lifetime)
            let c = Capture(interface: ifname, ns: ns, index: index, core: core)
            try c.launch()
            return c
        } catch {
            close(fd)
            throw error
        }
    }

    private init(interface: String, ns: NetworkNamespace, index: Int32, core: Core) {
        self.interface = interface; namespace = ns; interfaceIndex = index; self.core = core
    }

    private func launch() throws {
        let core = self.core
        do {
            thread = try startThread { Capture.read(core) }
        } catch {
            close(core.wakeRead); close(core.wakeWrite)
            throw SystemCallError("pthread_create for the capture", errno: (error as? SystemCallError)?.errno ?? .resourceTemporarilyUnavailable)
        }
    }

    /// Frames not kept because ``CapturedPacket`` storage was full.
    public var dropped: Int { core.state.withLock { $0.dropped } }

    /// Frames captured so far (a snapshot; the capture keeps running).
    public var packets: [CapturedPacket] { core.state.withLock { $0.packets } }

    /// Stops the capture, reads what is still queued in the socket, and returns every frame kept.
    /// Idempotent: later calls return the same frames.
    @discardableResult
    public func stop() -> [CapturedPacket] {
        if let done = finished.withLock({ $0 }) { return done }
        var one: UInt8 = 1
        _ = write(core.wakeWrite, &one, 1)
        pthread_join(thread, nil)
        Capture.drain(core)
        close(core.fd)
        close(core.wakeRead)
        close(core.wakeWrite)
        let packets = core.state.withLock { $0.packets }
        finished.withLock { $0 = packets }
        return packets
    }

    deinit { stop() }

    // MARK: The reader thread

    private static func read(_ core: Core) {
        while true {
            let left = core.deadline - monotonicNow()
            if left <= 0 { return }
            var fds = [pollfd(fd: core.wakeRead, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: core.fd, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, Int32(min(left, 1) * 1000) + 1)
            if n < 0 && errno != EINTR { return }
            if n <= 0 { continue }
            if fds[0].revents != 0 { return }
            if fds[1].revents != 0 { drain(core) }
        }
    }

    /// Reads every queued frame (bounded per call).
    private static func drain(_ core: Core) {
        var buf = [UInt8](repeating: 0, count: core.snapLength)
        var sll = [UInt8](repeating: 0, count: 20)
        for _ in 0..<100_000 {
            var len = socklen_t(20)
            let n = buf.withUnsafeMutableBytes { b in
                sll.withUnsafeMutableBytes { s in
                    recvfrom(core.fd, b.baseAddress, b.count, Int32(MSG_TRUNC), s.baseAddress!.assumingMemoryBound(to: sockaddr.self), &len)
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let kept = min(n, buf.count)
            let proto = UInt16(sll[2]) << 8 | UInt16(sll[3])
            let index = sll.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) }
            let packet = CapturedPacket(timestamp: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9,
                                        bytes: Array(buf[0..<kept]), originalLength: n,
                                        direction: PacketDirection(rawValue: sll[10]) ?? .other,
                                        interfaceIndex: index, linkProtocol: proto)
            core.state.withLock { s in
                if s.packets.count < core.maxPackets { s.packets.append(packet) } else { s.dropped += 1 }
            }
        }
    }
}

/// Captures on an interface while `body` runs and returns what was seen.
///
/// After `body` returns, waits `settle` seconds so frames still in flight arrive, then stops.
/// Equivalent to running `tcpdump -i IFNAME` around the body.
/// - Throws: what `start` or `body` throws (the capture is stopped either way).
public func withCapture(on ifname: String, in ns: NetworkNamespace, maxPackets: Int = 10_000, settle: Double = 0.02,
                        _ body: () async throws -> Void) async throws -> [CapturedPacket] {
    let capture = try Capture.start(on: ifname, in: ns, maxPackets: maxPackets)
    do {
        try await body()
    } catch {
        capture.stop()
        throw error
    }
    if settle > 0 { try? await Task.sleep(nanoseconds: UInt64(min(settle, 10) * 1e9)) }
    return capture.stop()
}
