import Glibc
import CNetlink
import Netlink
import Synchronization
import SystemPackage

/// A `NETLINK_ROUTE` socket bound to one network namespace.
///
/// Opened inside its namespace (on the ``NamespaceWorker``), then used from any
/// thread: the socket keeps its namespace. Extended acks, strict checking and
/// capped acks are on; the receive buffer is large so that pipelined acks fit.
///
/// Requests are pipelined: ``execute(_:)`` writes a batch of requests (each with
/// `NLM_F_ACK` and its own sequence number) before reading the acknowledgements,
/// and matches each ack to its request. Dumps detect `NLM_F_DUMP_INTR` and retry.
public final class RTNetlinkSocket: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    /// The `NETLINK_ROUTE` socket's descriptor, bound in the namespace it was opened in.
    public let fd: Int32
    private var sequence: UInt32
    /// How many requests may be in flight before acks are read (bounded by the receive buffer).
    public let window: Int
    /// The namespace's label for error messages (e.g. `ns h1`).
    public var label: String
    private let interruptedCount = Atomic<Int>(0)
    /// How many dump attempts the kernel flagged as interrupted (`NLM_F_DUMP_INTR`) and
    /// this socket therefore threw away and retried (or gave up on). For tests and diagnostics.
    public var interruptedDumps: Int { interruptedCount.load(ordering: .relaxed) }

    /// Opens a socket in the calling thread's namespace.
    /// - Important: call on a thread inside the wanted namespace (see ``NamespaceWorker``).
    public init(label: String = "") throws {
        let fd = try sys("socket(AF_NETLINK, NETLINK_ROUTE)") {
            socket(AF_NETLINK, Int32(SOCK_RAW.rawValue | SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        }
        self.fd = fd
        self.label = label
        self.sequence = UInt32.random(in: 1..<(1 << 30))
        var one: Int32 = 1
        let sz = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, NetlinkSocketOption.level, NetlinkSocketOption.extAck, &one, sz)
        _ = setsockopt(fd, NetlinkSocketOption.level, NetlinkSocketOption.capAck, &one, sz)
        _ = setsockopt(fd, NetlinkSocketOption.level, NetlinkSocketOption.getStrictCheck, &one, sz)
        // A big receive buffer: RCVBUFFORCE needs CAP_NET_ADMIN in the initial user namespace;
        // rootless, fall back to what rmem_max allows.
        var want: Int32 = 8 << 20
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sz) != 0 {
            want = 4 << 20
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sz)
        }
        var sndbuf: Int32 = 1 << 20
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sz) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sz)
        }
        var got: Int32 = 0
        var len = sz
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len)
        // An ack costs about 1 KiB of receive-buffer truesize; keep half the buffer free.
        window = max(16, Int(got) / 2048)
        // Never hang on a lost reply.
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_nl()
        addr.nl_family = sa_family_t(AF_NETLINK)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        if rc != 0 {
            let e = errno
            close(fd)
            throw SystemCallError("bind(AF_NETLINK)", SystemPackage.Errno(rawValue: e))
        }
    }

    deinit { close(fd) }

    // MARK: Pipelined requests

    /// Sends every request and waits for all acknowledgements, pipelined.
    /// - Returns: one entry per request: nil on success, or the kernel's error.
    public func executeCollecting(_ requests: [NetlinkRequest]) throws -> [NetlinkError?] {
        try lock.withLock { _ in
            var results = [NetlinkError?](repeating: nil, count: requests.count)
            var start = 0
            while start < requests.count {
                // One chunk: as many requests as fit the window and the send buffer.
                var out: [UInt8] = []
                out.reserveCapacity(64 << 10)
                var seqToIndex: [UInt32: Int] = [:]
                var end = start
                while end < requests.count && end - start < window && out.count < (48 << 10) {
                    let seq = nextSequence()
                    // Every request must be acknowledged, or the wait below would never end
                    // (a `get` or a request built without `.ack` otherwise gets no NLMSG_ERROR).
                    var r = requests[end]
                    r.flags.insert(.ack)
                    r.encode(into: &out, sequence: seq)
                    seqToIndex[seq] = end
                    end += 1
                }
                try sendAll(out)
                var pending = end - start
                while pending > 0 {
                    for m in try receive() {
                        guard let idx = seqToIndex[m.sequence] else { continue } // stale or foreign
                        if m.type == NLMsg.error {
                            let (err, ack) = try m.decodeError()
                            if let err { results[idx] = makeError(err, ack, requests[idx]) }
                            seqToIndex[m.sequence] = nil
                            pending -= 1
                        }
                        // Other replies (echoes) are ignored here.
                    }
                }
                start = end
            }
            return results
        }
    }

    /// Sends every request, pipelined, and throws the first kernel error (in request order).
    public func execute(_ requests: [NetlinkRequest]) throws {
        if let e = try executeCollecting(requests).lazy.compactMap({ $0 }).first { throw e }
    }

    /// Sends one request and waits for its ack.
    public func execute(_ request: NetlinkRequest) throws { try execute([request]) }

    // MARK: Requests with replies

    /// Sends a request that gets one reply message (a `get`), and returns that message.
    public func get(_ request: NetlinkRequest) throws -> NetlinkMessage {
        try lock.withLock { _ in
            let seq = nextSequence()
            try sendAll(request.encoded(sequence: seq))
            while true {
                for m in try receive() where m.sequence == seq {
                    if m.type == NLMsg.error {
                        let (err, ack) = try m.decodeError()
                        if let err { throw makeError(err, ack, request) }
                        continue
                    }
                    return m
                }
            }
        }
    }

    /// Runs a dump and returns every message of it, retrying when the kernel flags it
    /// as interrupted (`NLM_F_DUMP_INTR`) up to `attempts` times.
    /// - Throws: ``NetlinkError`` (errors inside `NLMSG_DONE` included) or ``InconsistentDumpError``.
    public func dump(_ request: NetlinkRequest, attempts: Int = 8) throws -> [NetlinkMessage] {
        try lock.withLock { _ in
            for _ in 0..<attempts {
                let seq = nextSequence()
                try sendAll(request.encoded(sequence: seq))
                var out: [NetlinkMessage] = []
                var interrupted = false
                reading: while true {
                    for m in try receive() where m.sequence == seq {
                        if m.flags.contains(.dumpInterrupted) { interrupted = true }
                        switch m.type {
                        case NLMsg.done:
                            let (err, ack) = try m.decodeDone()
                            if let err { throw makeError(err, ack, request) }
                            break reading
                        case NLMsg.error:
                            let (err, ack) = try m.decodeError()
                            if let err { throw makeError(err, ack, request) }
                            break reading
                        default:
                            out.append(m)
                        }
                    }
                }
                if !interrupted { return out }
                interruptedCount.add(1, ordering: .relaxed)
            }
            throw InconsistentDumpError(what: request.what + (label.isEmpty ? "" : " in \(label)"), attempts: attempts)
        }
    }

    // MARK: Notifications

    /// Joins an rtnetlink multicast group (`RTNLGRP_*`) to receive change notifications.
    public func subscribe(group: UInt32) throws {
        var g = group
        try sys("setsockopt(NETLINK_ADD_MEMBERSHIP)") {
            setsockopt(fd, NetlinkSocketOption.level, NetlinkSocketOption.addMembership, &g, socklen_t(4))
        }
    }

    /// Waits up to `timeout` seconds for messages (notifications). Returns an empty array on timeout.
    public func waitForMessages(timeout: Double) throws -> [NetlinkMessage] {
        try lock.withLock { _ in
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = try sys("poll") { poll(&p, 1, Int32(max(0, timeout * 1000))) }
            if n == 0 { return [] }
            return try receive()
        }
    }

    // MARK: Internals

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        if sequence == 0 { sequence = 1 }
        return sequence
    }

    private func makeError(_ err: Errno, _ ack: ExtendedAck, _ r: NetlinkRequest) -> NetlinkError {
        NetlinkError(errno: err, kernelMessage: ack.message,
                     attribute: ack.offset.flatMap { r.attributeName(atMessageOffset: Int($0)) },
                     request: RTM.name(r.type), what: r.what + (label.isEmpty ? "" : " in \(label)"))
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let n = try bytes.withUnsafeBytes { raw in
            try withUnsafePointer(to: &kernel) { kp in
                try kp.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try sys("sendto(netlink\(label.isEmpty ? "" : ", \(label)"))") {
                        sendto(fd, raw.baseAddress, raw.count, 0, sa, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
        precondition(n == bytes.count, "short netlink send")
    }

    private func receive() throws -> [NetlinkMessage] {
        // One datagram per call. The kernel never sends one larger than 32 KiB (dump skbs are
        // capped there), so a 64 KiB scratch buffer is enough; MSG_TRUNC reports a longer one.
        // The buffer is temporary: 200 namespaces must not each keep one (peak RSS).
        let size = 64 << 10
        return try withUnsafeTemporaryAllocation(byteCount: size, alignment: 16) { raw in
            let n = try sys("recv(netlink\(label.isEmpty ? "" : ", \(label)"))") {
                recv(fd, raw.baseAddress, raw.count, Int32(MSG_TRUNC))
            }
            guard n <= size else {
                throw NetlinkDecodingError.truncated(what: "netlink datagram", need: n, have: size)
            }
            return try NetlinkMessage.parse(Array(UnsafeRawBufferPointer(rebasing: raw[0..<n])))
        }
    }
}
