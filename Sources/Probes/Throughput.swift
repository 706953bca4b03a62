import Glibc
import CNetlink
import Namespaces
import Netlink
import SystemPackage
import Synchronization

/// What a bounded bulk TCP transfer measured.
public struct ThroughputResult: Sendable, Hashable, CustomStringConvertible {
    /// Bytes the sink received.
    public var bytes: Int
    /// Bytes the transfer was meant to carry.
    public var requested: Int
    /// Seconds from the sink's first received byte to its last (the end of the stream, or the time limit).
    public var seconds: Double
    /// True when the time limit ended the transfer before every byte arrived.
    public var timedOut: Bool

    /// The measured rate in Mbit/s (10⁶ bits per second); 0 when nothing, or a single read, arrived.
    public var megabitsPerSecond: Double { seconds > 0 ? Double(bytes) * 8 / seconds / 1e6 : 0 }

    /// `2000000 bytes in 1.62 s: 9.88 Mbit/s`, plus a note when the time limit cut the transfer.
    public var description: String {
        let mbit = (megabitsPerSecond * 100).rounded() / 100
        let s = (seconds * 1000).rounded() / 1000
        return "\(bytes) bytes in \(s) s: \(mbit) Mbit/s"
            + (timedOut ? " (time limit reached after \(bytes) of \(requested) bytes)" : "")
    }
}

/// Measures TCP throughput from one namespace to another: a sink listens on `address:port` in
/// `sinkNamespace` and discards what it reads; a sender in `ns` connects and writes `bytes`
/// bytes, then half-closes. The rate is measured at the sink, from its first byte to its last.
///
/// Bounded in bytes (at most 1 GB) and time (`timeLimit` seconds for the whole transfer; a cut
/// transfer reports the bytes that arrived, with ``ThroughputResult/timedOut`` set).
/// - Parameters:
///   - address: the sink's address (an address of `sinkNamespace`).
///   - port: the sink's TCP port.
///   - ns: the sender's namespace.
///   - sinkNamespace: the namespace the sink listens in.
///   - source: a local address for the sender to bind.
///   - bytes: how many bytes to send (1…10⁹).
///   - timeLimit: the longest the transfer may take, in seconds (0.1…600).
/// - Throws: `ArgumentError` for bounds out of range; ``ProbeError`` when the sink cannot listen
///   (`EADDRINUSE`, `EADDRNOTAVAIL`) or the sender cannot connect (its errno).
///
/// Equivalent to `ip netns exec SINK nc -l PORT >/dev/null & head -c BYTES /dev/zero | ip netns exec NS nc -N ADDRESS PORT`.
/// - Important: both ends run on threads of their own; the cooperative pool is not blocked.
public func measureThroughput(to address: IPAddress, port: UInt16, from ns: NetworkNamespace,
                              sinkNamespace: NetworkNamespace, source: IPAddress? = nil,
                              bytes: Int, timeLimit: Double = 10) async throws -> ThroughputResult {
    guard (1...1_000_000_000).contains(bytes) else { throw ArgumentError("throughput bytes \(bytes)", "must be 1...1000000000") }
    guard timeLimit >= 0.1 && timeLimit <= 600 else {
        throw ArgumentError("throughput time limit \(timeLimit)", "must be 0.1...600 seconds")
    }
    let what = "throughput sink on \(address.bracketed):\(port) in ns \(sinkNamespace.label)"
    let listener = try Sock.open(in: sinkNamespace, family: Sock.family(address), type: Int32(SOCK_STREAM.rawValue),
                                 proto: 0, what: what) { fd in
        try Sock.setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
        try Sock.bind(fd, address, port: port, "bind \(what)")
        try sys("listen \(what)") { listen(fd, 4) }
    }
    Sock.setNonBlocking(listener)
    let deadline = monotonicNow() + timeLimit
    let senderFailed = ThroughputSink.Flag()
    // The sink's thread starts now, before the sender: a child task (`async let`) would wait for
    // a thread of the cooperative pool, and on a busy pool it started after the deadline (the
    // sender filled the socket buffers, nobody read them, 0 bytes measured).
    let sinkResult = Mutex<Result<ThroughputResult, Error>?>(nil)
    let sinkThread: pthread_t
    do {
        sinkThread = try startThread {
            defer { close(listener) }
            let r = Result { try ThroughputSink.run(listener, deadline: deadline, requested: bytes, what: what, abandon: senderFailed) }
            sinkResult.withLock { $0 = r }
        }
    } catch {
        close(listener)
        throw error
    }
    let sent: Result<Void, Error>
    do {
        try await onOwnThread {
            try ThroughputSender.run(to: address, port: port, in: ns, source: source, bytes: bytes, deadline: deadline)
        }
        sent = .success(())
    } catch {
        sent = .failure(error)
        senderFailed.set()   // the sink stops waiting for a connection that will not come
    }
    _ = try? await onOwnThread { pthread_join(sinkThread, nil) }
    let result = try sinkResult.withLock { $0 ?? .failure(SystemCallError(what, errno: .interrupted)) }.get()
    if case .failure(let e) = sent, result.bytes == 0 { throw e }
    return result
}

enum ThroughputSink {
    /// Set when the sender gave up, so the sink stops waiting for its connection.
    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Accepts one connection and reads it to its end or the deadline.
    static func run(_ listener: Int32, deadline: Double, requested: Int, what: String, abandon: Flag) throws -> ThroughputResult {
        var conn: Int32 = -1
        while conn < 0 {
            let left = deadline - monotonicNow()
            if left <= 0 || abandon.isSet { return ThroughputResult(bytes: 0, requested: requested, seconds: 0, timedOut: left <= 0) }
            if Sock.wait(listener, Int16(POLLIN), seconds: min(left, 0.1)) == 0 { continue }
            conn = accept(listener, nil, nil)
            if conn < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNABORTED {
                throw SystemCallError("accept \(what)", errno: Errno(rawValue: errno))
            }
        }
        defer { close(conn) }
        Sock.setNonBlocking(conn)
        var buf = [UInt8](repeating: 0, count: 1 << 17)
        var total = 0
        var first: Double?
        var last = 0.0
        var timedOut = false
        // Bounded by the deadline: every wait ends by it.
        while true {
            let left = deadline - monotonicNow()
            if left <= 0 { timedOut = true; break }
            if Sock.wait(conn, Int16(POLLIN), seconds: left) == 0 { continue }
            let n = buf.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                let now = monotonicNow()
                if first == nil { first = now }
                last = now
                total += n
                continue
            }
            if n == 0 { break }
            let e = errno
            if e == EAGAIN || e == EINTR { continue }
            throw SystemCallError("recv \(what)", errno: Errno(rawValue: e))
        }
        return ThroughputResult(bytes: total, requested: requested, seconds: first.map { last - $0 } ?? 0, timedOut: timedOut)
    }
}

enum ThroughputSender {
    /// Connects, writes `bytes` zero bytes (in 64 KB chunks) before the deadline, half-closes.
    static func run(to address: IPAddress, port: UInt16, in ns: NetworkNamespace, source: IPAddress?, bytes: Int,
                    deadline: Double) throws {
        let what = "throughput sender to \(address.bracketed):\(port) in ns \(ns.label)"
        let fd: Int32
        switch try TCPClient.connect(to: address, port: port, in: ns, source: source,
                                     timeout: max(0.1, deadline - monotonicNow())) {
        case .connected(let f): fd = f
        case .failed(.refused): throw SystemCallError(what, errno: .connectionRefused)
        case .failed(.timedOut): throw SystemCallError(what, errno: .timedOut)
        case .failed(.unreachable(let e)): throw SystemCallError(what, errno: e)
        case .failed(.open): preconditionFailure("unreachable")
        }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 1 << 16)
        var left = bytes
        while left > 0 && monotonicNow() < deadline {
            let piece = left >= chunk.count ? chunk : Array(chunk[0..<left])
            do {
                try writeAll(fd, piece, deadline: deadline, what: what)
            } catch let e as SystemCallError where e.errno == .timedOut {
                break
            }
            left -= piece.count
        }
        _ = shutdown(fd, Int32(SHUT_WR))
        // Wait for the sink to close (it has read everything), so the socket is not reset early.
        var b = [UInt8](repeating: 0, count: 256)
        while monotonicNow() < deadline {
            if Sock.wait(fd, Int16(POLLIN), seconds: deadline - monotonicNow()) == 0 { continue }
            let n = b.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { break }
        }
    }
}
